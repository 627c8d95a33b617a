// Zlib (rfbproto "zlib Encoding", number 6): a U32 length, then that many bytes of one
// persistent zlib stream which, for each rectangle, inflate to exactly the Raw encoding of
// it (width×height pixels in the client's pixel format). The server ends each rectangle's
// data at a flush point, so the whole payload inflates on its own once it has arrived.

import type { ByteQueue } from "../byte-queue.js";
import { Encoding } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";

/** Pixels converted per putPixels call: bounds the scratch buffer for large rectangles. */
export const BLOCK_PIXELS = 64 * 1024;

/**
 * The most compressed bytes a payload inflating to `inflated` bytes can sensibly take.
 * Deflate's stored blocks add 5 bytes per 64 KiB and a sync flush a handful more, so
 * "+1% + 1 KiB" is generous; anything longer is a peer trying to make us buffer it.
 */
export function maxCompressedLength(inflated: number): number {
  return inflated + Math.ceil(inflated / 100) + 1024;
}

export class ZlibDecoder implements RectDecoder {
  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    if (!q.has(4)) return false;
    const length = q.peekU32();
    const { width: w, height: h } = rect;
    const pixels = ctx.pixels;
    const expected = w * h * pixels.bytesPerPixel;
    if (length > maxCompressedLength(expected))
      throw new ProtocolError("limit", `a ${w}×${h} Zlib rectangle claims ${length} bytes of compressed data`);
    if (!q.has(4 + length)) return false;
    const data = ctx.inflater(Encoding.Zlib, 0).inflate(q.peekBytes(length, 4), expected);
    q.skip(4 + length);
    if (expected === 0) return true;
    const rowBytes = w * pixels.bytesPerPixel;
    const maxRows = Math.max(1, Math.floor(BLOCK_PIXELS / w));
    const dst = ctx.scratch(Math.min(h, maxRows) * w);
    for (let y = 0; y < h; y += maxRows) {
      const rows = Math.min(maxRows, h - y);
      pixels.convert(data, y * rowBytes, dst, 0, rows * w);
      ctx.framebuffer.putPixels(rect.x, rect.y + y, w, rows, dst, 0, w);
    }
    return true;
  }

  reset(): void {
    // Nothing is kept between calls: a rectangle is decoded only once all of it is queued.
  }
}
