// The picture porthole-bench display shows on its VNC server: an undecorated window of
// WIDTH×HEIGHT at the top left of the X display (there is no window manager to move it)
// that changes everywhere on every frame of GTK's frame clock — a repeating gradient that
// slides and changes hue, a second one across it that slides the other way, and blocks of
// pseudo-random size, place and colour — so every update the server sends is the whole
// screen. Drawn with cairo only (the bench runs it with GSK_RENDERER=cairo, keeping a GL
// stack out of the server's display). Prints "ready" once the first frame is out, then
// runs until terminated.
//
// Usage: gjs -m porthole-display-content.js WIDTH HEIGHT

import cairo from "cairo";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";
import system from "system";

const [width, height] = system.programArgs.map(Number);
if (width === undefined || height === undefined || !(width > 0 && height > 0)) {
  printerr("usage: porthole-display-content WIDTH HEIGHT");
  system.exit(2);
}

/** Horizontal pixels per repeat of the main gradient: not a multiple of the slide below. */
const PERIOD = 331;
/** Pixels the gradients slide per frame, so no pixel keeps its colour from one frame to the next. */
const SLIDE = 41;
const BLOCKS = 48;
const GC_EVERY_FRAMES = 30;

/** A hue (turns) as RGB components in 0…1, full saturation and value. */
function hue(h: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return 1 - Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5), f(3), f(1)];
}

/**
 * A horizontal gradient across [0, w] whose colour stops repeat every `period` pixels from
 * `start` on, cycling through `colours` (gjs 1.74's cairo gradients have no setExtend, so
 * the repeats are explicit stops).
 */
function repeating(
  w: number,
  start: number,
  period: number,
  colours: readonly (readonly [number, number, number])[],
): cairo.LinearGradient {
  const g = new cairo.LinearGradient(0, 0, w, 0);
  const step = period / colours.length;
  let i = 0;
  for (let x = (start % period) - period; x <= w + step; x += step, i++) {
    const [r, gr, b] = colours[i % colours.length] ?? [0, 0, 0];
    g.addColorStopRGB(Math.min(1, Math.max(0, x / w)), r, gr, b);
  }
  return g;
}

function draw(cr: cairo.Context, w: number, h: number, frame: number): void {
  const base = frame / 97;
  const colours = [0, 1, 2, 3].map((i) => hue(base + i / 4));
  cr.setSource(repeating(w, frame * SLIDE, PERIOD, colours));
  cr.rectangle(0, 0, w, h);
  cr.fill();

  // Bands of darkness and light sliding down across the hues.
  const across = new cairo.LinearGradient(0, 0, 0, h);
  const band = h / 5;
  const offset = (frame * 17) % (2 * band);
  for (let y = offset - 2 * band, dark = true; y <= h + band; y += band, dark = !dark)
    across.addColorStopRGBA(
      Math.min(1, Math.max(0, y / h)),
      dark ? 0 : 1,
      dark ? 0 : 1,
      dark ? 0 : 1,
      dark ? 0.5 : 0.35,
    );
  cr.setSource(across);
  cr.rectangle(0, 0, w, h);
  cr.fill();

  // A linear congruential generator seeded by the frame: different blocks every frame.
  let seed = (frame * 2654435761) >>> 0;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  for (let i = 0; i < BLOCKS; i++) {
    const bw = 16 + (next() % 240);
    const bh = 16 + (next() % 160);
    cr.setSourceRGB((next() & 0xff) / 255, (next() & 0xff) / 255, (next() & 0xff) / 255);
    cr.rectangle(next() % Math.max(1, w - bw), next() % Math.max(1, h - bh), bw, bh);
    cr.fill();
  }
}

Gtk.init();
let frame = 0;
let announced = false;
const area = new Gtk.DrawingArea({ content_width: width, content_height: height });
area.set_draw_func((_area, cr, w, h) => {
  draw(cr, w, h, frame);
  // The context wraps native memory the JS garbage collector does not see.
  cr.$dispose();
  if (!announced) {
    announced = true;
    // Give the first frame a moment to reach the X server before saying so.
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 300, () => {
      print("ready");
      return GLib.SOURCE_REMOVE;
    });
  }
});
area.add_tick_callback(() => {
  frame++;
  // GJS 1.74 refuses JS callbacks between the slices of an incremental collection, and a
  // refused tick or draw callback would freeze the picture for good (porthole-bench's
  // collectGarbage explains more): a full collection now and then keeps the engine from
  // starting one of its own. The heap here is small: 0.3–0.5 ms a collection, measured.
  if (frame % GC_EVERY_FRAMES === 0) system.gc();
  area.queue_draw();
  return GLib.SOURCE_CONTINUE;
});
const window = new Gtk.Window({ decorated: false, child: area, default_width: width, default_height: height });
window.present();
const loop = new GLib.MainLoop(null, false);
window.connect("close-request", () => {
  loop.quit();
  return false;
});
loop.run();
