// Where the remote framebuffer lands inside the display widget, and back: the one place
// that knows the scaling modes, so drawing and pointer mapping can never disagree. Pure
// arithmetic (no GI), tested under node.

/** How the remote desktop is fitted to the widget (the GSettings enum's nicks). */
export type Scaling = "fit" | "one-to-one" | "resize-remote";
export const SCALINGS: readonly Scaling[] = ["fit", "one-to-one", "resize-remote"];

/** Texture filtering when the picture is scaled. */
export type Filter = "linear" | "nearest";
export const FILTERS: readonly Filter[] = ["linear", "nearest"];

export interface Placement {
  /** Widget (logical) pixels per remote pixel. */
  readonly scale: number;
  /** The remote origin in widget coordinates. */
  readonly x: number;
  readonly y: number;
  /** The picture's size in widget coordinates. */
  readonly width: number;
  readonly height: number;
}

/**
 * Places a remote×remote desktop in a widget of `width`×`height` logical pixels on a
 * monitor with `scaleFactor` device pixels per logical pixel.
 * - one-to-one: one remote pixel per device pixel (so 1/scaleFactor logical pixels:
 *   sharp at HiDPI instead of a blurred 2× upscale), centred when the widget is larger.
 * - fit and resize-remote: the largest size that fits, keeping the aspect ratio, centred
 *   (letterboxed). resize-remote draws like fit while the server catches up with a resize.
 * The origin is snapped to whole device pixels, so a 1:1 picture never straddles them.
 */
export function place(
  mode: Scaling,
  width: number,
  height: number,
  remoteWidth: number,
  remoteHeight: number,
  scaleFactor: number,
): Placement {
  const sf = scaleFactor > 0 ? scaleFactor : 1;
  if (remoteWidth <= 0 || remoteHeight <= 0 || width <= 0 || height <= 0)
    return { scale: 1 / sf, x: 0, y: 0, width: 0, height: 0 };
  const scale = mode === "one-to-one" ? 1 / sf : Math.min(width / remoteWidth, height / remoteHeight);
  const w = remoteWidth * scale;
  const h = remoteHeight * scale;
  const snap = (v: number) => Math.round(v * sf) / sf;
  return { scale, x: snap(Math.max(0, (width - w) / 2)), y: snap(Math.max(0, (height - h) / 2)), width: w, height: h };
}

/**
 * The remote pixel under widget point (x, y), clamped to the desktop (a pointer in the
 * letterbox acts on the nearest edge, as remote-viewer does), or null before there is a
 * desktop.
 */
export function toRemote(
  p: Placement,
  remoteWidth: number,
  remoteHeight: number,
  x: number,
  y: number,
): [number, number] | null {
  if (remoteWidth <= 0 || remoteHeight <= 0 || p.scale <= 0) return null;
  const rx = Math.floor((x - p.x) / p.scale);
  const ry = Math.floor((y - p.y) / p.scale);
  return [Math.max(0, Math.min(remoteWidth - 1, rx)), Math.max(0, Math.min(remoteHeight - 1, ry))];
}

/** The remote desktop size that fills a widget of this logical size at this scale factor. */
export function remoteSizeFor(width: number, height: number, scaleFactor: number): [number, number] {
  const sf = scaleFactor > 0 ? scaleFactor : 1;
  return [Math.max(1, Math.floor(width * sf)), Math.max(1, Math.floor(height * sf))];
}

/**
 * Turns smooth scroll deltas into wheel clicks (RFB has only buttons 4–7, pressed and
 * released once per notch), keeping the remainder so slow touchpad scrolling still clicks.
 */
export class ScrollAccumulator {
  #dx = 0;
  #dy = 0;

  /** `unitsPerClick`: 1 for wheel units, more for surface-pixel deltas. Returns [clicksX, clicksY]. */
  add(dx: number, dy: number, unitsPerClick = 1): [number, number] {
    this.#dx += dx / unitsPerClick;
    this.#dy += dy / unitsPerClick;
    // A hair of tolerance: 0.4 + 0.4 + 0.4 + … must click on the third step, float or not.
    const cx = Math.trunc(this.#dx + Math.sign(this.#dx) * 1e-9);
    const cy = Math.trunc(this.#dy + Math.sign(this.#dy) * 1e-9);
    this.#dx -= cx;
    this.#dy -= cy;
    return [cx, cy];
  }

  reset(): void {
    this.#dx = 0;
    this.#dy = 0;
  }
}
