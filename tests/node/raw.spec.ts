import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { RawDecoder } from "../../src/protocol/decoders/raw.js";
import { Encoding } from "../../src/protocol/constants.js";
import { DEFAULT_PIXEL_FORMAT } from "../../src/protocol/pixel-format.js";
import { decodeAll, makeContext } from "./decoder-context.js";
import {
  FORMATS,
  PF16_BE,
  PF8_MAP,
  blackFramebuffer,
  bytes,
  converterFor,
  encodeRaw,
  expectAllSplits,
  expectRect,
  firstDifference,
  installColourMap,
  prng,
  randomImage,
} from "./encode-basic.js";

const rectAt = (x: number, y: number, width: number, height: number) => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.Raw,
});

describe("RawDecoder", () => {
  for (const [name, pf] of FORMATS) {
    it(`decodes ${name} identically however the bytes are split`, () => {
      const rand = prng(pf.bitsPerPixel * 7 + (pf.bigEndian ? 1 : 0) + (pf.trueColour ? 0 : 3));
      const a = rectAt(5, 3, 13, 7);
      const b = rectAt(0, 20, 30, 2);
      const imgA = randomImage(pf, a.width, a.height, rand);
      const imgB = randomImage(pf, b.width, b.height, rand);
      const conv = converterFor(pf);
      const expected = expectRect(expectRect(blackFramebuffer(30, 24), 30, a, imgA, conv), 30, b, imgB, conv);
      expectAllSplits(
        {
          pf,
          fbWidth: 30,
          fbHeight: 24,
          rects: [a, b],
          data: bytes(encodeRaw(pf, imgA), encodeRaw(pf, imgB)),
          expected,
        },
        () => new RawDecoder(),
      );
    });
  }

  it("reads 16 bpp big-endian RGB565 and colour-mapped 8 bpp pixels", () => {
    const rect = rectAt(1, 0, 3, 1);
    const { ctx, fb } = makeContext(4, 1, PF16_BE);
    decodeAll(new RawDecoder(), rect, ctx, [bytes(0xf8, 0x00, 0x07, 0xe0, 0x00, 0x1f)]);
    expect(Array.from(fb.pixels)).toEqual([0xff000000, 0xffff0000, 0xff00ff00, 0xff0000ff]);

    const mapped = makeContext(2, 1, PF8_MAP);
    installColourMap(mapped.ctx.pixels);
    decodeAll(new RawDecoder(), rectAt(0, 0, 2, 1), mapped.ctx, [bytes(3, 200)]);
    expect(Array.from(mapped.fb.pixels)).toEqual([0xff03fc6f, 0xffc837e8]);
  });

  it("draws whole rows as they arrive and keeps partial rows queued", () => {
    const rect = rectAt(0, 0, 3, 4);
    const { ctx, fb } = makeContext(3, 4);
    const img = Array.from({ length: 12 }, (_v, i) => 0x010101 * (i + 1));
    const data = encodeRaw(DEFAULT_PIXEL_FORMAT, img);
    const q = new ByteQueue();
    const dec = new RawDecoder();
    q.push(data.subarray(0, 12 * 2 + 5));
    expect(dec.decode(q, rect, ctx)).toBeFalse();
    expect(q.length).toBe(5);
    expect(fb.pixels[5]).toBe(0xff060606);
    expect(fb.pixels[6]).toBe(0xff000000);
    q.push(data.subarray(12 * 2 + 5));
    expect(dec.decode(q, rect, ctx)).toBeTrue();
    expect(q.length).toBe(0);
    expect(fb.pixels[11]).toBe(0xff0c0c0c);
  });

  it("decodes rectangles wider than its conversion block", () => {
    const pf = PF16_BE;
    const rect = rectAt(0, 0, 1500, 50);
    const img = randomImage(pf, rect.width, rect.height, prng(5));
    const { ctx, fb } = makeContext(rect.width, rect.height, pf);
    const data = encodeRaw(pf, img);
    decodeAll(new RawDecoder(), rect, ctx, [data.subarray(0, 100_003), data.subarray(100_003)]);
    const expected = expectRect(blackFramebuffer(1500, 50), 1500, rect, img, converterFor(pf));
    expect(firstDifference(fb.pixels, expected, 1500)).toBeNull();
  });

  it("completes an empty rectangle without reading", () => {
    const { ctx } = makeContext(4, 4);
    const q = new ByteQueue();
    q.push(bytes(1, 2, 3));
    expect(new RawDecoder().decode(q, rectAt(2, 2, 0, 2), ctx)).toBeTrue();
    expect(q.length).toBe(3);
  });

  it("starts over after reset()", () => {
    const { ctx, fb } = makeContext(2, 2);
    const dec = new RawDecoder();
    const q = new ByteQueue();
    q.push(new Uint8Array(8).fill(0x11));
    expect(dec.decode(q, rectAt(0, 0, 2, 2), ctx)).toBeFalse();
    dec.reset();
    decodeAll(dec, rectAt(0, 0, 2, 1), ctx, [new Uint8Array(8).fill(0x22)]);
    expect(Array.from(fb.pixels)).toEqual([0xff222222, 0xff222222, 0xff000000, 0xff000000]);
  });
});
