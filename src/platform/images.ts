// JPEG and PNG for Tight and Tight PNG rectangles, decoded natively by GdkPixbuf (libjpeg-
// turbo and libpng underneath) rather than in JavaScript.

import GdkPixbuf from "gi://GdkPixbuf";

import type { DecodedImage, ImageDecoder } from "../protocol/decoders/decoder.js";
import { ProtocolError } from "../protocol/errors.js";

/** Alpha 255 as an int32: stores stay int32 (a value above 2^31 is a double in SpiderMonkey). */
const OPAQUE = 0xff000000 | 0;

/**
 * R, G, B rows to opaque pixels four at a time: three little-endian words in, four pixels
 * out, where bytes take twelve loads (the JPEG path's one per-pixel loop, as in
 * texture-tiles.ts). Needs 4-byte aligned rows and a width that is a multiple of 4.
 */
function unpackRgb(src: Uint8Array, stride: number, width: number, height: number, pixels: Uint32Array): void {
  const words = new Uint32Array(src.buffer, src.byteOffset, src.byteLength >> 2);
  const rowWords = stride >> 2;
  let d = 0;
  for (let y = 0; y < height; y++) {
    let s = y * rowWords;
    for (let q = width >> 2; q > 0; q--, s += 3, d += 4) {
      const a = words[s] ?? 0;
      const b = words[s + 1] ?? 0;
      const c = words[s + 2] ?? 0;
      pixels[d] = OPAQUE | ((a & 255) << 16) | (a & 0xff00) | ((a >> 16) & 255);
      pixels[d + 1] = OPAQUE | ((a >>> 24) << 16) | ((b & 255) << 8) | ((b >> 8) & 255);
      pixels[d + 2] = OPAQUE | (((b >> 16) & 255) << 16) | ((b >>> 24) << 8) | (c & 255);
      pixels[d + 3] = OPAQUE | (((c >> 8) & 255) << 16) | (((c >> 16) & 255) << 8) | (c >>> 24);
    }
  }
}

function decode(data: Uint8Array, type: "jpeg" | "png", scratch?: (n: number) => Uint32Array): DecodedImage {
  let pixbuf: GdkPixbuf.Pixbuf | null;
  try {
    const loader = GdkPixbuf.PixbufLoader.new_with_type(type);
    loader.write(data);
    loader.close();
    pixbuf = loader.get_pixbuf();
  } catch (e) {
    throw new ProtocolError("malformed", `the server sent a corrupt ${type.toUpperCase()} image (${String(e)})`);
  }
  if (!pixbuf) throw new ProtocolError("malformed", `the server sent an empty ${type.toUpperCase()} image`);
  const width = pixbuf.get_width();
  const height = pixbuf.get_height();
  const n = pixbuf.get_n_channels();
  const stride = pixbuf.get_rowstride();
  // read_pixel_bytes() shares the pixbuf's memory and toArray() views it without a copy;
  // get_pixels() would copy every image into the JS heap.
  const src = pixbuf.read_pixel_bytes().toArray();
  const pixels = scratch ? scratch(width * height) : new Uint32Array(width * height);
  // Pixbufs are R, G, B[, A] bytes; the framebuffer is opaque (an alpha channel in a
  // Tight PNG is ignored, as other viewers do).
  if (n === 3 && width % 4 === 0 && stride % 4 === 0 && src.byteOffset % 4 === 0) {
    unpackRgb(src, stride, width, height, pixels);
    return { width, height, pixels };
  }
  for (let y = 0; y < height; y++) {
    let s = y * stride;
    let d = y * width;
    for (let x = 0; x < width; x++, s += n, d++)
      pixels[d] = OPAQUE | ((src[s] ?? 0) << 16) | ((src[s + 1] ?? 0) << 8) | (src[s + 2] ?? 0);
  }
  return { width, height, pixels };
}

export const gdkImageDecoder: ImageDecoder = {
  decodeJpeg: (data, scratch) => decode(data, "jpeg", scratch),
  decodePng: (data, scratch) => decode(data, "png", scratch),
};
