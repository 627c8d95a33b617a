// `porthole-bench decode --engine limit`: the physical limit of decoding a recording, i.e.
// what no decoder can beat. An untimed first pass runs the recording through Porthole's
// client (src/protocol) and writes down, in order, everything that necessarily costs time:
//   - every zlib payload (Zlib, ZRLE, Tight basic data) with the stream it belongs to, the
//     stream resets (Tight's control bits) and how many bytes each payload inflates to;
//   - for every rectangle that changes pixels (CopyRect included), its final w×h pixels
//     (B, G, R, A: the canonical layout), which the framebuffer must receive one way or
//     another;
//   - resizes of the framebuffer.
// The timed pass then only replays that: native zlib inflate of each payload, and one
// TypedArray.set per row of each rectangle (a memcpy of w×h×4 bytes into the strided
// framebuffer). Its final framebuffer therefore equals the real one, and its hash is
// checked like every other engine's: a trace that missed a pixel write would show.
//
// Native inflate: the zlib reachable from GJS is GLib's (Gio.ZlibDecompressor over the
// system libz). Measured here (gjs 1.74, ZRLE recording: 2113 payloads, 586 kB -> 6.8 MB):
//   Gio.Converter.convert() on the decompressor, one call per payload   28-37 ms
//   Gio.ConverterInputStream over a Gio.MemoryInputStream (add_bytes,
//   read_bytes of exactly the inflated size, toArray() zero-copy)         57-63 ms
// so the limit uses convert(). Its catch: gjs 1.74 passes the caller-allocated `outbuf` as
// a temporary C copy of the JS array and never copies it back, so the inflated bytes do
// not reach JS. That is fine for a limit (zlib really inflated exactly that many bytes,
// which is checked; the copy-in of the output buffer stands in for the copy-out a usable
// API would need), but it is why no real decoder can use this path. A Tight stream reset
// starts a fresh decompressor.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { RfbClient } from "../protocol/client.js";
import { Encoding, SecurityType } from "../protocol/constants.js";
import type { ProtocolError } from "../protocol/errors.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { InflateStream } from "../protocol/inflate.js";
import { type EngineResult, type PreparedEngine, sha256 } from "./bench-engine.js";
import type { RecordingInfo } from "./recording.js";

/** Above this many bytes of rectangle pixels the trace would not fit in memory sensibly. */
const MAX_TRACE_PIXEL_BYTES = 1024 * 1024 * 1024;

const PIXEL_ENCODINGS: ReadonlySet<number> = new Set([
  Encoding.Raw,
  Encoding.CopyRect,
  Encoding.RRE,
  Encoding.CoRRE,
  Encoding.Hextile,
  Encoding.Zlib,
  Encoding.Tight,
  Encoding.ZRLE,
  Encoding.TightPNG,
]);

const OP_INFLATE = 0;
const OP_RESET = 1;
const OP_RECT = 2;
const OP_RESIZE = 3;

type Op =
  | { readonly op: typeof OP_INFLATE; readonly stream: number; readonly input: Uint8Array; readonly output: number }
  | { readonly op: typeof OP_RESET; readonly stream: number }
  | {
      readonly op: typeof OP_RECT;
      readonly x: number;
      readonly y: number;
      readonly w: number;
      readonly h: number;
      /** Where the rectangle's w×h×4 bytes start in the trace's pixel store. */
      readonly at: number;
    }
  | { readonly op: typeof OP_RESIZE; readonly w: number; readonly h: number };

interface Trace {
  readonly ops: readonly Op[];
  readonly pixels: Uint8Array;
  readonly streams: number;
  readonly framebufferUpdates: number;
  readonly rects: number;
  readonly pixelCount: number;
}

/** An InflateStream that writes every payload and reset into the trace. */
class TracingInflateStream extends InflateStream {
  constructor(
    name: string,
    readonly id: number,
    readonly ops: Op[],
  ) {
    super(name);
  }

  override inflate(input: Uint8Array, expected: number): Uint8Array {
    const out = super.inflate(input, expected);
    this.ops.push({ op: OP_INFLATE, stream: this.id, input: input.slice(), output: out.length });
    return out;
  }

  override inflateAll(input: Uint8Array, limit: number): Uint8Array {
    const out = super.inflateAll(input, limit);
    this.ops.push({ op: OP_INFLATE, stream: this.id, input: input.slice(), output: out.length });
    return out;
  }

  override reset(): void {
    super.reset();
    this.ops.push({ op: OP_RESET, stream: this.id });
  }
}

/** Porthole's real client, with its zlib streams traced. */
class TracingClient extends RfbClient {
  readonly #streams = new Map<number, TracingInflateStream>();
  readonly #ops: Op[];

  constructor(ops: Op[], ...args: ConstructorParameters<typeof RfbClient>) {
    super(...args);
    this.#ops = ops;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  override inflater(encoding: number, index: number): InflateStream {
    const key = encoding * 8 + index;
    let s = this.#streams.get(key);
    if (!s) {
      s = new TracingInflateStream(`encoding ${encoding} stream ${index}`, this.#streams.size, this.#ops);
      this.#streams.set(key, s);
    }
    return s;
  }
}

function trace(bytes: Uint8Array, info: RecordingInfo): Trace {
  const ops: Op[] = [];
  const chunks: Uint8Array[] = [];
  let stored = 0;
  let updates = 0;
  let rects = 0;
  let pixelCount = 0;
  // A holder, not a `let`: TypeScript cannot see the callback assign it.
  const outcome: { failure: ProtocolError | null } = { failure: null };
  const framebuffer = new MemoryFramebuffer();
  const client = new TracingClient(
    ops,
    {
      framebuffer,
      pixelFormat: info.pixelFormat,
      encodings: info.encodings,
      securityTypes: [SecurityType.None],
      requestUpdates: false,
    },
    {
      send: () => undefined,
      failed: (e) => {
        outcome.failure = e;
      },
      resized: (w, h) => {
        ops.push({ op: OP_RESIZE, w, h });
      },
      connected: (server) => {
        ops.push({ op: OP_RESIZE, w: server.width, h: server.height });
      },
      rectDecoded: (r) => {
        rects++;
        pixelCount += r.width * r.height;
        if (!PIXEL_ENCODINGS.has(r.encoding) || r.width === 0 || r.height === 0) return;
        const size = r.width * r.height * 4;
        if (stored + size > MAX_TRACE_PIXEL_BYTES)
          throw new Error(`the recording's rectangles hold more than ${MAX_TRACE_PIXEL_BYTES} bytes of pixels`);
        const copy = new Uint8Array(size);
        const fb = framebuffer.bytes;
        const rowBytes = r.width * 4;
        for (let row = 0; row < r.height; row++) {
          const from = ((r.y + row) * framebuffer.width + r.x) * 4;
          copy.set(fb.subarray(from, from + rowBytes), row * rowBytes);
        }
        chunks.push(copy);
        ops.push({ op: OP_RECT, x: r.x, y: r.y, w: r.width, h: r.height, at: stored });
        stored += size;
      },
      updateComplete: () => {
        updates++;
      },
    },
  );
  const chunkSize = 65536;
  for (let at = 0; at < bytes.length && outcome.failure === null; at += chunkSize)
    client.receive(bytes.subarray(at, Math.min(bytes.length, at + chunkSize)));
  if (outcome.failure !== null) throw new Error(`the recording does not decode: ${outcome.failure.message}`);
  // One contiguous store, read front to back by the timed pass.
  const pixels = new Uint8Array(stored);
  let at = 0;
  for (const c of chunks) {
    pixels.set(c, at);
    at += c.length;
  }
  return { ops, pixels, streams: client.streamCount, framebufferUpdates: updates, rects, pixelCount };
}

/** One persistent zlib stream inflated by GLib's zlib (see the header comment). */
class NativeInflateStream {
  #zlib = NativeInflateStream.#open();
  /** The caller-allocated output gjs hands to convert() (as a C copy). */
  #out = new Uint8Array(0);

  static #open(): Gio.ZlibDecompressor {
    return new Gio.ZlibDecompressor({ format: Gio.ZlibCompressorFormat.ZLIB });
  }

  reset(): void {
    this.#zlib = NativeInflateStream.#open();
  }

  /** Inflates all of `input`, which must yield exactly `output` bytes. */
  inflate(input: Uint8Array, output: number): void {
    if (this.#out.length < output) this.#out = new Uint8Array(output);
    const [, read, written] = this.#zlib.convert(input, this.#out.subarray(0, output), Gio.ConverterFlags.NONE);
    if (read !== input.length || written !== output)
      throw new Error(
        `native zlib took ${read} of ${input.length} bytes and gave ${written} where ${output} were expected`,
      );
  }
}

export function prepareLimit(bytes: Uint8Array, info: RecordingInfo): PreparedEngine {
  const t = trace(bytes, info);
  return {
    run(): EngineResult {
      const started = GLib.get_monotonic_time();
      const streams: NativeInflateStream[] = [];
      for (let i = 0; i < t.streams; i++) streams.push(new NativeInflateStream());
      let width = 0;
      let fb = new Uint8Array(0);
      const src = t.pixels;
      for (const op of t.ops) {
        switch (op.op) {
          case OP_INFLATE: {
            const s = streams[op.stream];
            if (s === undefined) throw new Error(`the trace names zlib stream ${op.stream}, which does not exist`);
            s.inflate(op.input, op.output);
            break;
          }
          case OP_RESET:
            streams[op.stream]?.reset();
            break;
          case OP_RECT: {
            const rowBytes = op.w * 4;
            for (let row = 0, from = op.at; row < op.h; row++, from += rowBytes)
              fb.set(src.subarray(from, from + rowBytes), ((op.y + row) * width + op.x) * 4);
            break;
          }
          case OP_RESIZE:
            // As Porthole's framebuffer (the trace's source): a resize starts from black.
            fb = new Uint8Array(op.w * op.h * 4);
            width = op.w;
            break;
        }
      }
      const seconds = (GLib.get_monotonic_time() - started) / 1e6;
      // Untimed: the canonical layout has A = 255 (pixels rectangles never reached are 0).
      for (let i = 3; i < fb.length; i += 4) fb[i] = 255;
      return {
        framebufferUpdates: t.framebufferUpdates,
        rects: t.rects,
        pixels: t.pixelCount,
        seconds,
        sha256: sha256(fb),
      };
    },
  };
}
