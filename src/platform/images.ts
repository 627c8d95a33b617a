// JPEG and PNG for Tight and Tight PNG rectangles, decoded natively by GdkPixbuf (libjpeg-
// turbo and libpng underneath) rather than in JavaScript.

import GdkPixbuf from "gi://GdkPixbuf";

import type { DecodedImage, ImageDecoder } from "../protocol/decoders/decoder.js";
import { ProtocolError } from "../protocol/errors.js";

/** Alpha 255 as an int32: stores stay int32 (a value above 2^31 is a double in SpiderMonkey). */
const OPAQUE = 0xff000000 | 0;

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
