// Tight (rfbproto "Tight Encoding", number 7). A rectangle starts with a
// compression-control byte: bits 0–3 ask the client to reset zlib streams 0–3 before
// anything else, and the high nibble picks the method:
//   8     fill: one TPIXEL for the whole rectangle;
//   9     JPEG: a compact length and a JFIF file;
//   0–7   basic: bits 4–5 name the zlib stream, bit 6 says a filter id byte follows
//         (copy, palette with its colours, or gradient); then the filtered data, as is when
//         it is under 12 bytes, else as a compact length and that much zlib data.
// TPIXEL is a full PIXEL except for 32 bpp depth 24 true colour with 8-bit channels, where
// it is 3 bytes R, G, B in that order whatever the pixel format's shifts or byte order
// (rfbproto; TigerVNC and libvncserver agree). So it is not ZRLE's CPIXEL, which keeps the
// pixel's own byte order.
//
// Nothing is consumed until a rectangle's whole payload is queued: every length is known
// from the header, and decoding it in one go keeps the zlib streams and resets in step.

import type { ByteQueue } from "../byte-queue.js";
import { Encoding } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { PixelConverter } from "../pixel-format.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";
import { BLOCK_PIXELS, maxCompressedLength } from "./zlib.js";

/** rfbproto: rectangles using basic compression are at most 2048 pixels wide. */
export const TIGHT_MAX_WIDTH = 2048;
/** Basic-compression data shorter than this is sent as is, with neither length nor zlib. */
const MIN_TO_COMPRESS = 12;

/** The compression-control byte's high nibble for the methods other than basic. */
export const TightMethod = { Fill: 8, Jpeg: 9, Png: 10 } as const;

const FILTER_COPY = 0;
const FILTER_PALETTE = 1;
const FILTER_GRADIENT = 2;
const EXPLICIT_FILTER = 0x40;
const OPAQUE = 0xff000000;

/** Bytes per TPIXEL in the connection's pixel format. */
export function tpixelBytes(pixels: PixelConverter): number {
  const pf = pixels.format;
  const rgb24 =
    pf.trueColour &&
    pf.bitsPerPixel === 32 &&
    pf.depth === 24 &&
    pf.redMax === 255 &&
    pf.greenMax === 255 &&
    pf.blueMax === 255;
  return rgb24 ? 3 : pixels.bytesPerPixel;
}

/** The canonical value of the TPIXEL at `src[at]`, `tpx` bytes long. */
export function readTPixel(pixels: PixelConverter, tpx: number, src: Uint8Array, at: number): number {
  if (tpx !== 3) return pixels.read(src, at);
  return (OPAQUE | ((src[at] ?? 0) << 16) | ((src[at + 1] ?? 0) << 8) | (src[at + 2] ?? 0)) >>> 0;
}

function convertTPixels(
  pixels: PixelConverter,
  tpx: number,
  src: Uint8Array,
  at: number,
  dst: Uint32Array,
  dstAt: number,
  count: number,
): void {
  if (tpx !== 3) {
    pixels.convert(src, at, dst, dstAt, count);
    return;
  }
  for (let i = dstAt, s = at, end = dstAt + count; i < end; i++, s += 3)
    dst[i] = OPAQUE | ((src[s] ?? 0) << 16) | ((src[s + 1] ?? 0) << 8) | (src[s + 2] ?? 0);
}

/**
 * How many bytes the compact length at `offset` takes (1–3), or 0 while they have not all
 * arrived. Each of the first two bytes carries 7 bits, low first, and a continuation bit;
 * the third carries 8.
 */
export function compactLengthSize(q: ByteQueue, offset: number): number {
  if (!q.has(offset + 1)) return 0;
  if ((q.peekU8(offset) & 0x80) === 0) return 1;
  if (!q.has(offset + 2)) return 0;
  if ((q.peekU8(offset + 1) & 0x80) === 0) return 2;
  return q.has(offset + 3) ? 3 : 0;
}

/** The compact length of `size` bytes at `offset` (see compactLengthSize). */
export function peekCompactLength(q: ByteQueue, offset: number, size: number): number {
  let v = q.peekU8(offset) & 0x7f;
  if (size > 1) v |= (q.peekU8(offset + 1) & 0x7f) << 7;
  if (size > 2) v |= q.peekU8(offset + 2) << 14;
  return v;
}

/** A fill rectangle: the control byte, then one TPIXEL. */
export function decodeFill(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
  const tpx = tpixelBytes(ctx.pixels);
  if (!q.has(1 + tpx)) return false;
  const px = readTPixel(ctx.pixels, tpx, q.peekBytes(tpx, 1), 0);
  q.skip(1 + tpx);
  ctx.framebuffer.fillRect(rect.x, rect.y, rect.width, rect.height, px);
  return true;
}

/** A JPEG or PNG rectangle: the control byte, a compact length, then the image file. */
export function decodeImage(q: ByteQueue, rect: Rect, ctx: DecoderContext, kind: "JPEG" | "PNG"): boolean {
  const images = ctx.images;
  if (images === null)
    throw new ProtocolError("unsupported", `the server sent a ${kind} rectangle, and no image decoder is available`);
  const size = compactLengthSize(q, 1);
  if (size === 0) return false;
  const length = peekCompactLength(q, 1, size);
  if (!q.has(1 + size + length)) return false;
  const file = q.peekBytes(length, 1 + size);
  const scratch = (n: number) => ctx.scratch(n);
  const image = kind === "JPEG" ? images.decodeJpeg(file, scratch) : images.decodePng(file, scratch);
  const { width: w, height: h } = rect;
  if (image.width !== w || image.height !== h)
    throw new ProtocolError("malformed", `a ${w}×${h} rectangle holds a ${image.width}×${image.height} ${kind} image`);
  q.skip(1 + size + length);
  if (w > 0 && h > 0) ctx.framebuffer.putPixels(rect.x, rect.y, w, h, image.pixels, 0, w);
  return true;
}

function resetStreams(ctx: DecoderContext, control: number): void {
  for (let i = 0; i < 4; i++) if (control & (1 << i)) ctx.inflater(Encoding.Tight, i).reset();
}

export class TightDecoder implements RectDecoder {
  readonly #palette = new Uint32Array(256);
  /** The gradient filter's reconstructed channel values of the row above and this row. */
  #above = new Int32Array(TIGHT_MAX_WIDTH * 3);
  #row = new Int32Array(TIGHT_MAX_WIDTH * 3);

  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    if (!q.has(1)) return false;
    const control = q.peekU8();
    const method = control >> 4;
    let done: boolean;
    if (method === TightMethod.Fill) done = decodeFill(q, rect, ctx);
    else if (method === TightMethod.Jpeg) done = decodeImage(q, rect, ctx, "JPEG");
    else if (method > TightMethod.Jpeg)
      throw new ProtocolError("malformed", `Tight compression method ${method} is not defined`);
    else return this.#basic(q, rect, ctx, control);
    if (done) resetStreams(ctx, control);
    return done;
  }

  reset(): void {
    // Nothing is kept between calls: a rectangle is decoded only once all of it is queued.
  }

  #basic(q: ByteQueue, rect: Rect, ctx: DecoderContext, control: number): boolean {
    const { width: w, height: h } = rect;
    if (w > TIGHT_MAX_WIDTH)
      throw new ProtocolError("malformed", `a Tight rectangle ${w} pixels wide exceeds ${TIGHT_MAX_WIDTH}`);
    const pixels = ctx.pixels;
    const tpx = tpixelBytes(pixels);
    let at = 1;
    let filter = FILTER_COPY;
    if (control & EXPLICIT_FILTER) {
      if (!q.has(2)) return false;
      filter = q.peekU8(1);
      at = 2;
    }
    let colours = 0;
    let paletteAt = 0;
    if (filter === FILTER_PALETTE) {
      if (!q.has(at + 1)) return false;
      colours = q.peekU8(at) + 1;
      if (colours < 2) throw new ProtocolError("malformed", "a Tight palette has a single colour");
      paletteAt = at + 1;
      at = paletteAt + colours * tpx;
    } else if (filter === FILTER_GRADIENT) {
      // rfbproto defines the gradient filter for 16 and 32 bpp true colour only.
      if (!pixels.format.trueColour || pixels.bytesPerPixel === 1)
        throw new ProtocolError("malformed", "the Tight gradient filter needs a 16 or 32 bpp true-colour format");
    } else if (filter !== FILTER_COPY) {
      throw new ProtocolError("malformed", `Tight filter ${filter} is not defined`);
    }
    // Two colours pack 8 pixels a byte, most significant bit first, each row padded.
    const rowBytes = colours === 0 ? w * tpx : colours === 2 ? (w + 7) >> 3 : w;
    const size = rowBytes * h;
    let data: Uint8Array;
    let total: number;
    if (size < MIN_TO_COMPRESS) {
      total = at + size;
      if (!q.has(total)) return false;
      resetStreams(ctx, control);
      data = q.peekBytes(size, at);
    } else {
      const lengthSize = compactLengthSize(q, at);
      if (lengthSize === 0) return false;
      const length = peekCompactLength(q, at, lengthSize);
      if (length > maxCompressedLength(size))
        throw new ProtocolError("limit", `a ${w}×${h} Tight rectangle claims ${length} bytes of compressed data`);
      total = at + lengthSize + length;
      if (!q.has(total)) return false;
      resetStreams(ctx, control);
      const stream = ctx.inflater(Encoding.Tight, (control >> 4) & 3);
      data = stream.inflate(q.peekBytes(length, at + lengthSize), size);
    }
    if (colours > 0) convertTPixels(pixels, tpx, q.peekBytes(colours * tpx, paletteAt), 0, this.#palette, 0, colours);
    // `data` may alias the queue's storage, which stays intact until the next push.
    q.skip(total);
    if (w === 0 || h === 0) return true;

    if (filter === FILTER_GRADIENT) this.#above.fill(0, 0, w * 3);
    const fb = ctx.framebuffer;
    const direct = fb.pixels;
    if (direct) {
      // Straight into the framebuffer, a row at a time.
      for (let r = 0, o = rect.y * fb.width + rect.x; r < h; r++, o += fb.width)
        this.#paintRow(filter, colours, tpx, pixels, data, r * rowBytes, w, direct, o);
      return true;
    }
    const maxRows = Math.max(1, Math.floor(BLOCK_PIXELS / w));
    const buf = ctx.scratch(Math.min(h, maxRows) * w);
    for (let y = 0; y < h; y += maxRows) {
      const rows = Math.min(maxRows, h - y);
      for (let r = 0; r < rows; r++)
        this.#paintRow(filter, colours, tpx, pixels, data, (y + r) * rowBytes, w, buf, r * w);
      fb.putPixels(rect.x, rect.y + y, w, rows, buf, 0, w);
    }
    return true;
  }

  /** One row of filtered data (at `data[at]`) as `w` pixels into `out[o…]`. */
  #paintRow(
    filter: number,
    colours: number,
    tpx: number,
    pixels: PixelConverter,
    data: Uint8Array,
    at: number,
    w: number,
    out: Uint32Array,
    o: number,
  ): void {
    if (filter === FILTER_GRADIENT) {
      if (tpx === 3) this.#gradientRow24(data, at, w, out, o);
      else this.#gradientRow(pixels, data, at, w, out, o);
    } else if (colours === 0) convertTPixels(pixels, tpx, data, at, out, o, w);
    else if (colours === 2) this.#monoRow(data, at, w, out, o);
    else this.#indexedRow(data, at, w, colours, out, o);
  }

  #monoRow(data: Uint8Array, at: number, w: number, out: Uint32Array, o: number): void {
    const p0 = this.#palette[0] ?? 0;
    const p1 = this.#palette[1] ?? 0;
    let s = at;
    for (let x = 0; x < w; x += 8) {
      const bits = data[s++] ?? 0;
      const n = Math.min(8, w - x);
      for (let i = 0; i < n; i++) out[o++] = (bits << i) & 0x80 ? p1 : p0;
    }
  }

  #indexedRow(data: Uint8Array, at: number, w: number, colours: number, out: Uint32Array, o: number): void {
    const palette = this.#palette;
    for (let i = 0; i < w; i++) {
      const index = data[at + i] ?? 0;
      if (index >= colours)
        throw new ProtocolError("malformed", `Tight palette index ${index} is past the ${colours} colours`);
      out[o + i] = palette[index] ?? 0;
    }
  }

  /**
   * The gradient filter on 3-byte TPIXELs. Each channel was sent as its difference from
   * the prediction left + above − above-left (0 outside the rectangle), clamped to the
   * channel's range, all modulo 256.
   */
  #gradientRow24(data: Uint8Array, at: number, w: number, buf: Uint32Array, o: number): void {
    const above = this.#above;
    const row = this.#row;
    let lr = 0;
    let lg = 0;
    let lb = 0;
    let ar = 0;
    let ag = 0;
    let ab = 0;
    for (let x = 0, s = at, i = 0; x < w; x++, s += 3, i += 3) {
      const ur = above[i] ?? 0;
      const ug = above[i + 1] ?? 0;
      const ub = above[i + 2] ?? 0;
      const pr = Math.min(255, Math.max(0, lr + ur - ar));
      const pg = Math.min(255, Math.max(0, lg + ug - ag));
      const pb = Math.min(255, Math.max(0, lb + ub - ab));
      lr = ((data[s] ?? 0) + pr) & 255;
      lg = ((data[s + 1] ?? 0) + pg) & 255;
      lb = ((data[s + 2] ?? 0) + pb) & 255;
      row[i] = lr;
      row[i + 1] = lg;
      row[i + 2] = lb;
      ar = ur;
      ag = ug;
      ab = ub;
      buf[o + x] = OPAQUE | (lr << 16) | (lg << 8) | lb;
    }
    this.#above = row;
    this.#row = above;
  }

  /**
   * The gradient filter on full 16- or 32-bit pixels: as #gradientRow24, but on the
   * pixel format's channel values, clamped to each channel's max and modulo max + 1.
   */
  #gradientRow(pixels: PixelConverter, data: Uint8Array, at: number, w: number, buf: Uint32Array, o: number): void {
    const pf = pixels.format;
    const { redShift: rs, greenShift: gs, blueShift: bs, redMax: rm, greenMax: gm, blueMax: bm } = pf;
    const wide = pixels.bytesPerPixel === 4;
    const big = pf.bigEndian;
    const above = this.#above;
    const row = this.#row;
    let lr = 0;
    let lg = 0;
    let lb = 0;
    let ar = 0;
    let ag = 0;
    let ab = 0;
    for (let x = 0, s = at, i = 0; x < w; x++, i += 3) {
      let v: number;
      if (wide) {
        const b0 = data[s] ?? 0;
        const b1 = data[s + 1] ?? 0;
        const b2 = data[s + 2] ?? 0;
        const b3 = data[s + 3] ?? 0;
        v = big ? ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0 : ((b3 << 24) | (b2 << 16) | (b1 << 8) | b0) >>> 0;
        s += 4;
      } else {
        const b0 = data[s] ?? 0;
        const b1 = data[s + 1] ?? 0;
        v = big ? (b0 << 8) | b1 : (b1 << 8) | b0;
        s += 2;
      }
      const ur = above[i] ?? 0;
      const ug = above[i + 1] ?? 0;
      const ub = above[i + 2] ?? 0;
      const pr = Math.min(rm, Math.max(0, lr + ur - ar));
      const pg = Math.min(gm, Math.max(0, lg + ug - ag));
      const pb = Math.min(bm, Math.max(0, lb + ub - ab));
      lr = ((v >>> rs) + pr) & rm;
      lg = ((v >>> gs) + pg) & gm;
      lb = ((v >>> bs) + pb) & bm;
      row[i] = lr;
      row[i + 1] = lg;
      row[i + 2] = lb;
      ar = ur;
      ag = ug;
      ab = ub;
      buf[o + x] = pixels.fromValue(((lr << rs) | (lg << gs) | (lb << bs)) >>> 0);
    }
    this.#above = row;
    this.#row = above;
  }
}
