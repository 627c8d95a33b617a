// The JPEG/PNG decoder of Tight rectangles (src/platform/images.ts): GdkPixbuf decodes, and
// the pixels reach the framebuffer's 0xAARRGGBB form exactly, on the packed path (widths a
// multiple of 4) and the byte path alike.

import GdkPixbuf from "gi://GdkPixbuf";

import { gdkImageDecoder } from "../../src/platform/images.js";
import { ProtocolError } from "../../src/protocol/errors.js";

/** A picture with every pixel different, encoded as `type`. */
function encoded(width: number, height: number, type: "jpeg" | "png"): { bytes: Uint8Array; pixbuf: GdkPixbuf.Pixbuf } {
  // GdkPixbuf's own row length for RGB: a multiple of 4 bytes.
  const stride = (width * 3 + 3) & ~3;
  const data = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([(x * 7) & 255, (y * 5) & 255, (x * y) & 255], y * stride + x * 3);
  const pixbuf = GdkPixbuf.Pixbuf.new_from_bytes(data, GdkPixbuf.Colorspace.RGB, false, 8, width, height, stride);
  const [ok, bytes] = pixbuf.save_to_bufferv(type, type === "jpeg" ? ["quality"] : [], type === "jpeg" ? ["95"] : []);
  if (!ok) throw new Error(`cannot encode ${type}`);
  return { bytes, pixbuf };
}

/** What the decoder must give: the decoded pixbuf's own bytes, as opaque 0xAARRGGBB. */
function expected(bytes: Uint8Array, type: "jpeg" | "png"): number[] {
  const loader = GdkPixbuf.PixbufLoader.new_with_type(type);
  loader.write(bytes);
  loader.close();
  const p = loader.get_pixbuf();
  if (!p) throw new Error("no pixbuf");
  const src = p.get_pixels();
  const n = p.get_n_channels();
  const out: number[] = [];
  for (let y = 0; y < p.get_height(); y++)
    for (let x = 0; x < p.get_width(); x++) {
      const s = y * p.get_rowstride() + x * n;
      out.push((0xff000000 | ((src[s] ?? 0) << 16) | ((src[s + 1] ?? 0) << 8) | (src[s + 2] ?? 0)) >>> 0);
    }
  return out;
}

describe("gdkImageDecoder", () => {
  for (const [width, height] of [
    [64, 16],
    [61, 9],
    [4, 1],
    [1, 3],
  ] as const)
    for (const type of ["jpeg", "png"] as const)
      it(`decodes a ${width}×${height} ${type.toUpperCase()} to exactly the pixbuf's pixels`, () => {
        const { bytes } = encoded(width, height, type);
        const image = type === "jpeg" ? gdkImageDecoder.decodeJpeg(bytes) : gdkImageDecoder.decodePng(bytes);
        expect([image.width, image.height]).toEqual([width, height]);
        expect(Array.from(image.pixels.subarray(0, width * height), (v) => v >>> 0)).toEqual(expected(bytes, type));
      });

  it("uses the scratch buffer it is given", () => {
    const { bytes } = encoded(8, 8, "jpeg");
    const scratch = new Uint32Array(256);
    const image = gdkImageDecoder.decodeJpeg(bytes, (n) => scratch.subarray(0, n));
    expect(image.pixels.buffer).toBe(scratch.buffer);
  });

  it("refuses a corrupt image with a protocol error", () => {
    expect(() => gdkImageDecoder.decodeJpeg(Uint8Array.of(0xff, 0xd8, 1, 2, 3))).toThrowError(ProtocolError);
  });
});
