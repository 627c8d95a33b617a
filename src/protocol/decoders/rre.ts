// RRE (RFC 6143 §7.7.3): U32 number-of-subrectangles, a background pixel, then per
// subrectangle a pixel and U16 x, y, width, height relative to the rectangle. CoRRE
// (rfbproto) is the same with U8 coordinates, so both share SubrectDecoder.

import type { ByteQueue } from "../byte-queue.js";
import { ProtocolError } from "../errors.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";

/** The most subrectangle bytes one rectangle may announce. */
const MAX_SUBRECT_BYTES = 64 * 1024 * 1024;

export class SubrectDecoder implements RectDecoder {
  /** Subrectangles still to come, or -1 before the header has been read. */
  #remaining = -1;

  /** @param coordBytes 2 for RRE's U16 coordinates, 1 for CoRRE's U8. */
  constructor(
    readonly name: string,
    readonly coordBytes: 1 | 2,
  ) {}

  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    const bpp = ctx.pixels.bytesPerPixel;
    const subrectBytes = bpp + 4 * this.coordBytes;
    const { width: w, height: h } = rect;
    const fb = ctx.framebuffer;

    if (this.#remaining < 0) {
      if (!q.has(4 + bpp)) return false;
      const count = q.peekU32(0);
      // Subrectangles may overlap, but an encoder never needs more than one per pixel; the
      // byte cap bounds the time a peer can keep us busy on a single rectangle.
      if (count > w * h || count * subrectBytes > MAX_SUBRECT_BYTES)
        throw new ProtocolError(
          "limit",
          `${this.name} rectangle ${w}×${h} announces ${count} subrectangles, more than its pixels or ${MAX_SUBRECT_BYTES} bytes allow`,
        );
      const bg = ctx.pixels.read(q.peekBytes(bpp, 4), 0);
      q.skip(4 + bpp);
      if (w > 0 && h > 0) fb.fillRect(rect.x, rect.y, w, h, bg);
      this.#remaining = count;
    }

    const n = Math.min(this.#remaining, Math.floor(q.length / subrectBytes));
    if (n > 0) {
      const b = q.peekBytes(n * subrectBytes);
      const wide = this.coordBytes === 2;
      for (let i = 0, at = 0; i < n; i++, at += subrectBytes) {
        const pixel = ctx.pixels.read(b, at);
        const c = at + bpp;
        let sx, sy, sw, sh;
        if (wide) {
          sx = ((b[c] ?? 0) << 8) | (b[c + 1] ?? 0);
          sy = ((b[c + 2] ?? 0) << 8) | (b[c + 3] ?? 0);
          sw = ((b[c + 4] ?? 0) << 8) | (b[c + 5] ?? 0);
          sh = ((b[c + 6] ?? 0) << 8) | (b[c + 7] ?? 0);
        } else {
          sx = b[c] ?? 0;
          sy = b[c + 1] ?? 0;
          sw = b[c + 2] ?? 0;
          sh = b[c + 3] ?? 0;
        }
        if (sx + sw > w || sy + sh > h)
          throw new ProtocolError(
            "malformed",
            `${this.name} subrectangle ${sw}×${sh} at (${sx}, ${sy}) lies outside its ${w}×${h} rectangle`,
          );
        if (sw > 0 && sh > 0) fb.fillRect(rect.x + sx, rect.y + sy, sw, sh, pixel);
      }
      q.skip(n * subrectBytes);
      this.#remaining -= n;
    }

    if (this.#remaining > 0) return false;
    this.#remaining = -1;
    return true;
  }

  reset(): void {
    this.#remaining = -1;
  }
}

export class RREDecoder extends SubrectDecoder {
  constructor() {
    super("RRE", 2);
  }
}
