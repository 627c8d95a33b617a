// The specs RRE and CoRRE share: they differ only in the width of subrectangle coordinates.

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import type { Rect, RectDecoder } from "../../src/protocol/decoders/decoder.js";
import { ProtocolError, type ProtocolErrorCode } from "../../src/protocol/errors.js";
import type { PixelFormat } from "../../src/protocol/pixel-format.js";
import { decodeAll, makeContext } from "./decoder-context.js";
import {
  FORMATS,
  PF16_BE,
  type Subrect,
  blackFramebuffer,
  bytes,
  converterFor,
  encodeRRE,
  expectAllSplits,
  expectRect,
  paintRRE,
  pixelBytes,
  prng,
  randomValue,
  u32,
} from "./encode-basic.js";

function randomSubrects(pf: PixelFormat, w: number, h: number, n: number, rand: () => number): Subrect[] {
  return Array.from({ length: n }, () => {
    const x = Math.floor(rand() * w);
    const y = Math.floor(rand() * h);
    // Some reach the rectangle's right or bottom edge exactly.
    const sw = rand() < 0.2 ? w - x : 1 + Math.floor(rand() * (w - x));
    const sh = rand() < 0.2 ? h - y : 1 + Math.floor(rand() * (h - y));
    return { pixel: randomValue(pf, rand), x, y, w: sw, h: sh };
  });
}

export function subrectSpecs(name: string, encoding: number, coordBytes: 1 | 2, makeDecoder: () => RectDecoder): void {
  const rectAt = (x: number, y: number, width: number, height: number): Rect => ({ x, y, width, height, encoding });

  function expectError(code: ProtocolErrorCode, rect: Rect, data: Uint8Array, fb = { w: 64, h: 64 }): void {
    const { ctx } = makeContext(fb.w, fb.h);
    expect(() => decodeAll(makeDecoder(), rect, ctx, [data])).toThrowMatching(
      (e) => e instanceof ProtocolError && e.code === code,
    );
  }

  describe(name, () => {
    for (const [fmt, pf] of FORMATS) {
      it(`decodes ${fmt} identically however the bytes are split`, () => {
        const rand = prng(pf.bitsPerPixel * 3 + coordBytes + (pf.bigEndian ? 11 : 0) + (pf.trueColour ? 0 : 5));
        const conv = converterFor(pf);
        const a = rectAt(4, 2, 30, 20);
        const b = rectAt(0, 0, 3, 3);
        const c = rectAt(7, 7, 0, 5);
        const bgA = randomValue(pf, rand);
        const bgB = randomValue(pf, rand);
        const subsA = randomSubrects(pf, a.width, a.height, 25, rand);
        let expected = blackFramebuffer(40, 24);
        expected = expectRect(expected, 40, a, paintRRE(a.width, a.height, bgA, subsA), conv);
        expected = expectRect(expected, 40, b, paintRRE(b.width, b.height, bgB, []), conv);
        expectAllSplits(
          {
            pf,
            fbWidth: 40,
            fbHeight: 24,
            rects: [a, b, c],
            data: bytes(
              encodeRRE(pf, bgA, subsA, coordBytes),
              encodeRRE(pf, bgB, [], coordBytes),
              encodeRRE(pf, randomValue(pf, rand), [], coordBytes),
            ),
            expected,
          },
          makeDecoder,
        );
      });
    }

    it("converts 16 bpp big-endian pixels", () => {
      const { ctx, fb } = makeContext(3, 2, PF16_BE);
      const data = encodeRRE(PF16_BE, 0x001f, [{ pixel: 0xf800, x: 1, y: 1, w: 2, h: 1 }], coordBytes);
      decodeAll(makeDecoder(), rectAt(0, 0, 3, 2), ctx, [data]);
      expect(Array.from(fb.pixels)).toEqual([0xff0000ff, 0xff0000ff, 0xff0000ff, 0xff0000ff, 0xffff0000, 0xffff0000]);
    });

    it("draws the background at once and keeps a partial subrectangle queued", () => {
      const { ctx, fb } = makeContext(4, 4);
      const rect = rectAt(0, 0, 4, 4);
      const data = encodeRRE(
        ctx.pixels.format,
        0x111111,
        [
          { pixel: 0x222222, x: 0, y: 0, w: 1, h: 1 },
          { pixel: 0x333333, x: 3, y: 3, w: 1, h: 1 },
        ],
        coordBytes,
      );
      const subrect = 4 + 4 * coordBytes;
      const q = new ByteQueue();
      const dec = makeDecoder();
      q.push(data.subarray(0, 8 + subrect + 1));
      expect(dec.decode(q, rect, ctx)).toBeFalse();
      expect(q.length).toBe(1);
      expect(fb.pixels[0]).toBe(0xff222222);
      expect(fb.pixels[15]).toBe(0xff111111);
      q.push(data.subarray(8 + subrect + 1));
      expect(dec.decode(q, rect, ctx)).toBeTrue();
      expect(fb.pixels[15]).toBe(0xff333333);
    });

    it("rejects subrectangles outside the rectangle", () => {
      const pf = makeContext(1, 1).ctx.pixels.format;
      const rect = rectAt(10, 10, 8, 6);
      for (const s of [
        { x: 0, y: 0, w: 9, h: 1 },
        { x: 0, y: 0, w: 1, h: 7 },
        { x: 8, y: 0, w: 1, h: 1 },
        { x: 4, y: 5, w: 1, h: 2 },
        { x: 255, y: 255, w: 255, h: 255 },
      ])
        expectError("malformed", rect, encodeRRE(pf, 0, [{ pixel: 1, ...s }], coordBytes));
    });

    it("rejects subrectangle counts no rectangle needs", () => {
      const header = (count: number) => bytes(u32(count), pixelBytes(makeContext(1, 1).ctx.pixels.format, 0));
      expectError("limit", rectAt(0, 0, 2, 2), header(5));
      expectError("limit", rectAt(0, 0, 0, 2), header(1));
      expectError("limit", rectAt(0, 0, 64, 64), header(0xffffffff));
      // Within one per pixel, but more than 64 MiB of subrectangles.
      expectError("limit", rectAt(0, 0, 4000, 4000), header(9_000_000), { w: 4000, h: 4000 });
    });

    it("starts over after reset()", () => {
      const { ctx, fb } = makeContext(2, 1);
      const pf = ctx.pixels.format;
      const dec = makeDecoder();
      const q = new ByteQueue();
      q.push(encodeRRE(pf, 0x0a0a0a, [{ pixel: 0, x: 0, y: 0, w: 1, h: 1 }], coordBytes).subarray(0, 9));
      expect(dec.decode(q, rectAt(0, 0, 2, 1), ctx)).toBeFalse();
      dec.reset();
      decodeAll(dec, rectAt(1, 0, 1, 1), ctx, [encodeRRE(pf, 0x0b0b0b, [], coordBytes)]);
      expect(Array.from(fb.pixels)).toEqual([0xff0a0a0a, 0xff0b0b0b]);
    });
  });
}
