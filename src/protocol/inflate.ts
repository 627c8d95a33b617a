// Persistent zlib streams for Zlib, ZRLE and Tight. RFB keeps one stream per connection
// (Tight: four) across rectangles, each rectangle's data ending at a sync-flush boundary,
// so the dictionary must survive between calls.
//
// pako's low-level API inflates straight into a caller-sized buffer. Measured here in
// gjs 1.74 on 4 MB of framebuffer-like data: pako 28 ms, Gio.ZlibDecompressor through a
// ConverterInputStream 36 ms (its convert() cannot fill a JS buffer), fflate 52 ms; and
// on 2000 sync-flushed payloads of 1–6 KB: pako 2.1 31 ms, pako 3.0 38 ms.

import { inflate as zlibInflate, inflateInit, inflateReset } from "pako/lib/zlib/inflate.js";
import ZStream from "pako/lib/zlib/zstream.js";

import { ProtocolError } from "./errors.js";

// zlib.h's numbers, which pako uses as they are.
const Z_NO_FLUSH = 0;
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;

/** Z_STREAM_END is fine too: a server may finish a stream (and reset it, in Tight). */
const SLACK = 258;

const usable = (status: number) => status === Z_OK || status === Z_BUF_ERROR || status === Z_STREAM_END;

export class InflateStream {
  #strm = new ZStream();
  #out = new Uint8Array(0);

  constructor(readonly name: string) {
    inflateInit(this.#strm);
  }

  /**
   * Inflates all of `input` and returns exactly `expected` bytes (a view of an internal
   * buffer, valid until the next call). Fails if the data is corrupt or yields a different
   * amount: a server cannot make us allocate more than the rectangle needs.
   */
  inflate(input: Uint8Array, expected: number): Uint8Array {
    // 258 bytes of slack (zlib's longest match) keep zlib on its fast path to the very
    // end; measured on Tight's many small payloads. Output past `expected` is an error.
    const room = expected + SLACK;
    if (this.#out.length < room) this.#out = new Uint8Array(Math.max(room, this.#out.length * 2));
    const strm = this.#strm;
    strm.input = input;
    strm.next_in = 0;
    strm.avail_in = input.length;
    strm.output = this.#out;
    strm.next_out = 0;
    strm.avail_out = room;
    const status = zlibInflate(strm, Z_NO_FLUSH);
    if (!usable(status))
      throw new ProtocolError("malformed", `corrupt ${this.name} zlib data (${strm.msg || `status ${status}`})`);
    if (strm.next_out > expected || (strm.next_out === room && this.#yieldsMore()))
      throw new ProtocolError("malformed", `${this.name} zlib data holds more than the ${expected} bytes expected`);
    if (strm.next_out < expected)
      throw new ProtocolError(
        "malformed",
        `${this.name} zlib data gave ${strm.next_out} bytes where ${expected} were expected`,
      );
    // Input zlib would not take (after the end of its stream) is not ours to skip.
    if (strm.avail_in > 0)
      throw new ProtocolError("malformed", `${this.name} zlib data continues past the end of its stream`);
    return this.#out.subarray(0, expected);
  }

  /** With the output full: whether the remaining input inflates to anything at all. */
  #yieldsMore(): boolean {
    const strm = this.#strm;
    if (strm.avail_in === 0) return false;
    const spare = new Uint8Array(1);
    strm.output = spare;
    strm.next_out = 0;
    strm.avail_out = 1;
    const status = zlibInflate(strm, Z_NO_FLUSH);
    return !usable(status) || strm.next_out !== 0 || strm.avail_in > 0;
  }

  /**
   * Inflates all of `input` when the output size is not known in advance (ZRLE), up to
   * `limit` bytes. Returns a view valid until the next call.
   */
  inflateAll(input: Uint8Array, limit: number): Uint8Array {
    const strm = this.#strm;
    strm.input = input;
    strm.next_in = 0;
    strm.avail_in = input.length;
    let produced = 0;
    for (;;) {
      if (this.#out.length - produced < 65536 && this.#out.length < limit) {
        const grown = new Uint8Array(Math.min(limit, Math.max(this.#out.length * 2, produced + 65536)));
        grown.set(this.#out.subarray(0, produced));
        this.#out = grown;
      }
      strm.output = this.#out;
      strm.next_out = produced;
      strm.avail_out = this.#out.length - produced;
      const inBefore = strm.avail_in;
      const status = zlibInflate(strm, Z_NO_FLUSH);
      const progressed = strm.next_out > produced || strm.avail_in < inBefore;
      produced = strm.next_out;
      if (!usable(status))
        throw new ProtocolError("malformed", `corrupt ${this.name} zlib data (${strm.msg || `status ${status}`})`);
      if (strm.avail_in === 0 && strm.avail_out > 0) return this.#out.subarray(0, produced);
      // Input left over that zlib will not take (after the end of the stream) would loop forever.
      if (!progressed && strm.avail_out > 0)
        throw new ProtocolError("malformed", `${this.name} zlib data continues past the end of its stream`);
      if (strm.avail_out === 0 && this.#out.length >= limit) {
        // Full at the limit: fine if what is left yields nothing (the sync-flush marker).
        if (this.#yieldsMore())
          throw new ProtocolError("limit", `${this.name} zlib data inflates to more than ${limit} bytes`);
        return this.#out.subarray(0, produced);
      }
    }
  }

  reset(): void {
    inflateReset(this.#strm);
  }
}
