// TightPNG (encoding −260, from QEMU and noVNC): Tight's framing with basic compression
// replaced by PNG. The compression-control byte's high nibble is fill (8), JPEG (9) or
// PNG (10), laid out as in Tight (a TPIXEL, or a compact length and the image file); any
// other value, basic compression's 0–7 included, is malformed. Its low bits would reset
// zlib streams, but TightPNG has none, so they are ignored.

import type { ByteQueue } from "../byte-queue.js";
import { ProtocolError } from "../errors.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";
import { TightMethod, decodeFill, decodeImage } from "./tight.js";

export class TightPNGDecoder implements RectDecoder {
  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    if (!q.has(1)) return false;
    const method = q.peekU8() >> 4;
    switch (method) {
      case TightMethod.Fill:
        return decodeFill(q, rect, ctx);
      case TightMethod.Jpeg:
        return decodeImage(q, rect, ctx, "JPEG");
      case TightMethod.Png:
        return decodeImage(q, rect, ctx, "PNG");
      default:
        throw new ProtocolError("malformed", `TightPNG compression method ${method} is not defined`);
    }
  }

  reset(): void {
    // Nothing is kept between calls: a rectangle is decoded only once all of it is queued.
  }
}
