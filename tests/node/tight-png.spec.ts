import { Encoding } from "../../src/protocol/constants.js";
import type { DecodedImage, Rect } from "../../src/protocol/decoders/decoder.js";
import { TightPNGDecoder } from "../../src/protocol/decoders/tight-png.js";
import { DEFAULT_PIXEL_FORMAT } from "../../src/protocol/pixel-format.js";
import { makeContext } from "./decoder-context.js";
import { PF16_BE, bytes } from "./encode-basic.js";
import {
  TightServer,
  compactLength,
  concat,
  contextFor,
  expectEverySplit,
  expectProtocolError,
  fakeImages,
} from "./encode-zlib.js";

const rectAt = (x: number, y: number, width: number, height: number): Rect => ({
  x,
  y,
  width,
  height,
  encoding: Encoding.TightPNG,
});

describe("TightPNGDecoder", () => {
  const jpeg = Uint8Array.from({ length: 150 }, (_v, i) => (i * 13) & 0xff);
  const png = Uint8Array.from({ length: 20_000 }, (_v, i) => (i * 31 + (i >> 8)) & 0xff);
  const image: DecodedImage = {
    width: 2,
    height: 3,
    pixels: Uint32Array.of(0xff102030, 0xff405060, 0xff708090, 0xffa0b0c0, 0xffd0e0f0, 0xff123456),
  };
  const images = fakeImages(jpeg, png, image);

  it("decodes fill, JPEG and PNG rectangles, however split", () => {
    // The reset bits have no streams to act on in TightPNG and must not get in the way.
    const s = new TightServer(DEFAULT_PIXEL_FORMAT)
      .fill(rectAt(0, 0, 6, 6), 0x336699, 0b1111)
      .image(rectAt(1, 1, 2, 3), 9, jpeg, image.pixels)
      .fill(rectAt(4, 0, 2, 2), 0xfedcba)
      .image(rectAt(3, 2, 2, 3), 10, png, image.pixels, 0b0010);
    expectEverySplit(
      {
        fbWidth: 6,
        fbHeight: 6,
        rects: s.rects,
        data: s.data,
        expected: s.expected(6, 6),
        context: contextFor(DEFAULT_PIXEL_FORMAT, 6, 6, images),
        // The PNG's 20 000 bytes (a 3-byte compact length) make every point slow to try.
        stride: 499,
      },
      () => new TightPNGDecoder(),
    );
  });

  it("fills with a 16 bpp TPIXEL", () => {
    const s = new TightServer(PF16_BE).fill(rectAt(1, 1, 2, 2), 0xf800).fill(rectAt(0, 3, 4, 1), 0x07e0);
    expectEverySplit(
      {
        fbWidth: 4,
        fbHeight: 4,
        rects: s.rects,
        data: s.data,
        expected: s.expected(4, 4),
        context: contextFor(PF16_BE, 4, 4),
      },
      () => new TightPNGDecoder(),
    );
  });

  it("rejects basic compression and undefined methods", () => {
    for (const control of [0x00, 0x40, 0x70, 0xb0, 0xf0])
      expectProtocolError(
        makeContext(4, 4),
        new TightPNGDecoder(),
        rectAt(0, 0, 1, 1),
        bytes(control, 0, 0, 0, 0),
        "malformed",
      );
  });

  it("rejects an image whose size is not the rectangle's", () => {
    const t = contextFor(DEFAULT_PIXEL_FORMAT, 8, 8, images)();
    const data = concat([bytes(0xa0, compactLength(png.length)), png]);
    expectProtocolError(t, new TightPNGDecoder(), rectAt(0, 0, 3, 2), data, "malformed");
  });

  it("reports JPEG and PNG as unsupported when there is no image decoder", () => {
    for (const control of [0x90, 0xa0])
      expectProtocolError(
        makeContext(4, 4),
        new TightPNGDecoder(),
        rectAt(0, 0, 1, 1),
        bytes(control, 1, 0),
        "unsupported",
      );
  });
});
