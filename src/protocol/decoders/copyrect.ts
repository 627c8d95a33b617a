// CopyRect (RFC 6143 §7.7.2): U16 src-x-position, U16 src-y-position; the rectangle is a
// copy of the same-sized area at that position in the client's framebuffer.

import type { ByteQueue } from "../byte-queue.js";
import { ProtocolError } from "../errors.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";

export class CopyRectDecoder implements RectDecoder {
  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    if (!q.has(4)) return false;
    const srcX = q.peekU16(0);
    const srcY = q.peekU16(2);
    const fb = ctx.framebuffer;
    if (srcX + rect.width > fb.width || srcY + rect.height > fb.height)
      throw new ProtocolError(
        "malformed",
        `CopyRect source ${rect.width}×${rect.height} at (${srcX}, ${srcY}) lies outside the ${fb.width}×${fb.height} framebuffer`,
      );
    q.skip(4);
    if (rect.width > 0 && rect.height > 0) fb.copyRect(srcX, srcY, rect.x, rect.y, rect.width, rect.height);
    return true;
  }

  reset(): void {
    // Stateless: the four header bytes are consumed only together.
  }
}
