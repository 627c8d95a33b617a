import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import { CopyRectDecoder } from "../../src/protocol/decoders/copyrect.js";
import type { Rect } from "../../src/protocol/decoders/decoder.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import type { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { decodeAll, makeContext } from "./decoder-context.js";
import { FORMATS, bytes, expectAllSplits, u16 } from "./encode-basic.js";

const W = 20;
const H = 12;
const rectAt = (x: number, y: number, width: number, height: number): Rect => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.CopyRect,
});

function pattern(fb: MemoryFramebuffer): void {
  for (let i = 0; i < fb.pixels.length; i++) fb.pixels[i] = (0xff000000 | (i * 0x010305)) >>> 0;
}

/** The copies applied one after another to a plain array, through a temporary. */
function model(copies: readonly [Rect, number, number][]): Uint32Array {
  const px = new Uint32Array(W * H);
  for (let i = 0; i < px.length; i++) px[i] = (0xff000000 | (i * 0x010305)) >>> 0;
  for (const [r, sx, sy] of copies) {
    const tmp: number[] = [];
    for (let y = 0; y < r.height; y++) for (let x = 0; x < r.width; x++) tmp.push(px[(sy + y) * W + sx + x] ?? 0);
    for (let y = 0; y < r.height; y++)
      for (let x = 0; x < r.width; x++) px[(r.y + y) * W + r.x + x] = tmp[y * r.width + x] ?? 0;
  }
  return px;
}

function expectMalformed(rect: Rect, sx: number, sy: number): void {
  const { ctx } = makeContext(W, H);
  expect(() => decodeAll(new CopyRectDecoder(), rect, ctx, [bytes(u16(sx), u16(sy))])).toThrowMatching(
    (e) => e instanceof ProtocolError && e.code === "malformed",
  );
}

describe("CopyRectDecoder", () => {
  const copies: [Rect, number, number][] = [
    [rectAt(8, 6, 5, 4), 2, 1],
    // Overlapping source and destination, in both vertical directions.
    [rectAt(3, 3, 10, 6), 5, 1],
    [rectAt(5, 0, 10, 6), 3, 3],
    // From the far corner, touching the framebuffer's right and bottom edges.
    [rectAt(0, 0, 4, 3), W - 4, H - 3],
    [rectAt(1, 1, 0, 5), W, 0],
  ];

  for (const [name, pf] of FORMATS.slice(0, 3)) {
    it(`copies within the framebuffer in order (${name}) however the bytes are split`, () => {
      expectAllSplits(
        {
          pf,
          fbWidth: W,
          fbHeight: H,
          rects: copies.map(([r]) => r),
          data: bytes(...copies.map(([, sx, sy]) => bytes(u16(sx), u16(sy)))),
          expected: model(copies),
          setup: pattern,
        },
        () => new CopyRectDecoder(),
      );
    });
  }

  it("waits for all four bytes", () => {
    const { ctx } = makeContext(W, H);
    const q = new ByteQueue();
    q.push(bytes(0, 1, 0));
    expect(new CopyRectDecoder().decode(q, rectAt(0, 0, 1, 1), ctx)).toBeFalse();
    expect(q.length).toBe(3);
  });

  it("rejects sources outside the framebuffer", () => {
    expectMalformed(rectAt(0, 0, 5, 5), W - 4, 0);
    expectMalformed(rectAt(0, 0, 5, 5), 0, H - 4);
    expectMalformed(rectAt(0, 0, 1, 1), 0xffff, 0xffff);
    expectMalformed(rectAt(0, 0, 1, 0), W + 1, 0);
  });
});
