// Hand-written encoders for the Raw, CopyRect, RRE, CoRRE and Hextile specs, pixel
// formats to run them in, and a driver that decodes a fixture at every split point.

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import type { Rect, RectDecoder } from "../../src/protocol/decoders/decoder.js";
import type { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, PixelConverter, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { makeContext } from "./decoder-context.js";
import { splits } from "./helpers.js";

/** 32 bpp big-endian with red in the low byte: exercises the non-native 32-bit path. */
export const PF32_BE: PixelFormat = {
  ...DEFAULT_PIXEL_FORMAT,
  bigEndian: true,
  redShift: 0,
  greenShift: 8,
  blueShift: 16,
};
/** RGB565, big-endian. */
export const PF16_BE: PixelFormat = {
  bitsPerPixel: 16,
  depth: 16,
  bigEndian: true,
  trueColour: true,
  redMax: 31,
  greenMax: 63,
  blueMax: 31,
  redShift: 11,
  greenShift: 5,
  blueShift: 0,
};
/** RGB555, little-endian. */
export const PF16_LE: PixelFormat = { ...PF16_BE, depth: 15, bigEndian: false, greenMax: 31, redShift: 10 };
/** 8 bpp through the colour map (see installColourMap). */
export const PF8_MAP: PixelFormat = {
  ...PF16_BE,
  bitsPerPixel: 8,
  depth: 8,
  trueColour: false,
  redShift: 0,
  greenShift: 0,
};
/** BGR233 true colour. */
export const PF8_BGR233: PixelFormat = {
  bitsPerPixel: 8,
  depth: 8,
  bigEndian: false,
  trueColour: true,
  redMax: 7,
  greenMax: 7,
  blueMax: 3,
  redShift: 0,
  greenShift: 3,
  blueShift: 6,
};

export const FORMATS: readonly (readonly [string, PixelFormat])[] = [
  ["32 bpp little-endian", DEFAULT_PIXEL_FORMAT],
  ["32 bpp big-endian", PF32_BE],
  ["16 bpp big-endian", PF16_BE],
  ["16 bpp little-endian", PF16_LE],
  ["8 bpp colour map", PF8_MAP],
  ["8 bpp true colour", PF8_BGR233],
];

/** Colour-map entry i: red i, green 255 - i, blue i * 37 (mod 256), all distinct. */
export function installColourMap(pixels: PixelConverter): void {
  const rgb = new Uint16Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    rgb[i * 3] = i << 8;
    rgb[i * 3 + 1] = (255 - i) << 8;
    rgb[i * 3 + 2] = ((i * 37) & 0xff) << 8;
  }
  pixels.setColourMapEntries(0, rgb);
}

/** A converter for expected values, with the same colour map the contexts get. */
export function converterFor(pf: PixelFormat): PixelConverter {
  const c = new PixelConverter(pf);
  if (!pf.trueColour) installColourMap(c);
  return c;
}

export type Bytes = number | readonly number[] | Uint8Array;

export function bytes(...parts: Bytes[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

export const u16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
export const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

/** A raw pixel value as its bytes on the wire. */
export function pixelBytes(pf: PixelFormat, v: number): number[] {
  const n = pf.bitsPerPixel / 8;
  const be: number[] = [];
  for (let i = n - 1; i >= 0; i--) be.push((v >>> (i * 8)) & 0xff);
  return pf.bigEndian ? be : be.reverse();
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Any raw value the format can carry, unused bits included. */
export function randomValue(pf: PixelFormat, rand: () => number): number {
  return Math.floor(rand() * 2 ** pf.bitsPerPixel);
}

/**
 * A w×h image of raw values that compresses the way screens do: a background, a few
 * solid blocks in a small palette, and some noise pixels.
 */
export function randomImage(pf: PixelFormat, w: number, h: number, rand: () => number): number[] {
  const palette = Array.from({ length: 5 }, () => randomValue(pf, rand));
  const img = new Array<number>(w * h).fill(palette[0] ?? 0);
  for (let k = 0; k < 12; k++) {
    const c = palette[Math.floor(rand() * palette.length)] ?? 0;
    const x0 = Math.floor(rand() * w);
    const y0 = Math.floor(rand() * h);
    const x1 = Math.min(w, x0 + 1 + Math.floor(rand() * 20));
    const y1 = Math.min(h, y0 + 1 + Math.floor(rand() * 20));
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) img[y * w + x] = c;
  }
  for (let k = 0; k < (w * h) / 20; k++) img[Math.floor(rand() * w * h)] = randomValue(pf, rand);
  return img;
}

/**
 * A w×h image built 16×16 tile by tile, each solid, one colour on a background, several
 * colours, or noise, from a three-colour palette so neighbouring tiles often share their
 * background and foreground: every Hextile subencoding and carry-over gets exercised.
 */
export function randomTiledImage(pf: PixelFormat, w: number, h: number, rand: () => number): number[] {
  const palette = Array.from({ length: 3 }, () => randomValue(pf, rand));
  const pick = () => palette[Math.floor(rand() * palette.length)] ?? 0;
  const img = new Array<number>(w * h).fill(0);
  for (let ty = 0; ty < h; ty += 16) {
    for (let tx = 0; tx < w; tx += 16) {
      const tw = Math.min(16, w - tx);
      const th = Math.min(16, h - ty);
      const kind = Math.floor(rand() * 4);
      const bg = pick();
      const fg = pick();
      for (let y = 0; y < th; y++)
        for (let x = 0; x < tw; x++) img[(ty + y) * w + tx + x] = kind === 3 ? randomValue(pf, rand) : bg;
      if (kind === 1 || kind === 2) {
        for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
          const c = kind === 1 ? fg : randomValue(pf, rand);
          const x0 = Math.floor(rand() * tw);
          const y0 = Math.floor(rand() * th);
          const x1 = Math.min(tw, x0 + 1 + Math.floor(rand() * 8));
          const y1 = Math.min(th, y0 + 1 + Math.floor(rand() * 8));
          for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) img[(ty + y) * w + tx + x] = c;
        }
      }
    }
  }
  return img;
}

export function encodeRaw(pf: PixelFormat, values: readonly number[]): Uint8Array {
  return bytes(...values.map((v) => pixelBytes(pf, v)));
}

export interface Subrect {
  readonly pixel: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** RRE (coordBytes 2) or CoRRE (coordBytes 1), with a count that may lie. */
export function encodeRRE(
  pf: PixelFormat,
  bg: number,
  subrects: readonly Subrect[],
  coordBytes: 1 | 2,
  count = subrects.length,
): Uint8Array {
  const coord = coordBytes === 2 ? u16 : (v: number) => [v];
  return bytes(
    u32(count),
    pixelBytes(pf, bg),
    ...subrects.map((s) => bytes(pixelBytes(pf, s.pixel), coord(s.x), coord(s.y), coord(s.w), coord(s.h))),
  );
}

/** The w×h image of raw values an RRE rectangle describes. */
export function paintRRE(w: number, h: number, bg: number, subrects: readonly Subrect[]): number[] {
  const img = new Array<number>(w * h).fill(bg);
  for (const s of subrects)
    for (let y = s.y; y < s.y + s.h; y++) for (let x = s.x; x < s.x + s.w; x++) img[y * w + x] = s.pixel;
  return img;
}

/** Subrectangles covering every pixel of `img` (w×h) that is not `bg`, greedily grown. */
export function coverWithSubrects(img: readonly number[], w: number, h: number, bg: number): Subrect[] {
  const done = new Uint8Array(w * h);
  const out: Subrect[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = img[y * w + x];
      if (c === undefined || c === bg || done[y * w + x]) continue;
      let rw = 1;
      while (x + rw < w && img[y * w + x + rw] === c && !done[y * w + x + rw]) rw++;
      let rh = 1;
      const rowMatches = (yy: number) => {
        for (let i = x; i < x + rw; i++) if (img[yy * w + i] !== c || done[yy * w + i]) return false;
        return true;
      };
      while (y + rh < h && rowMatches(y + rh)) rh++;
      for (let yy = y; yy < y + rh; yy++) done.fill(1, yy * w + x, yy * w + x + rw);
      out.push({ pixel: c, x, y, w: rw, h: rh });
    }
  }
  return out;
}

export const HEXTILE_RAW = 1;
export const HEXTILE_BG = 2;
export const HEXTILE_FG = 4;
export const HEXTILE_ANY = 8;
export const HEXTILE_COLOURED = 16;

export interface HextileTile {
  readonly raw?: readonly number[];
  readonly bg?: number;
  readonly fg?: number;
  /** Present (even empty) sets AnySubrects; `pixel` on any of them sets SubrectsColoured. */
  readonly subrects?: readonly { readonly pixel?: number; x: number; y: number; w: number; h: number }[];
}

export function encodeHextileTile(pf: PixelFormat, t: HextileTile): Uint8Array {
  if (t.raw) return bytes(HEXTILE_RAW, ...t.raw.map((v) => pixelBytes(pf, v)));
  const coloured = t.subrects?.some((s) => s.pixel !== undefined) ?? false;
  const mask =
    (t.bg !== undefined ? HEXTILE_BG : 0) |
    (t.fg !== undefined ? HEXTILE_FG : 0) |
    (t.subrects ? HEXTILE_ANY : 0) |
    (coloured ? HEXTILE_COLOURED : 0);
  const parts: Bytes[] = [mask];
  if (t.bg !== undefined) parts.push(pixelBytes(pf, t.bg));
  if (t.fg !== undefined) parts.push(pixelBytes(pf, t.fg));
  if (t.subrects) {
    parts.push(t.subrects.length);
    for (const s of t.subrects) {
      if (coloured) parts.push(pixelBytes(pf, s.pixel ?? 0));
      parts.push((s.x << 4) | s.y, ((s.w - 1) << 4) | (s.h - 1));
    }
  }
  return bytes(...parts);
}

/**
 * Hextile for a w×h image of raw values, choosing each tile's subencoding at random
 * among those that can represent it, and leaning on background/foreground carry-over
 * whenever the previous tile's colour still applies.
 */
export function encodeHextile(
  pf: PixelFormat,
  img: readonly number[],
  w: number,
  h: number,
  rand: () => number,
): Uint8Array {
  const parts: Uint8Array[] = [];
  let bg: number | undefined;
  let fg: number | undefined;
  for (let ty = 0; ty < h; ty += 16) {
    for (let tx = 0; tx < w; tx += 16) {
      const tw = Math.min(16, w - tx);
      const th = Math.min(16, h - ty);
      const tile: number[] = [];
      for (let y = ty; y < ty + th; y++) for (let x = tx; x < tx + tw; x++) tile.push(img[y * w + x] ?? 0);
      const counts = new Map<number, number>();
      for (const v of tile) counts.set(v, (counts.get(v) ?? 0) + 1);
      const tileBg = [...counts].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
      const subrects = coverWithSubrects(tile, tw, th, tileBg);
      if (rand() < 0.15 || subrects.length > 255) {
        parts.push(encodeHextileTile(pf, { raw: tile }));
        continue;
      }
      const sendBg = bg !== tileBg || rand() < 0.2 ? tileBg : undefined;
      bg = tileBg;
      const colours = new Set(subrects.map((s) => s.pixel));
      if (subrects.length === 0) {
        parts.push(encodeHextileTile(pf, { bg: sendBg, subrects: rand() < 0.2 ? [] : undefined }));
      } else if (colours.size === 1 && rand() < 0.8) {
        const colour = subrects[0]?.pixel ?? 0;
        const sendFg = fg !== colour || rand() < 0.2 ? colour : undefined;
        fg = colour;
        parts.push(
          encodeHextileTile(pf, {
            bg: sendBg,
            fg: sendFg,
            subrects: subrects.map(({ x, y, w, h }) => ({ x, y, w, h })),
          }),
        );
      } else {
        parts.push(encodeHextileTile(pf, { bg: sendBg, subrects }));
      }
    }
  }
  return bytes(...parts);
}

/** Writes a rectangle of raw values, converted, into a copy of `base` (width `fbWidth`). */
export function expectRect(
  base: Uint32Array,
  fbWidth: number,
  rect: { x: number; y: number; width: number; height: number },
  values: readonly number[],
  conv: PixelConverter,
): Uint32Array {
  const out = base.slice();
  for (let y = 0; y < rect.height; y++)
    for (let x = 0; x < rect.width; x++)
      out[(rect.y + y) * fbWidth + rect.x + x] = conv.fromValue(values[y * rect.width + x] ?? 0);
  return out;
}

/** Where two framebuffers first differ, or null. */
export function firstDifference(actual: Uint32Array, expected: Uint32Array, width: number): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} ≠ ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] ?? 0;
    const e = expected[i] ?? 0;
    if (a !== e)
      return `pixel (${i % width}, ${Math.floor(i / width)}) is ${a.toString(16)}, expected ${e.toString(16)}`;
  }
  return null;
}

export interface Fixture {
  readonly pf: PixelFormat;
  readonly fbWidth: number;
  readonly fbHeight: number;
  /** Rectangles decoded back to back from one stream, all with the same decoder. */
  readonly rects: readonly Rect[];
  readonly data: Uint8Array;
  readonly expected: Uint32Array;
  /** Prepares the framebuffer before decoding (CopyRect sources). */
  readonly setup?: (fb: MemoryFramebuffer) => void;
}

/** Decodes `fixture` from the given chunks; returns the framebuffer and the bytes left over. */
export function decodeChunks(
  fixture: Fixture,
  decoder: RectDecoder,
  chunks: readonly Uint8Array[],
): [MemoryFramebuffer, number] {
  const { ctx, fb } = makeContext(fixture.fbWidth, fixture.fbHeight, fixture.pf);
  if (!fixture.pf.trueColour) installColourMap(ctx.pixels);
  fixture.setup?.(fb);
  const q = new ByteQueue();
  let next = 0;
  for (const rect of fixture.rects) {
    while (!decoder.decode(q, rect, ctx)) {
      const chunk = chunks[next++];
      if (!chunk) throw new Error(`input ran out in rectangle ${JSON.stringify(rect)}`);
      q.push(chunk);
    }
  }
  let left = q.length;
  for (; next < chunks.length; next++) left += chunks[next]?.length ?? 0;
  return [fb, left];
}

/**
 * Decodes `fixture` in one piece, at every split point and one byte at a time, each with
 * a fresh decoder, and requires the expected framebuffer with every byte consumed.
 */
export function expectAllSplits(fixture: Fixture, makeDecoder: () => RectDecoder): void {
  const ways = [[fixture.data], ...splits(fixture.data)];
  for (const chunks of ways) {
    const [fb, left] = decodeChunks(fixture, makeDecoder(), chunks);
    const diff = firstDifference(fb.pixels, fixture.expected, fixture.fbWidth);
    const how = chunks.length > 2 ? "byte by byte" : `split at ${chunks[0]?.length ?? 0}`;
    expect(diff).withContext(how).toBeNull();
    expect(left).withContext(`${how}: bytes left unconsumed`).toBe(0);
    if (diff !== null || left !== 0) return;
  }
}

export function blackFramebuffer(w: number, h: number): Uint32Array {
  return new Uint32Array(w * h).fill(0xff000000);
}
