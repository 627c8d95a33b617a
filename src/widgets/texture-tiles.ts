// The remote framebuffer as a grid of GdkTextures. GTK 4.8 cannot update part of a texture
// (no GdkMemoryTextureBuilder until 4.16), and re-creating one full-frame texture per
// update costs several ms at 1080p; measured here, a grid re-created only where dirty holds
// 60 fps where full-frame textures held 43–46. Each tile's pixels are first copied into a
// tile-sized buffer, because GdkMemoryTexture copies the whole span it is given and a tile
// addressed with the framebuffer's stride would copy every column of those rows.
//
// The tiles are R8G8B8, not the framebuffer's own B8G8R8A8: GSK's cairo renderer downloads
// every texture it draws into a cairo ARGB32 surface on every frame, and GTK 4.8 converts
// all its formats to that through floats, but for R8G8B8, which has a direct path (measured
// here for a 1920×1080 texture: 49 ms from B8G8R8A8_PREMULTIPLIED, 3.6 ms from R8G8B8).
// Dropping the alpha byte while copying a tile costs far less than that.

import Gdk from "gi://Gdk?version=4.0";
import Graphene from "gi://Graphene";
import type Gtk from "gi://Gtk?version=4.0";

/** The tiles' layout: R, G, B bytes (the framebuffer's is B, G, R, A with A = 255). */
export const TILE_FORMAT = Gdk.MemoryFormat.R8G8B8;
const TILE_BPP = 3;
export const DEFAULT_TILE_SIZE = 128;
/** Beyond 4× a full-HD desktop's magnified tiles would take over 500 MB. */
export const MAX_MAGNIFY = 4;

export class TextureTiles {
  #width = 0;
  #height = 0;
  #cols = 0;
  #rows = 0;
  #textures: (Gdk.Texture | null)[] = [];
  #scratch: Uint8Array;
  /** The same memory as 32-bit words (for #packRows). */
  #scratchWords: Uint32Array;
  #magnify = 1;
  #apron = 0;
  /** Where each texture's first pixel lies in the framebuffer (it may start before its tile). */
  #origins: Int32Array = new Int32Array(0);

  constructor(readonly tileSize = DEFAULT_TILE_SIZE) {
    if (!Number.isInteger(tileSize) || tileSize < 1)
      throw new RangeError(`tile size ${tileSize} is not a positive integer`);
    this.#scratch = new Uint8Array(tileSize * tileSize * TILE_BPP);
    this.#scratchWords = new Uint32Array(this.#scratch.buffer, 0, this.#scratch.byteLength >> 2);
  }

  get width(): number {
    return this.#width;
  }

  get height(): number {
    return this.#height;
  }

  /** Drops every texture; all tiles are dirty until the next `update()`. */
  resize(width: number, height: number): void {
    this.#width = width;
    this.#height = height;
    this.#cols = Math.ceil(width / this.tileSize);
    this.#rows = Math.ceil(height / this.tileSize);
    this.#textures = new Array<Gdk.Texture | null>(this.#cols * this.#rows).fill(null);
    this.#origins = new Int32Array(this.#cols * this.#rows * 2);
  }

  /** Marks the tiles that intersect the rectangle (clipped to the framebuffer) dirty. */
  invalidate(x: number, y: number, w: number, h: number): void {
    // With aprons a pixel also shows in its neighbours' textures.
    const a = this.#apron;
    const x0 = Math.max(0, x - a);
    const y0 = Math.max(0, y - a);
    const x1 = Math.min(this.#width, x + w + a);
    const y1 = Math.min(this.#height, y + h + a);
    if (x1 <= x0 || y1 <= y0) return;
    const t = this.tileSize;
    for (let row = Math.floor(y0 / t); row <= Math.floor((y1 - 1) / t); row++)
      for (let col = Math.floor(x0 / t); col <= Math.floor((x1 - 1) / t); col++)
        this.#textures[row * this.#cols + col] = null;
  }

  /** Number of tiles whose texture must be re-created before the next snapshot. */
  get dirtyCount(): number {
    return this.#textures.reduce((n, tex) => (tex === null ? n + 1 : n), 0);
  }

  /** Device pixels per remote pixel in the textures (see `update`). */
  get magnify(): number {
    return this.#magnify;
  }

  /**
   * Re-creates the textures of dirty tiles from `pixels` (width × height, `stride` bytes a
   * row) and returns how many it made. `magnify` > 1 makes textures with every pixel
   * repeated magnify×magnify times: GTK 4.8 scales textures only linearly (no scaling
   * filter until 4.10), so nearest-neighbour upscaling is pixel replication to a whole
   * factor, leaving the GPU at most a sub-pixel linear step.
   *
   * `apron`: when the GPU will resample (any scale but one texture pixel per device pixel),
   * each texture also holds the neighbouring tiles' edge pixels and is drawn clipped to its
   * tile. Linear filtering then blends across tile edges as across any other pixels;
   * without it every edge clamps and the grid shows as faint seams. Changing either
   * rebuilds every tile.
   */
  update(pixels: Uint8Array, stride: number, magnify = 1, apron = false): number {
    if (!Number.isInteger(magnify) || magnify < 1 || magnify > MAX_MAGNIFY)
      throw new RangeError(`magnification ${magnify} is not a whole number from 1 to ${MAX_MAGNIFY}`);
    const a = apron ? 1 : 0;
    if (magnify !== this.#magnify || a !== this.#apron) {
      this.#magnify = magnify;
      this.#apron = a;
      this.#textures.fill(null);
      const side = (this.tileSize + 2 * a) * magnify;
      this.#scratch = new Uint8Array(side * side * TILE_BPP);
      this.#scratchWords = new Uint32Array(this.#scratch.buffer, 0, this.#scratch.byteLength >> 2);
    }
    if (stride < this.#width * 4 || pixels.length < (this.#height - 1) * stride + this.#width * 4)
      throw new RangeError(
        `a ${this.#width}×${this.#height} framebuffer does not fit ${pixels.length} bytes at stride ${stride}`,
      );
    // The framebuffer as 32-bit words, once per update, when its rows allow (see #packRows).
    const words =
      stride % 4 === 0 && pixels.byteOffset % 4 === 0
        ? new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.byteLength >> 2)
        : null;
    let made = 0;
    for (let i = 0; i < this.#textures.length; i++) {
      if (this.#textures[i] !== null) continue;
      this.#textures[i] = this.#makeTexture(pixels, words, stride, i);
      made++;
    }
    return made;
  }

  #makeTexture(pixels: Uint8Array, words: Uint32Array | null, stride: number, i: number): Gdk.Texture {
    const t = this.tileSize;
    const a = this.#apron;
    const x = Math.max(0, (i % this.#cols) * t - a);
    const y = Math.max(0, Math.floor(i / this.#cols) * t - a);
    const w = Math.min(((i % this.#cols) + 1) * t + a, this.#width) - x;
    const h = Math.min((Math.floor(i / this.#cols) + 1) * t + a, this.#height) - y;
    this.#origins[i * 2] = x;
    this.#origins[i * 2 + 1] = y;
    const k = this.#magnify;
    const outRow = w * k * TILE_BPP;
    const tile = this.#scratch.subarray(0, outRow * h * k);
    if (k === 1 && w % 4 === 0 && words !== null) {
      this.#packRows(words, stride >> 2, x, y, w, h);
      return Gdk.MemoryTexture.new(w, h, TILE_FORMAT, tile, outRow);
    }
    for (let r = 0; r < h; r++) {
      const line = r * k * outRow;
      let s = (y + r) * stride + x * 4;
      let d = line;
      if (k === 1) {
        for (let c = 0; c < w; c++, s += 4, d += 3) {
          tile[d] = pixels[s + 2] ?? 0;
          tile[d + 1] = pixels[s + 1] ?? 0;
          tile[d + 2] = pixels[s] ?? 0;
        }
        continue;
      }
      for (let c = 0; c < w; c++, s += 4) {
        const red = pixels[s + 2] ?? 0;
        const green = pixels[s + 1] ?? 0;
        const blue = pixels[s] ?? 0;
        for (let j = 0; j < k; j++, d += 3) {
          tile[d] = red;
          tile[d + 1] = green;
          tile[d + 2] = blue;
        }
      }
      for (let j = 1; j < k; j++) tile.copyWithin(line + j * outRow, line, line + outRow);
    }
    return Gdk.MemoryTexture.new(w * k, h * k, TILE_FORMAT, tile, outRow);
  }

  /**
   * The common case of #makeTexture (no magnification, a width that is a multiple of 4):
   * four framebuffer pixels (B, G, R, A bytes: 0xAARRGGBB) become three little-endian words
   * of R, G, B bytes, 4 loads and 3 stores where bytes take 12 stores (measured: 4.6 vs
   * 6.1 ms for a 1920×1080 frame).
   */
  #packRows(src: Uint32Array, srcStride: number, x: number, y: number, w: number, h: number): void {
    const dst = this.#scratchWords;
    let d = 0;
    for (let r = 0; r < h; r++) {
      let s = (y + r) * srcStride + x;
      for (let q = w >> 2; q > 0; q--, s += 4, d += 3) {
        const a = src[s] ?? 0;
        const b = src[s + 1] ?? 0;
        const c = src[s + 2] ?? 0;
        const e = src[s + 3] ?? 0;
        dst[d] = ((a >> 16) & 255) | (a & 0xff00) | ((a & 255) << 16) | (((b >> 16) & 255) << 24);
        dst[d + 1] = ((b >> 8) & 255) | ((b & 255) << 8) | (c & 0xff0000) | ((c & 0xff00) << 16);
        dst[d + 2] = (c & 255) | (((e >> 16) & 255) << 8) | ((e & 0xff00) << 8) | ((e & 255) << 24);
      }
    }
  }

  /** The texture covering framebuffer pixel (x, y), or null while that tile is dirty. */
  textureAt(x: number, y: number): Gdk.Texture | null {
    const col = Math.floor(x / this.tileSize);
    const row = Math.floor(y / this.tileSize);
    if (x < 0 || y < 0 || col >= this.#cols || row >= this.#rows) return null;
    return this.#textures[row * this.#cols + col] ?? null;
  }

  /**
   * Appends every tile to `snapshot`, the framebuffer mapped to (ox, oy) with `scale`
   * widget pixels per remote pixel. Call `update()` first: dirty tiles are skipped.
   */
  appendTo(snapshot: Gtk.Snapshot, ox: number, oy: number, scale: number): void {
    const t = this.tileSize;
    const k = this.#magnify;
    for (let i = 0; i < this.#textures.length; i++) {
      const tex = this.#textures[i];
      if (!tex) continue;
      const sx = this.#origins[i * 2] ?? 0;
      const sy = this.#origins[i * 2 + 1] ?? 0;
      const bounds = new Graphene.Rect().init(
        ox + sx * scale,
        oy + sy * scale,
        (tex.get_width() / k) * scale,
        (tex.get_height() / k) * scale,
      );
      if (this.#apron === 0) {
        snapshot.append_texture(tex, bounds);
        continue;
      }
      const x = (i % this.#cols) * t;
      const y = Math.floor(i / this.#cols) * t;
      const w = Math.min(t, this.#width - x);
      const h = Math.min(t, this.#height - y);
      snapshot.push_clip(new Graphene.Rect().init(ox + x * scale, oy + y * scale, w * scale, h * scale));
      snapshot.append_texture(tex, bounds);
      snapshot.pop();
    }
  }
}
