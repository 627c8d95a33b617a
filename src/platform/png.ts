// Writes canonical framebuffer pixels (0xAARRGGBB) as PNG through GdkPixbuf.

import GdkPixbuf from "gi://GdkPixbuf";
import GLib from "gi://GLib";

/** RGB bytes, 3 per pixel, for a GdkPixbuf without alpha: a capture is opaque. */
function toRgb(pixels: Uint32Array): Uint8Array {
  const rgb = new Uint8Array(pixels.length * 3);
  for (let i = 0, o = 0; i < pixels.length; i++, o += 3) {
    const p = pixels[i] ?? 0;
    rgb[o] = (p >>> 16) & 0xff;
    rgb[o + 1] = (p >>> 8) & 0xff;
    rgb[o + 2] = p & 0xff;
  }
  return rgb;
}

export function pixbufFromPixels(width: number, height: number, pixels: Uint32Array): GdkPixbuf.Pixbuf {
  return GdkPixbuf.Pixbuf.new_from_bytes(
    new GLib.Bytes(toRgb(pixels)),
    GdkPixbuf.Colorspace.RGB,
    false,
    8,
    width,
    height,
    width * 3,
  );
}

export function savePng(path: string, width: number, height: number, pixels: Uint32Array): void {
  if (width === 0 || height === 0) throw new Error("the desktop is empty (0×0): there is nothing to save");
  pixbufFromPixels(width, height, pixels).savev(path, "png", [], []);
}
