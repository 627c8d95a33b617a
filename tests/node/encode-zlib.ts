// Hand-written encoders for the Zlib, ZRLE, Tight and TightPNG specs, written from the
// wire descriptions (RFC 6143 §7.7.6, rfbproto "Tight Encoding") independently of the
// decoders, and a driver that decodes a fixture at every split point in a context the
// spec provides (the image-codec specs need one with an ImageDecoder).

import { constants, Deflate } from "pako";

const { Z_SYNC_FLUSH } = constants;

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import type { DecodedImage, ImageDecoder, Rect, RectDecoder } from "../../src/protocol/decoders/decoder.js";
import { ProtocolError, type ProtocolErrorCode } from "../../src/protocol/errors.js";
import { PixelConverter, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { makeContext, type TestContext } from "./decoder-context.js";
import {
  blackFramebuffer,
  bytes,
  converterFor,
  expectRect,
  firstDifference,
  installColourMap,
  pixelBytes,
  u32,
} from "./encode-basic.js";
import { splits } from "./helpers.js";

/**
 * The server's end of one persistent zlib stream: every rectangle's data ends at a sync
 * flush, so the client can inflate it completely while the dictionary carries over.
 */
export class ServerStream {
  #chunks: Uint8Array[] = [];
  #deflate = this.#newDeflate();

  #newDeflate(): Deflate {
    const d = new Deflate({ level: 6 });
    d.onData = (chunk) => this.#chunks.push(chunk as Uint8Array);
    return d;
  }

  deflate(data: Uint8Array): Uint8Array {
    this.#deflate.push(data, Z_SYNC_FLUSH);
    const out = concat(this.#chunks);
    this.#chunks = [];
    return out;
  }

  /** Starts a fresh stream (what a Tight reset bit tells the client to do too). */
  reset(): void {
    this.#deflate = this.#newDeflate();
  }
}

/** Joins byte arrays of any size (bytes() spreads its arguments, so keep it to small ones). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Tight's compact length: 7 bits a byte, low first, a continuation bit, 8 in the third. */
export function compactLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x4000) return [(n & 0x7f) | 0x80, n >> 7];
  return [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14];
}

/** True when the format's CPIXEL is 3 bytes (RFC 6143 §7.7.6); only low-3-byte layouts here. */
function compactCpixel(pf: PixelFormat): boolean {
  return new PixelConverter(pf).compactBytesPerPixel === 3;
}

/** A raw value as a ZRLE CPIXEL: its low three bytes in the format's byte order. */
export function cpixelBytes(pf: PixelFormat, v: number): number[] {
  if (!compactCpixel(pf)) return pixelBytes(pf, v);
  const le = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff];
  return pf.bigEndian ? le.reverse() : le;
}

/** Whether Tight sends the format's pixels as 3-byte R, G, B TPIXELs. */
export function tightRGB(pf: PixelFormat): boolean {
  return (
    pf.trueColour &&
    pf.bitsPerPixel === 32 &&
    pf.depth === 24 &&
    [pf.redMax, pf.greenMax, pf.blueMax].every((m) => m === 255)
  );
}

/** A raw value as a Tight TPIXEL. */
export function tpixelBytes(pf: PixelFormat, v: number): number[] {
  if (!tightRGB(pf)) return pixelBytes(pf, v);
  return [(v >>> pf.redShift) & 255, (v >>> pf.greenShift) & 255, (v >>> pf.blueShift) & 255];
}

// ZRLE tiles. Each takes the tile's raw values, row by row, and returns its bytes.

export function zrleRaw(pf: PixelFormat, tile: readonly number[]): Uint8Array {
  return bytes(0, ...tile.map((v) => cpixelBytes(pf, v)));
}

export function zrleSolid(pf: PixelFormat, v: number): Uint8Array {
  return bytes(1, cpixelBytes(pf, v));
}

/** Packed palette (2–16 colours): 1, 2 or 4 bits an index, rows padded to a byte. */
export function zrlePacked(
  pf: PixelFormat,
  tile: readonly number[],
  tw: number,
  palette: readonly number[],
): Uint8Array {
  const bits = palette.length === 2 ? 1 : palette.length <= 4 ? 2 : 4;
  const out: number[] = [palette.length, ...palette.flatMap((v) => cpixelBytes(pf, v))];
  for (let y = 0; y < tile.length / tw; y++) {
    let byte = 0;
    let used = 0;
    for (let x = 0; x < tw; x++) {
      byte = (byte << bits) | palette.indexOf(tile[y * tw + x] ?? 0);
      used += bits;
      if (used === 8) {
        out.push(byte);
        byte = used = 0;
      }
    }
    if (used > 0) out.push(byte << (8 - used));
  }
  return Uint8Array.from(out);
}

function runs(tile: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of tile) {
    const last = out[out.length - 1];
    if (last?.[0] === v) last[1]++;
    else out.push([v, 1]);
  }
  return out;
}

function runLength(n: number): number[] {
  const out: number[] = [];
  let left = n - 1;
  while (left >= 255) {
    out.push(255);
    left -= 255;
  }
  out.push(left);
  return out;
}

export function zrlePlainRLE(pf: PixelFormat, tile: readonly number[]): Uint8Array {
  return bytes(128, ...runs(tile).map(([v, n]) => bytes(cpixelBytes(pf, v), runLength(n))));
}

/** Palette RLE (2–127 colours): single pixels as a bare index, runs as index | 128 + length. */
export function zrlePaletteRLE(pf: PixelFormat, tile: readonly number[], palette: readonly number[]): Uint8Array {
  const body = runs(tile).map(([v, n]) => {
    const i = palette.indexOf(v);
    return n === 1 ? [i] : [i | 0x80, ...runLength(n)];
  });
  return bytes(128 + palette.length, ...palette.map((v) => cpixelBytes(pf, v)), ...body);
}

/** The values of the tile at (tx, ty), tw×th, of a w-wide image. */
export function tileOf(img: readonly number[], w: number, tx: number, ty: number, tw: number, th: number): number[] {
  const out: number[] = [];
  for (let y = ty; y < ty + th; y++) for (let x = tx; x < tx + tw; x++) out.push(img[y * w + x] ?? 0);
  return out;
}

/** A ZRLE rectangle: the U32 length and the deflated tiles. */
export function zrleRect(stream: ServerStream, tiles: readonly Uint8Array[]): Uint8Array {
  const z = stream.deflate(concat(tiles));
  return concat([Uint8Array.from(u32(z.length)), z]);
}

// Tight.

/** Basic compression's payload: as is under 12 bytes, else compact length + zlib data. */
export function tightData(stream: ServerStream, data: Uint8Array): Uint8Array {
  if (data.length < 12) return data;
  const z = stream.deflate(data);
  return concat([Uint8Array.from(compactLength(z.length)), z]);
}

export function tightCopyData(pf: PixelFormat, img: readonly number[]): Uint8Array {
  return Uint8Array.from(img.flatMap((v) => tpixelBytes(pf, v)));
}

/** Palette filter data: 1-bit rows padded to a byte for two colours, else a byte a pixel. */
export function tightPaletteData(img: readonly number[], w: number, palette: readonly number[]): Uint8Array {
  if (palette.length > 2) return Uint8Array.from(img, (v) => palette.indexOf(v));
  const out: number[] = [];
  for (let y = 0; y < img.length / w; y++) {
    for (let x = 0; x < w; x += 8) {
      let byte = 0;
      for (let i = 0; i < 8; i++)
        byte = (byte << 1) | (x + i < w && palette.indexOf(img[y * w + x + i] ?? 0) === 1 ? 1 : 0);
      out.push(byte);
    }
  }
  return Uint8Array.from(out);
}

/**
 * Gradient filter data: each channel minus the prediction left + above − above-left
 * (0 outside the rectangle) clamped to [0, max], modulo max + 1. TPIXEL layout: R, G, B
 * bytes for 3-byte TPIXELs, else the channels at the format's shifts in a full pixel.
 */
export function tightGradientData(pf: PixelFormat, img: readonly number[], w: number): Uint8Array {
  const chans: [number, number][] = [
    [pf.redShift, pf.redMax],
    [pf.greenShift, pf.greenMax],
    [pf.blueShift, pf.blueMax],
  ];
  const at = (x: number, y: number, c: number): number => {
    if (x < 0 || y < 0) return 0;
    const [shift, max] = chans[c] ?? [0, 0];
    return ((img[y * w + x] ?? 0) >>> shift) & max;
  };
  const out: number[] = [];
  for (let y = 0; y < img.length / w; y++) {
    for (let x = 0; x < w; x++) {
      let value = 0;
      const diffs: number[] = [];
      for (let c = 0; c < 3; c++) {
        const [shift, max] = chans[c] ?? [0, 0];
        const predicted = Math.min(max, Math.max(0, at(x - 1, y, c) + at(x, y - 1, c) - at(x - 1, y - 1, c)));
        const diff = (at(x, y, c) - predicted + max + 1) & max;
        diffs.push(diff);
        value = (value | (diff << shift)) >>> 0;
      }
      out.push(...(tightRGB(pf) ? diffs : pixelBytes(pf, value)));
    }
  }
  return Uint8Array.from(out);
}

// Driving decoders.

/** Decodes `rects` back to back from the given chunks; returns the bytes left over. */
export function decodeRects(
  t: TestContext,
  decoder: RectDecoder,
  rects: readonly Rect[],
  chunks: Iterable<Uint8Array>,
): number {
  const q = new ByteQueue();
  const it = chunks[Symbol.iterator]();
  let left = 0;
  for (const rect of rects) {
    while (!decoder.decode(q, rect, t.ctx)) {
      const next = it.next();
      if (next.done === true) throw new Error(`input ran out in rectangle ${JSON.stringify(rect)}`);
      q.push(next.value);
    }
  }
  left += q.length;
  for (let next = it.next(); next.done !== true; next = it.next()) left += next.value.length;
  return left;
}

export interface ZFixture {
  readonly fbWidth: number;
  readonly fbHeight: number;
  readonly rects: readonly Rect[];
  readonly data: Uint8Array;
  readonly expected: Uint32Array;
  /** A fresh context (fresh zlib streams) for each decode; default makeContext(fb size). */
  readonly context?: () => TestContext;
  /**
   * Split only at every `stride`-th point (and the first and last 32), to keep big
   * fixtures quick once another spec has covered every point of the same layout.
   */
  readonly stride?: number;
}

/**
 * Decodes the fixture in one piece, at every split point and one byte at a time, each
 * with a fresh decoder and context, requiring the expected pixels and every byte consumed.
 */
export function expectEverySplit(f: ZFixture, makeDecoder: () => RectDecoder): void {
  const context = f.context ?? (() => makeContext(f.fbWidth, f.fbHeight));
  const stride = f.stride ?? 1;
  const n = f.data.length;
  for (const chunks of [[f.data], ...splits(f.data)]) {
    const at = chunks[0]?.length ?? 0;
    if (chunks.length === 2 && at > 32 && at < n - 32 && at % stride !== 0) continue;
    const how = chunks.length > 2 ? "byte by byte" : `split at ${chunks[0]?.length ?? 0}`;
    const t = context();
    const left = decodeRects(t, makeDecoder(), f.rects, chunks);
    const diff = firstDifference(t.fb.pixels, f.expected, f.fbWidth);
    expect(diff).withContext(how).toBeNull();
    expect(left).withContext(`${how}: bytes left unconsumed`).toBe(0);
    if (diff !== null || left !== 0) return;
  }
}

/** Expects decoding `data` as `rect` in `t` to fail with a ProtocolError of `code`. */
export function expectProtocolError(
  t: TestContext,
  decoder: RectDecoder,
  rect: Rect,
  data: Uint8Array,
  code: ProtocolErrorCode,
): void {
  expect(() => decodeRects(t, decoder, [rect], [data])).toThrowMatching(
    (e: unknown) => e instanceof ProtocolError && e.code === code,
  );
}

/** 32 bpp with 10-bit channels: full 4-byte TPIXELs, so the gradient works on wide values. */
export const PF30: PixelFormat = {
  bitsPerPixel: 32,
  depth: 30,
  bigEndian: false,
  trueColour: true,
  redMax: 1023,
  greenMax: 1023,
  blueMax: 1023,
  redShift: 20,
  greenShift: 10,
  blueShift: 0,
};

/**
 * The server side of a Tight (or TightPNG) connection: four zlib streams, and the
 * rectangles sent so far with what each should leave in the framebuffer.
 */
export class TightServer {
  readonly streams = [new ServerStream(), new ServerStream(), new ServerStream(), new ServerStream()];
  readonly rects: Rect[] = [];
  readonly #parts: Uint8Array[] = [];
  /** Raw values for the pixel format, or canonical pixels for decoded images. */
  readonly #images: (number[] | Uint32Array)[] = [];

  constructor(readonly pf: PixelFormat) {}

  /** The control byte; resets the streams named by `resets` (bits 0–3) as the client will. */
  #control(resets: number, high: number): number {
    for (let i = 0; i < 4; i++) if (resets & (1 << i)) this.streams[i]?.reset();
    return (high << 4) | resets;
  }

  #add(rect: Rect, img: number[] | Uint32Array, data: Uint8Array): this {
    this.rects.push(rect);
    this.#images.push(img);
    this.#parts.push(data);
    return this;
  }

  #stream(i: number): ServerStream {
    const s = this.streams[i];
    if (!s) throw new Error(`no stream ${i}`);
    return s;
  }

  fill(rect: Rect, v: number, resets = 0): this {
    const img = new Array<number>(rect.width * rect.height).fill(v);
    return this.#add(rect, img, bytes(this.#control(resets, 8), tpixelBytes(this.pf, v)));
  }

  /** Copy filter, implicit (no filter byte) unless `explicit`. */
  copy(rect: Rect, img: number[], stream: number, explicit = false, resets = 0): this {
    const control = this.#control(resets, stream | (explicit ? 4 : 0));
    const head = explicit ? bytes(control, 0) : bytes(control);
    return this.#add(rect, img, concat([head, tightData(this.#stream(stream), tightCopyData(this.pf, img))]));
  }

  palette(rect: Rect, img: number[], palette: readonly number[], stream: number, resets = 0): this {
    const control = this.#control(resets, stream | 4);
    const head = bytes(control, 1, palette.length - 1, ...palette.map((v) => tpixelBytes(this.pf, v)));
    const data = tightData(this.#stream(stream), tightPaletteData(img, rect.width, palette));
    return this.#add(rect, img, concat([head, data]));
  }

  gradient(rect: Rect, img: number[], stream: number, resets = 0): this {
    const head = bytes(this.#control(resets, stream | 4), 2);
    const data = tightData(this.#stream(stream), tightGradientData(this.pf, img, rect.width));
    return this.#add(rect, img, concat([head, data]));
  }

  /** A JPEG (method 9) or PNG (10) file that decodes to `pixels`. */
  image(rect: Rect, method: 9 | 10, file: Uint8Array, pixels: Uint32Array, resets = 0): this {
    return this.#add(rect, pixels, concat([bytes(this.#control(resets, method), compactLength(file.length)), file]));
  }

  get data(): Uint8Array {
    return concat(this.#parts);
  }

  expected(fbWidth: number, fbHeight: number): Uint32Array {
    const conv = converterFor(this.pf);
    let fb = blackFramebuffer(fbWidth, fbHeight);
    this.rects.forEach((r, i) => {
      const img = this.#images[i] ?? [];
      if (Array.isArray(img)) {
        fb = expectRect(fb, fbWidth, r, img, conv);
        return;
      }
      for (let y = 0; y < r.height; y++)
        for (let x = 0; x < r.width; x++) fb[(r.y + y) * fbWidth + r.x + x] = img[y * r.width + x] ?? 0;
    });
    return fb;
  }
}

/** An ImageDecoder for tests, a stand-in for the platform's: knows one JPEG and one PNG by their bytes. */
export function fakeImages(jpeg: Uint8Array, png: Uint8Array, image: DecodedImage): ImageDecoder {
  const known = (want: Uint8Array, kind: string) => (file: Uint8Array) => {
    if (file.length !== want.length || file.some((b, i) => b !== want[i]))
      throw new ProtocolError("malformed", `not the test ${kind} file`);
    return image;
  };
  return { decodeJpeg: known(jpeg, "JPEG"), decodePng: known(png, "PNG") };
}

/** A context for `pf` (with the test colour map), optionally with an image decoder. */
export function contextFor(
  pf: PixelFormat,
  w: number,
  h: number,
  images: ImageDecoder | null = null,
): () => TestContext {
  return () => {
    const t = makeContext(w, h, pf);
    if (!pf.trueColour) installColourMap(t.ctx.pixels);
    return images ? { fb: t.fb, ctx: { ...t.ctx, images } } : t;
  };
}
