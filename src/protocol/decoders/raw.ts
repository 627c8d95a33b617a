// Raw (RFC 6143 §7.7.1): width×height pixels in the client's pixel format, left to right,
// top to bottom. A full-screen rectangle is megabytes, so whole rows are drawn as soon as
// they arrive instead of buffering the rectangle.

import type { ByteQueue } from "../byte-queue.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";

/** Pixels converted per putPixels call: bounds the scratch buffer for wide rectangles. */
const BLOCK_PIXELS = 64 * 1024;

export class RawDecoder implements RectDecoder {
  /** Rows of the current rectangle already drawn. */
  #row = 0;

  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    const { width: w, height: h } = rect;
    if (w === 0 || h === 0) return true;
    const bpp = ctx.pixels.bytesPerPixel;
    const rowBytes = w * bpp;
    const maxRows = Math.max(1, Math.floor(BLOCK_PIXELS / w));
    while (this.#row < h) {
      const rows = Math.min(h - this.#row, maxRows, Math.floor(q.length / rowBytes));
      if (rows === 0) return false;
      const n = rows * w;
      const dst = ctx.scratch(n);
      ctx.pixels.convert(q.peekBytes(rows * rowBytes), 0, dst, 0, n);
      ctx.framebuffer.putPixels(rect.x, rect.y + this.#row, w, rows, dst, 0, w);
      q.skip(rows * rowBytes);
      this.#row += rows;
    }
    this.#row = 0;
    return true;
  }

  reset(): void {
    this.#row = 0;
  }
}
