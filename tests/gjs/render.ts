// What a widget shows, as pixels: its last render node (Gtk.WidgetPaintable) drawn by GSK's
// cairo renderer, so comparisons do not depend on the GL driver (the same reason
// GSK_RENDERER=cairo is used for screenshots of a running app).

import GdkPixbuf from "gi://GdkPixbuf";
import Graphene from "gi://Graphene";
import Gsk from "gi://Gsk";
import Gtk from "gi://Gtk?version=4.0";

import { type Picture, pictureFromPixbuf } from "./pictures.js";

export function renderWidget(widget: Gtk.Widget): Picture {
  const width = widget.get_width();
  const height = widget.get_height();
  if (width <= 0 || height <= 0) return { width: 0, height: 0, rgb: new Uint32Array(0) };
  const snapshot = Gtk.Snapshot.new();
  Gtk.WidgetPaintable.new(widget).snapshot(snapshot, width, height);
  const node = snapshot.to_node();
  // Nothing drawn yet (no frame since it was mapped): an empty picture, which equals none.
  if (!node) return { width: 0, height: 0, rgb: new Uint32Array(0) };
  const renderer = Gsk.CairoRenderer.new();
  renderer.realize(null);
  try {
    const texture = renderer.render_texture(node, new Graphene.Rect().init(0, 0, width, height));
    const loader = GdkPixbuf.PixbufLoader.new_with_type("png");
    loader.write_bytes(texture.save_to_png_bytes());
    loader.close();
    const pixbuf = loader.get_pixbuf();
    if (!pixbuf) throw new Error("the rendered PNG did not load");
    return pictureFromPixbuf(pixbuf);
  } finally {
    renderer.unrealize();
  }
}

/** A box-filtered copy of `p` at 1/factor size (what a good downscale approximates). */
export function shrink(p: Picture, factor: number): Picture {
  const width = Math.floor(p.width / factor);
  const height = Math.floor(p.height / factor);
  const rgb = new Uint32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let dy = 0; dy < factor; dy++)
        for (let dx = 0; dx < factor; dx++) {
          const v = p.rgb[(y * factor + dy) * p.width + x * factor + dx] ?? 0;
          r += v >> 16;
          g += (v >> 8) & 0xff;
          b += v & 0xff;
        }
      const n = factor * factor;
      rgb[y * width + x] = (Math.round(r / n) << 16) | (Math.round(g / n) << 8) | Math.round(b / n);
    }
  return { width, height, rgb };
}

/** The mean absolute difference per channel (0–255) between two pictures of one size. */
export function meanDifference(a: Picture, b: Picture): number {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`${a.width}×${a.height} and ${b.width}×${b.height} pictures cannot be compared`);
  let sum = 0;
  for (let i = 0; i < a.rgb.length; i++) {
    const x = a.rgb[i] ?? 0;
    const y = b.rgb[i] ?? 0;
    sum +=
      Math.abs((x >> 16) - (y >> 16)) +
      Math.abs(((x >> 8) & 0xff) - ((y >> 8) & 0xff)) +
      Math.abs((x & 0xff) - (y & 0xff));
  }
  return sum / (a.rgb.length * 3);
}
