// What decoders draw into. Pixels are canonical (see pixel-format.ts): 0xAARRGGBB with
// A = 255. The client checks every rectangle against the framebuffer before a decoder
// runs, so implementations may assume in-bounds arguments.

export interface Framebuffer {
  readonly width: number;
  readonly height: number;
  /** Resizes; the contents become opaque black. */
  resize(width: number, height: number): void;
  fillRect(x: number, y: number, w: number, h: number, pixel: number): void;
  /** Copies a w×h block of canonical pixels, `srcStride` pixels per row. */
  putPixels(x: number, y: number, w: number, h: number, src: Uint32Array, srcOffset: number, srcStride: number): void;
  copyRect(srcX: number, srcY: number, x: number, y: number, w: number, h: number): void;
}

const BLACK = 0xff000000;

/** A framebuffer in memory, row by row from the top left, `width` pixels a row. */
export class MemoryFramebuffer implements Framebuffer {
  #width = 0;
  #height = 0;
  #pixels = new Uint32Array(0);

  constructor(width = 0, height = 0) {
    this.resize(width, height);
  }

  get width(): number {
    return this.#width;
  }

  get height(): number {
    return this.#height;
  }

  /** The pixels; replaced on resize. */
  get pixels(): Uint32Array {
    return this.#pixels;
  }

  /** The pixels as bytes B, G, R, A (the canonical byte layout on little-endian hosts). */
  get bytes(): Uint8Array {
    return new Uint8Array(this.#pixels.buffer, this.#pixels.byteOffset, this.#pixels.byteLength);
  }

  resize(width: number, height: number): void {
    this.#width = width;
    this.#height = height;
    this.#pixels = new Uint32Array(width * height).fill(BLACK);
  }

  fillRect(x: number, y: number, w: number, h: number, pixel: number): void {
    const p = this.#pixels;
    const stride = this.#width;
    if (w === stride) {
      p.fill(pixel, y * stride, (y + h) * stride);
      return;
    }
    for (let row = y; row < y + h; row++) p.fill(pixel, row * stride + x, row * stride + x + w);
  }

  putPixels(x: number, y: number, w: number, h: number, src: Uint32Array, srcOffset: number, srcStride: number): void {
    const p = this.#pixels;
    const stride = this.#width;
    for (let r = 0; r < h; r++) {
      const from = srcOffset + r * srcStride;
      p.set(src.subarray(from, from + w), (y + r) * stride + x);
    }
  }

  copyRect(srcX: number, srcY: number, x: number, y: number, w: number, h: number): void {
    const p = this.#pixels;
    const stride = this.#width;
    // Overlapping copies must not read rows already overwritten: walk away from the target.
    if (srcY < y) {
      for (let r = h - 1; r >= 0; r--) {
        const from = (srcY + r) * stride + srcX;
        p.copyWithin((y + r) * stride + x, from, from + w);
      }
    } else {
      for (let r = 0; r < h; r++) {
        const from = (srcY + r) * stride + srcX;
        p.copyWithin((y + r) * stride + x, from, from + w);
      }
    }
  }
}
