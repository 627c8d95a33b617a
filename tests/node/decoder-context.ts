// A DecoderContext for the decoder specs, and a driver that feeds a rectangle's bytes in
// arbitrary chunks the way the client does: decode() until it returns true, pushing the
// next chunk whenever it asks for more.

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import type { DecoderContext, Rect, RectDecoder } from "../../src/protocol/decoders/decoder.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { InflateStream } from "../../src/protocol/inflate.js";
import { DEFAULT_PIXEL_FORMAT, PixelConverter, type PixelFormat } from "../../src/protocol/pixel-format.js";

export interface TestContext {
  readonly ctx: DecoderContext;
  readonly fb: MemoryFramebuffer;
}

/** A context over a fresh black `width`×`height` framebuffer; zlib streams persist per context. */
export function makeContext(width: number, height: number, pf: PixelFormat = DEFAULT_PIXEL_FORMAT): TestContext {
  const fb = new MemoryFramebuffer(width, height);
  const pixels = new PixelConverter(pf);
  const streams = new Map<string, InflateStream>();
  let scratch = new Uint32Array(0);
  const ctx: DecoderContext = {
    framebuffer: fb,
    pixels,
    inflater(encoding: number, index: number): InflateStream {
      const key = `${encoding}/${index}`;
      let s = streams.get(key);
      if (!s) {
        s = new InflateStream(key);
        streams.set(key, s);
      }
      return s;
    },
    scratch(n: number): Uint32Array {
      // Poisoned on growth so a decoder that reads scratch before writing it shows up.
      if (scratch.length < n) scratch = new Uint32Array(n).fill(0xdeadbeef);
      return scratch;
    },
    images: null,
  };
  return { ctx, fb };
}

/**
 * Pushes `chunks` one at a time into a new ByteQueue, calling `decoder.decode` until it
 * returns true; throws if it still wants more once the chunks are exhausted. Returns the
 * queue so callers can check that nothing (or exactly the trailing bytes) remained.
 */
export function decodeAll(
  decoder: RectDecoder,
  rect: Rect,
  ctx: DecoderContext,
  chunks: Iterable<Uint8Array>,
): ByteQueue {
  const q = new ByteQueue();
  const it = chunks[Symbol.iterator]();
  for (;;) {
    if (decoder.decode(q, rect, ctx)) return q;
    const next = it.next();
    if (next.done === true)
      throw new Error(`input ran out with ${q.length} bytes unconsumed and the rectangle incomplete`);
    q.push(next.value);
  }
}
