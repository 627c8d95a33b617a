// PIXEL_FORMAT (RFC 6143 §7.4) and conversion of server pixels to the canonical form the
// framebuffer stores: a 32-bit value 0xAARRGGBB with A = 255, i.e. the bytes B, G, R, A in
// memory on the little-endian hosts GJS runs on (matching GDK_MEMORY_B8G8R8A8).

import { ProtocolError } from "./errors.js";

export interface PixelFormat {
  readonly bitsPerPixel: 8 | 16 | 32;
  readonly depth: number;
  readonly bigEndian: boolean;
  readonly trueColour: boolean;
  readonly redMax: number;
  readonly greenMax: number;
  readonly blueMax: number;
  readonly redShift: number;
  readonly greenShift: number;
  readonly blueShift: number;
}

/** What this client asks for unless told otherwise: 32 bpp little-endian, red at bit 16. */
export const DEFAULT_PIXEL_FORMAT: PixelFormat = {
  bitsPerPixel: 32,
  depth: 24,
  bigEndian: false,
  trueColour: true,
  redMax: 255,
  greenMax: 255,
  blueMax: 255,
  redShift: 16,
  greenShift: 8,
  blueShift: 0,
};

export const PIXEL_FORMAT_LENGTH = 16;
const OPAQUE = 0xff000000;

export function parsePixelFormat(b: Uint8Array, offset = 0): PixelFormat {
  const at = (i: number) => b[offset + i] ?? 0;
  const bpp = at(0);
  if (bpp !== 8 && bpp !== 16 && bpp !== 32)
    throw new ProtocolError("unsupported", `pixel formats of ${bpp} bits per pixel are not supported`);
  const pf: PixelFormat = {
    bitsPerPixel: bpp,
    depth: at(1),
    bigEndian: at(2) !== 0,
    trueColour: at(3) !== 0,
    redMax: (at(4) << 8) | at(5),
    greenMax: (at(6) << 8) | at(7),
    blueMax: (at(8) << 8) | at(9),
    redShift: at(10),
    greenShift: at(11),
    blueShift: at(12),
  };
  validatePixelFormat(pf);
  return pf;
}

export function validatePixelFormat(pf: PixelFormat): void {
  if (!pf.trueColour) return;
  for (const [name, max, shift] of [
    ["red", pf.redMax, pf.redShift],
    ["green", pf.greenMax, pf.greenShift],
    ["blue", pf.blueMax, pf.blueShift],
  ] as const) {
    // A max must be 2^n - 1 and the channel must fit in the pixel.
    if (max === 0 || (max & (max + 1)) !== 0 || shift + Math.log2(max + 1) > pf.bitsPerPixel)
      throw new ProtocolError(
        "malformed",
        `the pixel format's ${name} channel (max ${max}, shift ${shift}) is invalid`,
      );
  }
}

export function encodePixelFormat(pf: PixelFormat): Uint8Array {
  return Uint8Array.of(
    pf.bitsPerPixel,
    pf.depth,
    pf.bigEndian ? 1 : 0,
    pf.trueColour ? 1 : 0,
    pf.redMax >> 8,
    pf.redMax & 0xff,
    pf.greenMax >> 8,
    pf.greenMax & 0xff,
    pf.blueMax >> 8,
    pf.blueMax & 0xff,
    pf.redShift,
    pf.greenShift,
    pf.blueShift,
    0,
    0,
    0,
  );
}

function scaleTable(max: number): Uint8Array {
  const t = new Uint8Array(max + 1);
  for (let v = 0; v <= max; v++) t[v] = Math.round((v * 255) / max);
  return t;
}

/**
 * Converts pixels in one PixelFormat to canonical values. Also handles ZRLE's compact
 * 3-byte pixels (CPIXEL), which keep the pixel's byte order; Tight's TPIXEL is always
 * R, G, B and lives with the Tight decoder.
 */
export class PixelConverter {
  readonly bytesPerPixel: 1 | 2 | 4;
  /** True when 32-bit pixels are already canonical except for the alpha byte. */
  readonly isNative: boolean;
  /**
   * Bytes per ZRLE compact pixel: 3 when bpp is 32, depth ≤ 24 and every channel lies in
   * the low or the high 3 bytes (RFC 6143 §7.7.6), else the full pixel size.
   */
  readonly compactBytesPerPixel: number;
  /** 0 when compact pixels are the low 3 bytes of a pixel, 8 when they are the high 3. */
  readonly #compactShift: number;
  readonly #pf: PixelFormat;
  readonly #red: Uint8Array;
  readonly #green: Uint8Array;
  readonly #blue: Uint8Array;
  readonly #colourMap = new Uint32Array(256).fill(OPAQUE);

  constructor(pf: PixelFormat) {
    validatePixelFormat(pf);
    this.#pf = pf;
    this.bytesPerPixel = (pf.bitsPerPixel / 8) as 1 | 2 | 4;
    this.isNative =
      pf.trueColour &&
      pf.bitsPerPixel === 32 &&
      !pf.bigEndian &&
      pf.redMax === 255 &&
      pf.greenMax === 255 &&
      pf.blueMax === 255 &&
      pf.redShift === 16 &&
      pf.greenShift === 8 &&
      pf.blueShift === 0;
    this.#red = scaleTable(pf.trueColour ? pf.redMax : 0);
    this.#green = scaleTable(pf.trueColour ? pf.greenMax : 0);
    this.#blue = scaleTable(pf.trueColour ? pf.blueMax : 0);
    const channels: [number, number][] = [
      [pf.redMax, pf.redShift],
      [pf.greenMax, pf.greenShift],
      [pf.blueMax, pf.blueShift],
    ];
    const inLow3 = channels.every(([max, shift]) => shift + Math.log2(max + 1) <= 24);
    const inHigh3 = channels.every(([, shift]) => shift >= 8);
    const compact = pf.trueColour && pf.bitsPerPixel === 32 && pf.depth <= 24 && (inLow3 || inHigh3);
    this.compactBytesPerPixel = compact ? 3 : this.bytesPerPixel;
    this.#compactShift = compact && !inLow3 ? 8 : 0;
  }

  get format(): PixelFormat {
    return this.#pf;
  }

  /** SetColourMapEntries: `rgb` holds 16-bit red, green, blue per entry. */
  setColourMapEntries(first: number, rgb: Uint16Array): void {
    for (let i = 0; i * 3 < rgb.length && first + i < 256; i++) {
      const r = (rgb[i * 3] ?? 0) >> 8;
      const g = (rgb[i * 3 + 1] ?? 0) >> 8;
      const b = (rgb[i * 3 + 2] ?? 0) >> 8;
      this.#colourMap[first + i] = (OPAQUE | (r << 16) | (g << 8) | b) >>> 0;
    }
  }

  /** The canonical value of a raw pixel value (already assembled from its bytes). */
  fromValue(v: number): number {
    const pf = this.#pf;
    if (!pf.trueColour) return this.#colourMap[v & 0xff] ?? OPAQUE;
    const r = this.#red[(v >>> pf.redShift) & pf.redMax] ?? 0;
    const g = this.#green[(v >>> pf.greenShift) & pf.greenMax] ?? 0;
    const b = this.#blue[(v >>> pf.blueShift) & pf.blueMax] ?? 0;
    return (OPAQUE | (r << 16) | (g << 8) | b) >>> 0;
  }

  /** The canonical value of the full-size pixel at `src[at]`. */
  read(src: Uint8Array, at: number): number {
    const b0 = src[at] ?? 0;
    if (this.isNative) return (OPAQUE | ((src[at + 2] ?? 0) << 16) | ((src[at + 1] ?? 0) << 8) | b0) >>> 0;
    switch (this.bytesPerPixel) {
      case 1:
        return this.fromValue(b0);
      case 2: {
        const b1 = src[at + 1] ?? 0;
        return this.fromValue(this.#pf.bigEndian ? (b0 << 8) | b1 : (b1 << 8) | b0);
      }
      case 4: {
        const b1 = src[at + 1] ?? 0;
        const b2 = src[at + 2] ?? 0;
        const b3 = src[at + 3] ?? 0;
        return this.fromValue(
          this.#pf.bigEndian
            ? ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0
            : ((b3 << 24) | (b2 << 16) | (b1 << 8) | b0) >>> 0,
        );
      }
    }
  }

  /** The canonical value of the ZRLE compact pixel (CPIXEL) at `src[at]`. */
  readCompact(src: Uint8Array, at: number): number {
    if (this.compactBytesPerPixel !== 3) return this.read(src, at);
    const b0 = src[at] ?? 0;
    const b1 = src[at + 1] ?? 0;
    const b2 = src[at + 2] ?? 0;
    // The three bytes hold 24 of the pixel's bits, in the pixel format's byte order.
    const v = this.#pf.bigEndian ? (b0 << 16) | (b1 << 8) | b2 : (b2 << 16) | (b1 << 8) | b0;
    return this.fromValue((v << this.#compactShift) >>> 0);
  }

  /** Converts `count` full-size pixels from `src[at…]` into `dst[dstAt…]`. */
  convert(src: Uint8Array, at: number, dst: Uint32Array, dstAt: number, count: number): void {
    if (this.isNative) {
      for (let i = 0, s = at; i < count; i++, s += 4)
        dst[dstAt + i] = OPAQUE | ((src[s + 2] ?? 0) << 16) | ((src[s + 1] ?? 0) << 8) | (src[s] ?? 0);
      return;
    }
    const bpp = this.bytesPerPixel;
    for (let i = 0; i < count; i++) dst[dstAt + i] = this.read(src, at + i * bpp);
  }

  /** Converts `count` compact pixels from `src[at…]` into `dst[dstAt…]`. */
  convertCompact(src: Uint8Array, at: number, dst: Uint32Array, dstAt: number, count: number): void {
    const cpp = this.compactBytesPerPixel;
    if (cpp !== 3) {
      this.convert(src, at, dst, dstAt, count);
      return;
    }
    if (this.isNative && this.#compactShift === 0) {
      for (let i = 0, s = at; i < count; i++, s += 3)
        dst[dstAt + i] = OPAQUE | ((src[s + 2] ?? 0) << 16) | ((src[s + 1] ?? 0) << 8) | (src[s] ?? 0);
      return;
    }
    for (let i = 0; i < count; i++) dst[dstAt + i] = this.readCompact(src, at + i * 3);
  }
}
