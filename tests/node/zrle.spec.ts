import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import { ZRLEDecoder } from "../../src/protocol/decoders/zrle.js";
import { DEFAULT_PIXEL_FORMAT, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { makeContext } from "./decoder-context.js";
import {
  PF16_BE,
  PF32_BE,
  blackFramebuffer,
  bytes,
  converterFor,
  expectRect,
  prng,
  randomValue,
  u32,
} from "./encode-basic.js";
import {
  ServerStream,
  expectEverySplit,
  expectProtocolError,
  tileOf,
  zrlePacked,
  zrlePaletteRLE,
  zrlePlainRLE,
  zrleRaw,
  zrleRect,
  zrleSolid,
} from "./encode-zlib.js";

const rectAt = (x: number, y: number, width: number, height: number) => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.ZRLE,
});

type TileKind =
  | { readonly kind: "raw" }
  | { readonly kind: "solid" }
  | { readonly kind: "plain" }
  | { readonly kind: "packed"; readonly colours: number }
  | { readonly kind: "paletteRLE"; readonly colours: number };

function distinct(pf: PixelFormat, n: number, rand: () => number): number[] {
  // Only the bits a CPIXEL carries (the low 24 of a 32-bit pixel), so values survive it.
  const mask = pf.bitsPerPixel === 32 ? 0xffffff : 0xffff;
  const set = new Set<number>();
  while (set.size < n) set.add(randomValue(pf, rand) & mask);
  return [...set];
}

/** Runs of random lengths, now and then longer than 255 so lengths take several bytes. */
function runny(n: number, colours: readonly number[], rand: () => number): number[] {
  const out: number[] = [];
  let i = 0;
  while (out.length < n) {
    const len = rand() < 0.1 ? 256 + Math.floor(rand() * 300) : 1 + Math.floor(rand() * 4);
    const v = colours[i++ % colours.length] ?? 0;
    for (let k = 0; k < len && out.length < n; k++) out.push(v);
  }
  return out;
}

/**
 * A w×h image whose tiles (in ZRLE order) take `kinds`, and their encodings. Each tile's
 * content suits its subencoding: one colour for solid, the palette for packed and
 * palette RLE (every index used), runs for the RLEs.
 */
function buildTiles(pf: PixelFormat, w: number, h: number, kinds: readonly TileKind[], rand: () => number) {
  const img = new Array<number>(w * h).fill(0);
  const tiles: Uint8Array[] = [];
  let k = 0;
  for (let ty = 0; ty < h; ty += 64) {
    for (let tx = 0; tx < w; tx += 64) {
      const tw = Math.min(64, w - tx);
      const th = Math.min(64, h - ty);
      const n = tw * th;
      const kind = kinds[k++];
      if (!kind) throw new Error("fewer tile kinds than tiles");
      let values: number[];
      if (kind.kind === "raw") {
        const colours = distinct(pf, 40, rand);
        values = Array.from({ length: n }, () => colours[Math.floor(rand() * colours.length)] ?? 0);
        tiles.push(zrleRaw(pf, values));
      } else if (kind.kind === "solid") {
        const v = distinct(pf, 1, rand)[0] ?? 0;
        values = new Array<number>(n).fill(v);
        tiles.push(zrleSolid(pf, v));
      } else if (kind.kind === "plain") {
        values = runny(n, distinct(pf, 6, rand), rand);
        tiles.push(zrlePlainRLE(pf, values));
      } else {
        const palette = distinct(pf, kind.colours, rand);
        if (kind.kind === "packed") {
          values = Array.from(
            { length: n },
            (_v, i) => palette[i < palette.length ? i : Math.floor(rand() * palette.length)] ?? 0,
          );
          tiles.push(zrlePacked(pf, values, tw, palette));
        } else {
          values = runny(n, palette, rand);
          tiles.push(zrlePaletteRLE(pf, values, palette));
        }
      }
      for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) img[(ty + y) * w + tx + x] = values[y * tw + x] ?? 0;
      expect(tileOf(img, w, tx, ty, tw, th)).toEqual(values);
    }
  }
  if (k !== kinds.length) throw new Error("more tile kinds than tiles");
  return { img, tiles };
}

const EVERY_KIND: readonly TileKind[] = [
  { kind: "raw" },
  { kind: "solid" },
  ...Array.from({ length: 15 }, (_v, i) => ({ kind: "packed" as const, colours: i + 2 })),
  { kind: "plain" },
  { kind: "paletteRLE", colours: 2 },
  { kind: "paletteRLE", colours: 17 },
  { kind: "paletteRLE", colours: 127 },
  { kind: "raw" },
];

describe("ZRLEDecoder", () => {
  // The layout is the same in each format, so every split point is tried in the first only.
  const formats: [string, PixelFormat, number][] = [
    ["32 bpp little-endian (3-byte CPIXELs)", DEFAULT_PIXEL_FORMAT, 1],
    ["32 bpp big-endian (3-byte CPIXELs)", PF32_BE, 97],
    ["16 bpp big-endian", PF16_BE, 97],
  ];
  for (const [name, pf, stride] of formats) {
    it(`decodes every subencoding and palette size in ${name}, two rectangles on one stream, however split`, () => {
      const rand = prng(pf.bitsPerPixel + (pf.bigEndian ? 100 : 0));
      // 21 full tiles and a narrow one, 8 rows tall: every subencoding and palette size.
      const a = rectAt(2, 1, 64 * 21 + 10, 8);
      // Tiles cut on both edges, RLE runs across rows, and a strip taller than one tile row.
      const b = rectAt(0, 10, 70, 70);
      const tilesA = buildTiles(pf, a.width, a.height, EVERY_KIND, rand);
      const tilesB = buildTiles(
        pf,
        b.width,
        b.height,
        [{ kind: "paletteRLE", colours: 5 }, { kind: "packed", colours: 3 }, { kind: "plain" }, { kind: "solid" }],
        rand,
      );
      const stream = new ServerStream();
      const data = bytes(zrleRect(stream, tilesA.tiles), zrleRect(stream, tilesB.tiles));
      const conv = converterFor(pf);
      const fbWidth = a.width + 4;
      const expected = expectRect(
        expectRect(blackFramebuffer(fbWidth, 80), fbWidth, a, tilesA.img, conv),
        fbWidth,
        b,
        tilesB.img,
        conv,
      );
      expectEverySplit(
        { fbWidth, fbHeight: 80, rects: [a, b], data, expected, stride, context: () => makeContext(fbWidth, 80, pf) },
        () => new ZRLEDecoder(),
      );
    });
  }

  it("reads CPIXELs as the low three bytes in the pixel's byte order", () => {
    const { ctx, fb } = makeContext(2, 1);
    const q = new ByteQueue();
    q.push(zrleRect(new ServerStream(), [bytes(0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66)]));
    expect(new ZRLEDecoder().decode(q, rectAt(0, 0, 2, 1), ctx)).toBeTrue();
    expect(Array.from(fb.pixels)).toEqual([0xff332211, 0xff665544]);
  });

  it("waits for the whole payload before consuming anything", () => {
    const { ctx } = makeContext(4, 4);
    const data = zrleRect(new ServerStream(), [zrleSolid(DEFAULT_PIXEL_FORMAT, 0x123456)]);
    const q = new ByteQueue();
    q.push(data.subarray(0, data.length - 1));
    const dec = new ZRLEDecoder();
    expect(dec.decode(q, rectAt(0, 0, 4, 4), ctx)).toBeFalse();
    expect(q.length).toBe(data.length - 1);
    q.push(data.subarray(data.length - 1));
    expect(dec.decode(q, rectAt(0, 0, 4, 4), ctx)).toBeTrue();
    expect(q.length).toBe(0);
  });

  describe("rejects", () => {
    const rect = rectAt(0, 0, 4, 2);
    const px = [0x10, 0x20, 0x30];
    const malformed = (tile: Uint8Array) =>
      expectProtocolError(
        makeContext(4, 2),
        new ZRLEDecoder(),
        rect,
        zrleRect(new ServerStream(), [tile]),
        "malformed",
      );

    it("undefined subencodings 17–127 and 129", () => {
      for (const sub of [17, 64, 127, 129]) malformed(bytes(sub, px));
    });

    it("a plain RLE run past the end of the tile", () => {
      malformed(bytes(128, px, 3, px, 4));
      malformed(bytes(128, px, 255, 0));
    });

    it("a palette RLE run past the end of the tile, or an index past the palette", () => {
      malformed(bytes(130, px, px, 0x80, 8));
      malformed(bytes(130, px, px, 0, 1, 0, 1, 0, 1, 0, 2));
      malformed(bytes(130, px, px, 0x81, 6, 0x82, 0));
    });

    it("a packed palette index past the palette", () => {
      // Three colours take 2 bits; index 3 does not exist.
      malformed(bytes(3, px, px, px, 0b00011011, 0));
    });

    it("tile data that is cut short or runs on past the last tile", () => {
      malformed(bytes(0, new Array<number>(4 * 2 * 3 - 1).fill(7)));
      malformed(bytes(1));
      malformed(bytes(128, px));
      malformed(bytes(1, px, 0));
    });

    it("corrupt zlib data", () => {
      expectProtocolError(makeContext(4, 2), new ZRLEDecoder(), rect, bytes(u32(4), 1, 2, 3, 4), "malformed");
    });

    it("data that inflates past anything the rectangle could need", () => {
      const data = zrleRect(new ServerStream(), [bytes(1, px), new Uint8Array(10_000)]);
      expectProtocolError(makeContext(4, 2), new ZRLEDecoder(), rect, data, "limit");
    });

    it("a compressed length over the rectangle's worst case, as soon as it arrives", () => {
      expectProtocolError(makeContext(4, 2), new ZRLEDecoder(), rect, bytes(u32(100_000)), "limit");
    });
  });
});
