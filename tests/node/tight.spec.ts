import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import type { DecodedImage, Rect } from "../../src/protocol/decoders/decoder.js";
import { TightDecoder, compactLengthSize, peekCompactLength } from "../../src/protocol/decoders/tight.js";
import { DEFAULT_PIXEL_FORMAT, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { makeContext } from "./decoder-context.js";
import { PF16_BE, PF32_BE, PF8_BGR233, PF8_MAP, bytes, firstDifference, prng, randomValue } from "./encode-basic.js";
import {
  PF30,
  ServerStream,
  TightServer,
  compactLength,
  concat,
  contextFor,
  decodeRects,
  expectEverySplit,
  expectProtocolError,
  fakeImages,
  tightData,
} from "./encode-zlib.js";

const rectAt = (x: number, y: number, width: number, height: number): Rect => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.Tight,
});

function distinct(pf: PixelFormat, n: number, rand: () => number): number[] {
  const set = new Set<number>();
  while (set.size < n) set.add(randomValue(pf, rand));
  return [...set];
}

function pick(colours: readonly number[], n: number, rand: () => number): number[] {
  // Every colour at least once (so every index is exercised), then at random.
  return Array.from(
    { length: n },
    (_v, i) => colours[i < colours.length ? i : Math.floor(rand() * colours.length)] ?? 0,
  );
}

/** Smooth-ish content, what the gradient filter is for, with some noise so it is not trivial. */
function smooth(pf: PixelFormat, w: number, h: number, rand: () => number): number[] {
  const img: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ch = (max: number, k: number) =>
        Math.min(max, Math.floor(((x * k + y * (5 - k)) * max) / (w + h) / 4) + (rand() < 0.2 ? 3 : 0)) & max;
      img.push(
        ((ch(pf.redMax, 1) << pf.redShift) |
          (ch(pf.greenMax, 2) << pf.greenShift) |
          (ch(pf.blueMax, 4) << pf.blueShift)) >>>
          0,
      );
    }
  }
  return img;
}

describe("TightDecoder", () => {
  it("decodes fill, copy, palette and gradient rectangles on four streams with resets, however split", () => {
    const pf = DEFAULT_PIXEL_FORMAT;
    const rand = prng(77);
    const s = new TightServer(pf);
    const two = distinct(pf, 2, rand);
    const three = distinct(pf, 3, rand);
    const five = distinct(pf, 5, rand);
    const all = distinct(pf, 256, rand);
    const twoMore = distinct(pf, 2, rand);
    s.fill(rectAt(0, 0, 40, 40), 0x204060)
      .copy(rectAt(1, 1, 3, 1), distinct(pf, 3, rand), 0) // 9 bytes: sent without zlib
      .copy(rectAt(5, 1, 10, 6), pick(distinct(pf, 30, rand), 60, rand), 0)
      .palette(rectAt(0, 8, 13, 3), pick(two, 39, rand), two, 1)
      .palette(rectAt(20, 1, 9, 7), pick(five, 63, rand), five, 2)
      .palette(rectAt(0, 20, 16, 16), all, all, 3)
      .gradient(rectAt(16, 12, 20, 8), smooth(pf, 20, 8, rand), 0)
      .copy(rectAt(30, 30, 6, 5), pick(distinct(pf, 7, rand), 30, rand), 1, true)
      .copy(rectAt(17, 21, 11, 4), pick(distinct(pf, 9, rand), 44, rand), 0, false, 0b0001)
      .fill(rectAt(30, 22, 3, 3), 0xabcdef, 0b0100)
      .palette(rectAt(20, 30, 8, 9), pick(three, 72, rand), three, 2)
      .palette(rectAt(36, 0, 4, 2), pick(twoMore, 8, rand), twoMore, 3); // 2 bytes: without zlib
    expectEverySplit(
      { fbWidth: 40, fbHeight: 40, rects: s.rects, data: s.data, expected: s.expected(40, 40) },
      () => new TightDecoder(),
    );
  });

  it("reads 3-byte TPIXELs as R, G, B whatever the pixel format's byte order", () => {
    for (const pf of [DEFAULT_PIXEL_FORMAT, PF32_BE]) {
      const { ctx, fb } = makeContext(2, 1, pf);
      decodeRects(
        { ctx, fb },
        new TightDecoder(),
        [rectAt(0, 0, 1, 1), rectAt(1, 0, 1, 1)],
        [bytes(0x80, 0x11, 0x22, 0x33, 0, 0x44, 0x55, 0x66)],
      );
      expect(Array.from(fb.pixels)).toEqual([0xff112233, 0xff445566]);
    }
  });

  for (const [name, pf] of [
    ["16 bpp big-endian", PF16_BE],
    ["32 bpp with 10-bit channels", PF30],
    ["8 bpp true colour", PF8_BGR233],
    ["8 bpp colour map", PF8_MAP],
  ] as const) {
    it(`decodes ${name} pixels, however split`, () => {
      const rand = prng(pf.bitsPerPixel * 3 + pf.depth);
      const s = new TightServer(pf);
      s.fill(rectAt(0, 0, 24, 20), randomValue(pf, rand))
        .copy(rectAt(1, 1, 2, 2), distinct(pf, 4, rand), 0)
        .copy(rectAt(4, 1, 9, 5), pick(distinct(pf, 20, rand), 45, rand), 0);
      const two = distinct(pf, 2, rand);
      const four = distinct(pf, 4, rand);
      s.palette(rectAt(0, 8, 11, 3), pick(two, 33, rand), two, 1).palette(
        rectAt(12, 8, 7, 4),
        pick(four, 28, rand),
        four,
        2,
      );
      if (pf.bitsPerPixel > 8 && pf.trueColour) s.gradient(rectAt(2, 13, 21, 7), smooth(pf, 21, 7, rand), 3);
      expectEverySplit(
        {
          fbWidth: 24,
          fbHeight: 20,
          rects: s.rects,
          data: s.data,
          expected: s.expected(24, 20),
          context: contextFor(pf, 24, 20),
        },
        () => new TightDecoder(),
      );
    });
  }

  it("decodes the gradient filter over wrapping and clamping predictions", () => {
    // Extremes make left + above - above-left leave [0, max] and the differences wrap.
    for (const pf of [DEFAULT_PIXEL_FORMAT, PF16_BE, PF30]) {
      const rand = prng(9);
      const extremes = [0, pf.redMax << pf.redShift, pf.greenMax << pf.greenShift, pf.blueMax << pf.blueShift];
      const full = (pf.redMax << pf.redShift) | (pf.greenMax << pf.greenShift) | (pf.blueMax << pf.blueShift);
      extremes.push(full >>> 0);
      const img = Array.from({ length: 12 * 9 }, () => extremes[Math.floor(rand() * extremes.length)] ?? 0);
      const s = new TightServer(pf).gradient(rectAt(1, 1, 12, 9), img, 0);
      const t = contextFor(pf, 14, 11)();
      decodeRects(t, new TightDecoder(), s.rects, [s.data]);
      expect(firstDifference(t.fb.pixels, s.expected(14, 11), 14)).toBeNull();
    }
  });

  it("reads compact lengths of one to three bytes, minimal or not", () => {
    const cases: [number[], number][] = [
      [[0], 0],
      [[0x7f], 127],
      [[0x80, 0x01], 128],
      [[0xff, 0x7f], 16383],
      [[0x80, 0x80, 0x01], 16384],
      [[0xff, 0xff, 0xff], 4194303],
      [[0x85, 0x00], 5],
    ];
    for (const [encoded, value] of cases) {
      const q = new ByteQueue();
      q.push(bytes(9, encoded));
      expect(compactLengthSize(q, 1)).toBe(encoded.length);
      expect(peekCompactLength(q, 1, encoded.length)).toBe(value);
      if (encoded.length > 1) {
        const partial = new ByteQueue();
        partial.push(bytes(9, encoded.slice(0, -1)));
        expect(compactLengthSize(partial, 1)).toBe(0);
      }
    }
    expect(compactLength(4194303)).toEqual([0xff, 0xff, 0xff]);
  });

  describe("with an image decoder", () => {
    const jpeg = Uint8Array.from({ length: 200 }, (_v, i) => (i * 7) & 0xff);
    const image: DecodedImage = {
      width: 3,
      height: 2,
      pixels: Uint32Array.of(0xff010203, 0xff040506, 0xff070809, 0xff0a0b0c, 0xff0d0e0f, 0xff101112),
    };
    const images = fakeImages(jpeg, new Uint8Array(1), image);

    it("places a JPEG's pixels, however split, and resets the streams it names", () => {
      const pf = DEFAULT_PIXEL_FORMAT;
      const rand = prng(4);
      // Stream 0 in use, then a JPEG that resets it, then stream 0 again from scratch.
      const s = new TightServer(pf)
        .copy(rectAt(0, 0, 5, 4), pick(distinct(pf, 9, rand), 20, rand), 0)
        .image(rectAt(1, 5, 3, 2), 9, jpeg, image.pixels, 0b0001)
        .copy(rectAt(0, 7, 6, 3), pick(distinct(pf, 5, rand), 18, rand), 0);
      expectEverySplit(
        {
          fbWidth: 8,
          fbHeight: 10,
          rects: s.rects,
          data: s.data,
          expected: s.expected(8, 10),
          context: contextFor(pf, 8, 10, images),
        },
        () => new TightDecoder(),
      );
    });

    it("rejects a JPEG whose size is not the rectangle's", () => {
      const t = contextFor(DEFAULT_PIXEL_FORMAT, 8, 8, images)();
      expectProtocolError(
        t,
        new TightDecoder(),
        rectAt(0, 0, 2, 3),
        concat([bytes(0x90, compactLength(jpeg.length)), jpeg]),
        "malformed",
      );
    });

    it("treats PNG (method 10) as malformed in plain Tight", () => {
      const t = contextFor(DEFAULT_PIXEL_FORMAT, 8, 8, images)();
      expectProtocolError(t, new TightDecoder(), rectAt(0, 0, 1, 1), bytes(0xa0, 1, 0), "malformed");
    });
  });

  it("reports JPEG as unsupported when there is no image decoder", () => {
    expectProtocolError(makeContext(4, 4), new TightDecoder(), rectAt(0, 0, 1, 1), bytes(0x90, 1, 0), "unsupported");
  });

  describe("rejects", () => {
    const px = [1, 2, 3];
    const malformed = (rect: Rect, data: Uint8Array, pf: PixelFormat = DEFAULT_PIXEL_FORMAT) =>
      expectProtocolError(contextFor(pf, 3000, 4)(), new TightDecoder(), rect, data, "malformed");

    it("undefined compression methods and filters", () => {
      for (const control of [0xb0, 0xc0, 0xf0]) malformed(rectAt(0, 0, 1, 1), bytes(control, px));
      malformed(rectAt(0, 0, 1, 1), bytes(0x40, 3, px));
    });

    it("a one-colour palette and palette indices past the palette", () => {
      malformed(rectAt(0, 0, 2, 1), bytes(0x40, 1, 0, px, 0, 0));
      malformed(rectAt(0, 0, 4, 1), bytes(0x40, 1, 2, px, px, px, 0, 1, 2, 3));
      const stream = new ServerStream();
      malformed(
        rectAt(0, 0, 16, 1),
        concat([
          bytes(0x40, 1, 2, px, px, px),
          tightData(
            stream,
            Uint8Array.from({ length: 16 }, (_v, i) => (i === 15 ? 200 : i % 3)),
          ),
        ]),
      );
    });

    it("basic compression wider than 2048 pixels, but not a wide fill", () => {
      const wide = rectAt(0, 0, 2049, 1);
      malformed(wide, concat([bytes(0x00), tightData(new ServerStream(), new Uint8Array(2049 * 3))]));
      const t = makeContext(3000, 1);
      decodeRects(t, new TightDecoder(), [wide], [bytes(0x80, px)]);
      expect(t.fb.pixels[2048]).toBe(0xff010203);
    });

    it("the gradient filter at 8 bpp", () => {
      malformed(rectAt(0, 0, 1, 1), bytes(0x40, 2, 0), PF8_BGR233);
    });

    it("data that inflates to more or fewer bytes than the rectangle", () => {
      malformed(rectAt(0, 0, 5, 1), concat([bytes(0x00), tightData(new ServerStream(), new Uint8Array(14))]));
      malformed(rectAt(0, 0, 5, 1), concat([bytes(0x00), tightData(new ServerStream(), new Uint8Array(16))]));
    });

    it("a compressed length over the rectangle's worst case", () => {
      expectProtocolError(
        makeContext(8, 8),
        new TightDecoder(),
        rectAt(0, 0, 8, 8),
        bytes(0x00, compactLength(100_000)),
        "limit",
      );
    });
  });
});
