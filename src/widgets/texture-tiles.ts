// The remote framebuffer as a grid of GdkTextures. GTK 4.8 cannot update part of a texture
// (no GdkMemoryTextureBuilder until 4.16), and re-creating one full-frame texture per
// update costs several ms at 1080p; measured here, a grid re-created only where dirty holds
// 60 fps where full-frame textures held 43–46. Each tile's pixels are first copied into a
// tile-sized buffer, because GdkMemoryTexture copies the whole span it is given and a tile
// addressed with the framebuffer's stride would copy every column of those rows.

import Gdk from "gi://Gdk?version=4.0";
import Graphene from "gi://Graphene";
import type Gtk from "gi://Gtk?version=4.0";

/** The framebuffer layout the decoders write: 4 bytes per pixel, B, G, R, A (A = 255). */
export const TILE_FORMAT = Gdk.MemoryFormat.B8G8R8A8_PREMULTIPLIED;
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
  #magnify = 1;

  constructor(readonly tileSize = DEFAULT_TILE_SIZE) {
    if (!Number.isInteger(tileSize) || tileSize < 1)
      throw new RangeError(`tile size ${tileSize} is not a positive integer`);
    this.#scratch = new Uint8Array(tileSize * tileSize * 4);
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
  }

  /** Marks the tiles that intersect the rectangle (clipped to the framebuffer) dirty. */
  invalidate(x: number, y: number, w: number, h: number): void {
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.#width, x + w);
    const y1 = Math.min(this.#height, y + h);
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
   * factor, leaving the GPU at most a sub-pixel linear step. Changing it rebuilds every tile.
   */
  update(pixels: Uint8Array, stride: number, magnify = 1): number {
    if (!Number.isInteger(magnify) || magnify < 1 || magnify > MAX_MAGNIFY)
      throw new RangeError(`magnification ${magnify} is not a whole number from 1 to ${MAX_MAGNIFY}`);
    if (magnify !== this.#magnify) {
      this.#magnify = magnify;
      this.#textures.fill(null);
      this.#scratch = new Uint8Array(this.tileSize * this.tileSize * 4 * magnify * magnify);
    }
    if (stride < this.#width * 4 || pixels.length < (this.#height - 1) * stride + this.#width * 4)
      throw new RangeError(
        `a ${this.#width}×${this.#height} framebuffer does not fit ${pixels.length} bytes at stride ${stride}`,
      );
    let made = 0;
    for (let i = 0; i < this.#textures.length; i++) {
      if (this.#textures[i] !== null) continue;
      this.#textures[i] = this.#makeTexture(pixels, stride, i % this.#cols, Math.floor(i / this.#cols));
      made++;
    }
    return made;
  }

  #makeTexture(pixels: Uint8Array, stride: number, col: number, row: number): Gdk.Texture {
    const t = this.tileSize;
    const x = col * t;
    const y = row * t;
    const w = Math.min(t, this.#width - x);
    const h = Math.min(t, this.#height - y);
    const rowBytes = w * 4;
    const k = this.#magnify;
    if (k === 1) {
      const tile = this.#scratch.subarray(0, rowBytes * h);
      for (let r = 0; r < h; r++) {
        const from = (y + r) * stride + x * 4;
        tile.set(pixels.subarray(from, from + rowBytes), r * rowBytes);
      }
      return Gdk.MemoryTexture.new(w, h, TILE_FORMAT, tile, rowBytes);
    }
    const outRow = rowBytes * k;
    const tile = this.#scratch.subarray(0, outRow * h * k);
    const src = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.byteLength >> 2);
    const dst = new Uint32Array(tile.buffer, tile.byteOffset, tile.byteLength >> 2);
    const srcStride = stride >> 2;
    const dstStride = w * k;
    for (let r = 0; r < h; r++) {
      const line = r * k * dstStride;
      for (let c = 0, s = (y + r) * srcStride + x, d = line; c < w; c++, s++)
        for (let i = 0; i < k; i++) dst[d++] = src[s] ?? 0;
      for (let i = 1; i < k; i++) dst.copyWithin(line + i * dstStride, line, line + dstStride);
    }
    return Gdk.MemoryTexture.new(w * k, h * k, TILE_FORMAT, tile, outRow);
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
    for (let i = 0; i < this.#textures.length; i++) {
      const tex = this.#textures[i];
      if (!tex) continue;
      const x = (i % this.#cols) * t;
      const y = Math.floor(i / this.#cols) * t;
      const bounds = new Graphene.Rect().init(
        ox + x * scale,
        oy + y * scale,
        (tex.get_width() / this.#magnify) * scale,
        (tex.get_height() / this.#magnify) * scale,
      );
      snapshot.append_texture(tex, bounds);
    }
  }
}
