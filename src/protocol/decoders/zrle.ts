// ZRLE (RFC 6143 §7.7.6, encoding 16): a U32 length, then that many bytes of one
// persistent zlib stream. They inflate to the rectangle's 64×64 tiles, left to right and
// top to bottom (the last column and row narrower), each a subencoding byte and its data,
// with pixels as CPIXELs. A tile's size follows from its data, not from a header, so the
// whole payload is inflated at once (bounded by the worst case a valid encoding can reach)
// and parsed from memory.

import type { ByteQueue } from "../byte-queue.js";
import { Encoding } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";
import { maxCompressedLength } from "./zlib.js";

const TILE = 64;
const RAW = 0;
const SOLID = 1;
const MAX_PACKED_PALETTE = 16;
const PLAIN_RLE = 128;
/** 130–255: palette RLE with subencoding − 128 colours (129 is unused). */
const MIN_PALETTE_RLE = 130;

function truncated(): ProtocolError {
  return new ProtocolError("malformed", "ZRLE tile data ends early");
}

/**
 * The largest inflated size any valid encoding of a w×h rectangle can have. Per tile of n
 * pixels the worst cases are palette RLE (a 127-colour palette, then an index and a zero
 * length byte per pixel: 127·cpp + 2n) and plain RLE (a CPIXEL and a zero length byte per
 * pixel: (cpp + 1)·n), after the subencoding byte. Their sum bounds both.
 */
function worstCase(w: number, h: number, cpp: number): number {
  const tiles = Math.ceil(w / TILE) * Math.ceil(h / TILE);
  return tiles * (1 + 127 * cpp) + w * h * (cpp + 1);
}

export class ZRLEDecoder implements RectDecoder {
  readonly #palette = new Uint32Array(127);

  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    if (!q.has(4)) return false;
    const length = q.peekU32();
    const limit = worstCase(rect.width, rect.height, ctx.pixels.compactBytesPerPixel);
    if (length > maxCompressedLength(limit))
      throw new ProtocolError(
        "limit",
        `a ${rect.width}×${rect.height} ZRLE rectangle claims ${length} bytes of compressed data`,
      );
    if (!q.has(4 + length)) return false;
    // inflateAll() reports a full buffer with input left over as over the limit; the spare
    // byte lets an empty rectangle's payload (a bare sync flush) through.
    const data = ctx.inflater(Encoding.ZRLE, 0).inflateAll(q.peekBytes(length, 4), limit + 1);
    q.skip(4 + length);
    this.#draw(data, rect, ctx);
    return true;
  }

  reset(): void {
    // Nothing is kept between calls: a rectangle is decoded only once all of it is queued.
  }

  #draw(data: Uint8Array, rect: Rect, ctx: DecoderContext): void {
    const { width: w, height: h } = rect;
    if (w === 0 || h === 0) {
      if (data.length !== 0) throw new ProtocolError("malformed", "an empty ZRLE rectangle carries tile data");
      return;
    }
    const pixels = ctx.pixels;
    const cpp = pixels.compactBytesPerPixel;
    const palette = this.#palette;
    const end = data.length;
    // One row of tiles at a time, `w` pixels a row, then one putPixels for all of them.
    const strip = ctx.scratch(w * Math.min(TILE, h));
    let pos = 0;
    for (let ty = 0; ty < h; ty += TILE) {
      const th = Math.min(TILE, h - ty);
      for (let tx = 0; tx < w; tx += TILE) {
        const tw = Math.min(TILE, w - tx);
        if (pos >= end) throw truncated();
        const sub = data[pos++] ?? 0;
        if (sub === RAW) {
          if (pos + tw * th * cpp > end) throw truncated();
          for (let r = 0, o = tx; r < th; r++, o += w, pos += tw * cpp) pixels.convertCompact(data, pos, strip, o, tw);
        } else if (sub === SOLID) {
          if (pos + cpp > end) throw truncated();
          const px = pixels.readCompact(data, pos);
          pos += cpp;
          for (let r = 0, o = tx; r < th; r++, o += w) strip.fill(px, o, o + tw);
        } else if (sub <= MAX_PACKED_PALETTE) {
          pos = readPalette(data, pos, sub, ctx, palette);
          // Indices are 1, 2 or 4 bits, most significant first, each row padded to a byte.
          const bits = sub === 2 ? 1 : sub <= 4 ? 2 : 4;
          const mask = (1 << bits) - 1;
          if (pos + th * Math.ceil((tw * bits) / 8) > end) throw truncated();
          for (let r = 0, o = tx; r < th; r++, o += w) {
            let byte = 0;
            let left = 0;
            for (let i = o, rowEnd = o + tw; i < rowEnd; i++) {
              if (left === 0) {
                byte = data[pos++] ?? 0;
                left = 8;
              }
              left -= bits;
              const index = (byte >>> left) & mask;
              if (index >= sub)
                throw new ProtocolError("malformed", `ZRLE palette index ${index} is past the ${sub} colours`);
              strip[i] = palette[index] ?? 0;
            }
          }
        } else if (sub === PLAIN_RLE) {
          const n = tw * th;
          let p = 0;
          while (p < n) {
            if (pos + cpp > end) throw truncated();
            const px = pixels.readCompact(data, pos);
            pos += cpp;
            // The run length is 1 + the sum of its bytes; a byte of 255 means another follows.
            let run = 1;
            let b: number;
            do {
              if (pos >= end) throw truncated();
              b = data[pos++] ?? 0;
              run += b;
            } while (b === 255);
            if (run > n - p) throw runTooLong(run, n - p);
            p = fillRun(strip, px, p, run, tw, tx, w);
          }
        } else if (sub >= MIN_PALETTE_RLE) {
          const size = sub - 128;
          pos = readPalette(data, pos, size, ctx, palette);
          const n = tw * th;
          let p = 0;
          while (p < n) {
            if (pos >= end) throw truncated();
            const b = data[pos++] ?? 0;
            const index = b & 0x7f;
            if (index >= size)
              throw new ProtocolError("malformed", `ZRLE palette index ${index} is past the ${size} colours`);
            const px = palette[index] ?? 0;
            if ((b & 0x80) === 0) {
              // A single pixel: the common case in text, so skip the run machinery.
              strip[tx + Math.floor(p / tw) * w + (p % tw)] = px;
              p++;
              continue;
            }
            // Bit 7 set: a run of the colour, its length coded as in plain RLE.
            let run = 1;
            let l: number;
            do {
              if (pos >= end) throw truncated();
              l = data[pos++] ?? 0;
              run += l;
            } while (l === 255);
            if (run > n - p) throw runTooLong(run, n - p);
            p = fillRun(strip, px, p, run, tw, tx, w);
          }
        } else {
          throw new ProtocolError("malformed", `ZRLE subencoding ${sub} is not defined`);
        }
      }
      ctx.framebuffer.putPixels(rect.x, rect.y + ty, w, th, strip, 0, w);
    }
    if (pos !== end) throw new ProtocolError("malformed", `ZRLE data has ${end - pos} bytes after the last tile`);
  }
}

function runTooLong(run: number, remaining: number): ProtocolError {
  return new ProtocolError("malformed", `a ZRLE run of ${run} pixels overflows the ${remaining} left in its tile`);
}

/**
 * Paints `run` pixels of `px` from position `p` (counted row by row) of a tile `tw` wide
 * whose top left is `base` in a buffer `stride` pixels a row; returns the new position.
 */
function fillRun(
  buf: Uint32Array,
  px: number,
  p: number,
  run: number,
  tw: number,
  base: number,
  stride: number,
): number {
  const row = Math.floor(p / tw);
  let x = p - row * tw;
  let o = base + row * stride;
  let left = run;
  while (left > 0) {
    const k = Math.min(left, tw - x);
    const at = o + x;
    if (k < 8) for (let i = at; i < at + k; i++) buf[i] = px;
    else buf.fill(px, at, at + k);
    left -= k;
    x = 0;
    o += stride;
  }
  return p + run;
}

/** Reads `size` CPIXELs at `pos` into `palette`; returns the position after them. */
function readPalette(data: Uint8Array, pos: number, size: number, ctx: DecoderContext, palette: Uint32Array): number {
  const cpp = ctx.pixels.compactBytesPerPixel;
  if (pos + size * cpp > data.length) throw truncated();
  ctx.pixels.convertCompact(data, pos, palette, 0, size);
  return pos + size * cpp;
}
