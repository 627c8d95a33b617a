// The remote cursor as a local Gdk.Cursor: the server draws no cursor into the framebuffer
// when it sends shapes (Cursor -239, Cursor With Alpha -314), so the local pointer must
// look like the remote one, with its hotspot, and move without a network round trip.

import Gdk from "gi://Gdk?version=4.0";

import type { CursorShape } from "../protocol/client.js";

let blank: Gdk.Cursor | null = null;

/**
 * An invisible cursor: a 0×0 shape means "hide the pointer" (rfbproto Cursor). A
 * transparent texture, because the "none" name is not in every cursor theme (and
 * new_from_name then gives null, which set_cursor() takes as the default arrow).
 */
export function blankCursor(): Gdk.Cursor {
  blank ??= Gdk.Cursor.new_from_texture(
    Gdk.MemoryTexture.new(1, 1, Gdk.MemoryFormat.B8G8R8A8, new Uint8Array(4), 4),
    0,
    0,
    null,
  );
  return blank;
}

/**
 * A cursor from a shape. CursorShape pixels are 0xAARRGGBB, not premultiplied: on a
 * little-endian host that is B, G, R, A in memory, GDK's B8G8R8A8 (straight alpha).
 */
export function cursorFromShape(shape: CursorShape): Gdk.Cursor {
  if (shape.width === 0 || shape.height === 0) return blankCursor();
  const bytes = new Uint8Array(shape.pixels.buffer, shape.pixels.byteOffset, shape.width * shape.height * 4);
  const texture = Gdk.MemoryTexture.new(shape.width, shape.height, Gdk.MemoryFormat.B8G8R8A8, bytes, shape.width * 4);
  const hotX = Math.min(shape.hotX, shape.width - 1);
  const hotY = Math.min(shape.hotY, shape.height - 1);
  return Gdk.Cursor.new_from_texture(texture, hotX, hotY, null);
}

let dot: Gdk.Cursor | null = null;

/**
 * A small dot with a dark ring, for servers that draw their pointer into the picture (QEMU
 * with a plain VGA card): it shows where the local pointer is without hiding the guest's.
 */
export function dotCursor(): Gdk.Cursor {
  if (dot) return dot;
  const size = 5;
  const px = new Uint32Array(size * size);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - 2, y - 2);
      px[y * size + x] = d <= 1 ? 0xffffffff : d <= 2.3 ? 0xff000000 : 0;
    }
  dot = cursorFromShape({ width: size, height: size, hotX: 2, hotY: 2, pixels: px });
  return dot;
}
