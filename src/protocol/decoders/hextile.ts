// Hextile (RFC 6143 §7.7.4): the rectangle is cut into 16×16 tiles (smaller at the right
// and bottom edges), sent left to right, top to bottom. Each tile opens with a
// subencoding mask: Raw, or a background, an optional foreground and optional
// subrectangles packed as U8 x<<4|y and U8 (w-1)<<4|(h-1) within the tile.
//
// A tile is drawn only once all of its bytes have arrived, so a partial tile leaves the
// queue untouched and the next call starts at the same tile.

import type { ByteQueue } from "../byte-queue.js";
import { ProtocolError } from "../errors.js";
import type { DecoderContext, Rect, RectDecoder } from "./decoder.js";

const RAW = 1;
const BACKGROUND_SPECIFIED = 2;
const FOREGROUND_SPECIFIED = 4;
const ANY_SUBRECTS = 8;
const SUBRECTS_COLOURED = 16;

const TILE = 16;
/** Opaque black, and the alpha bits a raw pixel is given. */
const OPAQUE = 0xff000000;

export class HextileDecoder implements RectDecoder {
  /** The current tile's top-left corner, relative to the rectangle. */
  #tx = 0;
  #ty = 0;
  /**
   * Both colours carry over from tile to tile within a rectangle (§7.7.4); a Raw tile
   * leaves them unchanged, as TigerVNC and noVNC do. The first non-raw tile must give a
   * background; should a server omit it, black stands in.
   */
  #bg = OPAQUE;
  #fg = OPAQUE;
  readonly #tile = new Uint32Array(TILE * TILE);

  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean {
    const { width: w, height: h } = rect;
    if (w === 0 || h === 0) return true;
    const px = ctx.pixels;
    const bpp = px.bytesPerPixel;
    const fb = ctx.framebuffer;
    const tile = this.#tile;
    const direct = fb.pixels;
    const stride = fb.width;
    const avail = q.length;
    // One view of everything queued; it stays valid because nothing is pushed meanwhile.
    const b = q.peekBytes(avail);
    // One little-endian load a pixel beats three byte loads (1.4 vs 2 ns in gjs 1.74).
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let pos = 0;
    let tx = this.#tx;
    let ty = this.#ty;
    let bg = this.#bg;
    let fg = this.#fg;

    while (ty < h && pos < avail) {
      const tw = Math.min(TILE, w - tx);
      const th = Math.min(TILE, h - ty);
      const mask = b[pos] ?? 0;
      let at = pos + 1;

      if (mask & RAW) {
        const n = tw * th;
        if (avail - at < n * bpp) break;
        if (direct && px.isNative) {
          // The common case, straight into the framebuffer: B, G, R, X bytes to 0xFFRRGGBB.
          for (let r = 0, s = at; r < th; r++) {
            let d = (rect.y + ty + r) * stride + rect.x + tx;
            for (const e = d + tw; d < e; d++, s += 4) direct[d] = (view.getUint32(s, true) | OPAQUE) >>> 0;
          }
        } else {
          px.convert(b, at, tile, 0, n);
          fb.putPixels(rect.x + tx, rect.y + ty, tw, th, tile, 0, tw);
        }
        pos = at + n * bpp;
      } else {
        // Size the tile before touching anything so a short tile consumes nothing.
        let need = 1;
        if (mask & BACKGROUND_SPECIFIED) need += bpp;
        if (mask & FOREGROUND_SPECIFIED) need += bpp;
        let count = 0;
        if (mask & ANY_SUBRECTS) {
          if (avail - pos < need + 1) break;
          count = b[pos + need] ?? 0;
          need += 1 + count * (mask & SUBRECTS_COLOURED ? bpp + 2 : 2);
        }
        if (avail - pos < need) break;

        if (mask & BACKGROUND_SPECIFIED) {
          bg = px.read(b, at);
          at += bpp;
        }
        if (mask & FOREGROUND_SPECIFIED) {
          fg = px.read(b, at);
          at += bpp;
        }
        if (count === 0) {
          if (direct) {
            for (let r = 0; r < th; r++)
              for (let d = (rect.y + ty + r) * stride + rect.x + tx, e = d + tw; d < e; d++) direct[d] = bg;
          } else fb.fillRect(rect.x + tx, rect.y + ty, tw, th, bg);
        } else {
          at += 1;
          const coloured = (mask & SUBRECTS_COLOURED) !== 0;
          tile.fill(bg, 0, tw * th);
          for (let i = 0; i < count; i++) {
            let colour = fg;
            if (coloured) {
              colour = px.read(b, at);
              at += bpp;
            }
            const xy = b[at] ?? 0;
            const wh = b[at + 1] ?? 0;
            at += 2;
            const sx = xy >> 4;
            const sy = xy & 15;
            const sw = (wh >> 4) + 1;
            const sh = (wh & 15) + 1;
            if (sx + sw > tw || sy + sh > th)
              throw new ProtocolError(
                "malformed",
                `Hextile subrectangle ${sw}×${sh} at (${sx}, ${sy}) lies outside its ${tw}×${th} tile`,
              );
            for (let row = sy * tw + sx, end = row + sh * tw; row < end; row += tw)
              for (let p = row, e = row + sw; p < e; p++) tile[p] = colour;
          }
          fb.putPixels(rect.x + tx, rect.y + ty, tw, th, tile, 0, tw);
        }
        pos += need;
      }

      tx += TILE;
      if (tx >= w) {
        tx = 0;
        ty += TILE;
      }
    }

    q.skip(pos);
    if (ty < h) {
      this.#tx = tx;
      this.#ty = ty;
      this.#bg = bg;
      this.#fg = fg;
      return false;
    }
    this.reset();
    return true;
  }

  reset(): void {
    this.#tx = 0;
    this.#ty = 0;
    this.#bg = OPAQUE;
    this.#fg = OPAQUE;
  }
}
