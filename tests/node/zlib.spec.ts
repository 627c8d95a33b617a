import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import { ZlibDecoder } from "../../src/protocol/decoders/zlib.js";
import { DEFAULT_PIXEL_FORMAT } from "../../src/protocol/pixel-format.js";
import { makeContext } from "./decoder-context.js";
import {
  FORMATS,
  blackFramebuffer,
  bytes,
  converterFor,
  encodeRaw,
  expectRect,
  firstDifference,
  installColourMap,
  prng,
  randomImage,
  randomValue,
  u32,
} from "./encode-basic.js";
import { ServerStream, concat, decodeRects, expectEverySplit, expectProtocolError } from "./encode-zlib.js";

const rectAt = (x: number, y: number, width: number, height: number) => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.Zlib,
});

function zlibRect(stream: ServerStream, raw: Uint8Array): Uint8Array {
  const z = stream.deflate(raw);
  return concat([Uint8Array.from(u32(z.length)), z]);
}

describe("ZlibDecoder", () => {
  for (const [name, pf] of FORMATS) {
    it(`decodes two ${name} rectangles from one stream identically however the bytes are split`, () => {
      const rand = prng(pf.bitsPerPixel * 11 + (pf.bigEndian ? 1 : 0) + (pf.trueColour ? 0 : 5));
      const a = rectAt(2, 1, 17, 9);
      const b = rectAt(0, 12, 30, 4);
      const imgA = randomImage(pf, a.width, a.height, rand);
      const imgB = randomImage(pf, b.width, b.height, rand);
      const stream = new ServerStream();
      const data = bytes(zlibRect(stream, encodeRaw(pf, imgA)), zlibRect(stream, encodeRaw(pf, imgB)));
      const conv = converterFor(pf);
      const expected = expectRect(expectRect(blackFramebuffer(30, 16), 30, a, imgA, conv), 30, b, imgB, conv);
      expectEverySplit(
        {
          fbWidth: 30,
          fbHeight: 16,
          rects: [a, b],
          data,
          expected,
          context: () => {
            const t = makeContext(30, 16, pf);
            if (!pf.trueColour) installColourMap(t.ctx.pixels);
            return t;
          },
        },
        () => new ZlibDecoder(),
      );
    });
  }

  it("decodes rectangles taller than its conversion block", () => {
    const pf = DEFAULT_PIXEL_FORMAT;
    const rect = rectAt(0, 0, 700, 200);
    const rand = prng(3);
    const img = Array.from({ length: rect.width * rect.height }, (_v, i) =>
      i % 700 < 350 ? 0x123456 : randomValue(pf, rand),
    );
    const raw = new Uint8Array(new Uint32Array(img).buffer);
    const data = zlibRect(new ServerStream(), raw);
    const t = makeContext(700, 200);
    decodeRects(t, new ZlibDecoder(), [rect], [data.subarray(0, 1000), data.subarray(1000)]);
    const expected = expectRect(blackFramebuffer(700, 200), 700, rect, img, converterFor(pf));
    expect(firstDifference(t.fb.pixels, expected, 700)).toBeNull();
  });

  it("waits for the whole payload before consuming anything", () => {
    const { ctx } = makeContext(4, 4);
    const data = zlibRect(new ServerStream(), new Uint8Array(4 * 4 * 4).fill(0x40));
    const q = new ByteQueue();
    q.push(data.subarray(0, data.length - 1));
    const dec = new ZlibDecoder();
    expect(dec.decode(q, rectAt(0, 0, 4, 4), ctx)).toBeFalse();
    expect(q.length).toBe(data.length - 1);
    q.push(data.subarray(data.length - 1));
    expect(dec.decode(q, rectAt(0, 0, 4, 4), ctx)).toBeTrue();
    expect(q.length).toBe(0);
  });

  it("rejects data that inflates to more or fewer bytes than the rectangle", () => {
    const short = zlibRect(new ServerStream(), new Uint8Array(4 * 3 - 1));
    expectProtocolError(makeContext(4, 4), new ZlibDecoder(), rectAt(0, 0, 3, 1), short, "malformed");
    const long = zlibRect(new ServerStream(), new Uint8Array(4 * 3 + 1));
    expectProtocolError(makeContext(4, 4), new ZlibDecoder(), rectAt(0, 0, 3, 1), long, "malformed");
  });

  it("rejects corrupt zlib data", () => {
    expectProtocolError(makeContext(4, 4), new ZlibDecoder(), rectAt(0, 0, 3, 1), bytes(u32(3), 1, 2, 3), "malformed");
  });

  it("rejects a length no 3×1 rectangle needs as soon as it arrives", () => {
    expectProtocolError(makeContext(4, 4), new ZlibDecoder(), rectAt(0, 0, 3, 1), bytes(u32(0x7fffffff)), "limit");
  });
});
