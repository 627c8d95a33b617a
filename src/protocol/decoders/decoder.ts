// The contract between the client's FramebufferUpdate parser and each encoding's decoder.

import type { ByteQueue } from "../byte-queue.js";
import type { Framebuffer } from "../framebuffer.js";
import type { InflateStream } from "../inflate.js";
import type { PixelConverter } from "../pixel-format.js";

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly encoding: number;
}

/** A decoded JPEG or PNG: canonical pixels, `width` per row. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint32Array;
}

/**
 * Image codecs the platform provides (GdkPixbuf in GJS); absent where there are none.
 * `data` is a view valid only during the call. A corrupt image throws
 * ProtocolError("malformed"). With `scratch`, the pixels may be written into the buffer it
 * returns (at least n pixels) instead of a fresh array: a Tight JPEG session decodes
 * megabytes a second, and fresh arrays for all of it keep the garbage collector busy.
 */
export interface ImageDecoder {
  decodeJpeg(data: Uint8Array, scratch?: (n: number) => Uint32Array): DecodedImage;
  decodePng(data: Uint8Array, scratch?: (n: number) => Uint32Array): DecodedImage;
}

export interface DecoderContext {
  readonly framebuffer: Framebuffer;
  readonly pixels: PixelConverter;
  /** The connection's persistent zlib stream `index` for this encoding (Tight has four). */
  inflater(encoding: number, index: number): InflateStream;
  /** A reusable buffer of at least `n` pixels; its contents are undefined. */
  scratch(n: number): Uint32Array;
  readonly images: ImageDecoder | null;
}

export interface RectDecoder {
  /**
   * Consumes the rectangle's bytes from `q`, drawing as it goes. Returns true once the
   * rectangle is complete; false when it needs more bytes, having consumed only what it
   * already applied (it keeps its own progress and is called again with more input).
   * The rectangle has already been checked against the framebuffer.
   */
  decode(q: ByteQueue, rect: Rect, ctx: DecoderContext): boolean;
  /** Forgets any partial progress (connection reset). */
  reset(): void;
}
