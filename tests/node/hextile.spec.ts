import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import type { Rect } from "../../src/protocol/decoders/decoder.js";
import { HextileDecoder } from "../../src/protocol/decoders/hextile.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import { DEFAULT_PIXEL_FORMAT } from "../../src/protocol/pixel-format.js";
import { decodeAll, makeContext } from "./decoder-context.js";
import {
  FORMATS,
  HEXTILE_ANY,
  HEXTILE_BG,
  HEXTILE_COLOURED,
  HEXTILE_FG,
  HEXTILE_RAW,
  PF16_BE,
  blackFramebuffer,
  bytes,
  converterFor,
  encodeHextile,
  encodeHextileTile,
  expectAllSplits,
  expectRect,
  pixelBytes,
  prng,
  randomImage,
  randomTiledImage,
} from "./encode-basic.js";

const rectAt = (x: number, y: number, width: number, height: number): Rect => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.Hextile,
});

describe("HextileDecoder", () => {
  for (const [name, pf] of FORMATS) {
    it(`decodes ${name} identically however the bytes are split`, () => {
      const rand = prng(pf.bitsPerPixel * 13 + (pf.bigEndian ? 2 : 0) + (pf.trueColour ? 0 : 9));
      const conv = converterFor(pf);
      // Edge tiles 13 wide and 5 high; then a screen-like image, where raw tiles and
      // many-coloured subrectangles dominate, in a rectangle less than two tiles wide.
      const a = rectAt(3, 2, 45, 37);
      const b = rectAt(29, 31, 20, 9);
      const imgA = randomTiledImage(pf, a.width, a.height, rand);
      const imgB = randomImage(pf, b.width, b.height, rand);
      const expected = expectRect(expectRect(blackFramebuffer(50, 40), 50, a, imgA, conv), 50, b, imgB, conv);
      expectAllSplits(
        {
          pf,
          fbWidth: 50,
          fbHeight: 40,
          rects: [a, b],
          data: bytes(
            encodeHextile(pf, imgA, a.width, a.height, rand),
            encodeHextile(pf, imgB, b.width, b.height, rand),
          ),
          expected,
        },
        () => new HextileDecoder(),
      );
    });
  }

  it("carries background and foreground from tile to tile (16 bpp big-endian)", () => {
    const pf = PF16_BE;
    const [RED, GREEN, BLUE, WHITE] = [0xf800, 0x07e0, 0x001f, 0xffff];
    const [red, green, blue, white] = [0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff];
    const rawTile = Array.from({ length: 32 }, (_v, i) => (i % 2 ? WHITE : BLUE));
    const data = bytes(
      encodeHextileTile(pf, { bg: RED }),
      encodeHextileTile(pf, { fg: GREEN, subrects: [{ x: 1, y: 2, w: 2, h: 3 }] }),
      encodeHextileTile(pf, { subrects: [{ pixel: WHITE, x: 0, y: 0, w: 4, h: 1 }] }),
      encodeHextileTile(pf, { raw: rawTile }),
      // Neither colour given: red and green survive the coloured and the raw tile.
      encodeHextileTile(pf, { subrects: [{ x: 15, y: 1, w: 1, h: 1 }] }),
      encodeHextileTile(pf, { bg: BLUE, subrects: [] }),
    );
    const W = 36;
    const expected = new Uint32Array(W * 18);
    const fill = (x: number, y: number, w: number, h: number, c: number) => {
      for (let yy = y; yy < y + h; yy++) expected.fill(c, yy * W + x, yy * W + x + w);
    };
    fill(0, 0, 36, 16, red);
    fill(17, 2, 2, 3, green);
    fill(32, 0, 4, 1, white);
    for (let i = 0; i < 32; i++) fill(i % 16, 16 + Math.floor(i / 16), 1, 1, i % 2 ? white : blue);
    fill(16, 16, 16, 2, red);
    fill(31, 17, 1, 1, green);
    fill(32, 16, 4, 2, blue);
    expectAllSplits(
      { pf, fbWidth: W, fbHeight: 18, rects: [rectAt(0, 0, W, 18)], data, expected },
      () => new HextileDecoder(),
    );
  });

  it("ignores the other mask bits of a raw tile", () => {
    const pf = DEFAULT_PIXEL_FORMAT;
    const { ctx, fb } = makeContext(2, 1);
    const mask = HEXTILE_RAW | HEXTILE_BG | HEXTILE_FG | HEXTILE_ANY | HEXTILE_COLOURED;
    const q = decodeAll(new HextileDecoder(), rectAt(0, 0, 2, 1), ctx, [
      bytes(mask, pixelBytes(pf, 0x123456), pixelBytes(pf, 0x654321), 0xaa),
    ]);
    expect(Array.from(fb.pixels)).toEqual([0xff123456, 0xff654321]);
    expect(q.length).toBe(1);
  });

  it("draws complete tiles and leaves a partial one queued", () => {
    const pf = DEFAULT_PIXEL_FORMAT;
    const { ctx, fb } = makeContext(32, 16);
    const rect = rectAt(0, 0, 32, 16);
    const first = encodeHextileTile(pf, { bg: 0x0000ff });
    const second = encodeHextileTile(pf, { fg: 0x00ff00, subrects: [{ x: 0, y: 0, w: 1, h: 1 }] });
    const q = new ByteQueue();
    const dec = new HextileDecoder();
    q.push(bytes(first, second.subarray(0, second.length - 1)));
    expect(dec.decode(q, rect, ctx)).toBeFalse();
    expect(q.length).toBe(second.length - 1);
    expect(fb.pixels[15]).toBe(0xff0000ff);
    expect(fb.pixels[16]).toBe(0xff000000);
    q.push(second.subarray(second.length - 1));
    expect(dec.decode(q, rect, ctx)).toBeTrue();
    expect(q.length).toBe(0);
    expect(fb.pixels[16]).toBe(0xff00ff00);
    expect(fb.pixels[17]).toBe(0xff0000ff);
  });

  it("rejects subrectangles outside their tile", () => {
    const pf = DEFAULT_PIXEL_FORMAT;
    // A 20×5 rectangle: a 16×5 tile, then a 4×5 one.
    const rect = rectAt(0, 0, 20, 5);
    const ok = encodeHextileTile(pf, { bg: 0, fg: 1, subrects: [{ x: 15, y: 4, w: 1, h: 1 }] });
    for (const [tile0, tile1] of [
      [encodeHextileTile(pf, { bg: 0, fg: 1, subrects: [{ x: 0, y: 4, w: 1, h: 2 }] }), ok],
      [ok, encodeHextileTile(pf, { subrects: [{ x: 3, y: 0, w: 2, h: 1 }] })],
      [ok, encodeHextileTile(pf, { subrects: [{ pixel: 5, x: 4, y: 0, w: 1, h: 1 }] })],
    ]) {
      const { ctx } = makeContext(20, 5);
      expect(() => decodeAll(new HextileDecoder(), rect, ctx, [bytes(tile0 ?? [], tile1 ?? [])])).toThrowMatching(
        (e) => e instanceof ProtocolError && e.code === "malformed",
      );
    }
  });

  it("starts over after reset()", () => {
    const pf = DEFAULT_PIXEL_FORMAT;
    const { ctx, fb } = makeContext(32, 1);
    const dec = new HextileDecoder();
    const q = new ByteQueue();
    q.push(encodeHextileTile(pf, { bg: 0x0a0a0a }));
    expect(dec.decode(q, rectAt(0, 0, 32, 1), ctx)).toBeFalse();
    dec.reset();
    // Without its own background the new rectangle's first tile is black, not the old colour.
    decodeAll(dec, rectAt(16, 0, 16, 1), ctx, [encodeHextileTile(pf, {})]);
    expect(fb.pixels[0]).toBe(0xff0a0a0a);
    expect(fb.pixels[16]).toBe(0xff000000);
  });
});
