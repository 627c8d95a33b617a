// The input side of every sans-IO parser: transports push whatever chunks the socket gave
// them, parsers look ahead with `has()`/`peek*()` and consume only once a whole step is
// available. A step therefore either completes or reports "need more" without side
// effects, which is what makes feeding the same stream one byte at a time or in one piece
// produce identical results.
//
// All multi-byte integers in RFB are big-endian (RFC 6143 §7); little-endian readers exist
// for the few extension payloads that are not (QEMU audio PCM, ExtendedClipboard flags are
// still big-endian).

import { ProtocolError } from "./errors.js";

const MIN_CAPACITY = 4096;

export class ByteQueue {
  #buf = new Uint8Array(MIN_CAPACITY);
  #view = new DataView(this.#buf.buffer);
  #start = 0;
  #end = 0;
  #consumed = 0;

  /**
   * @param maxBuffered upper bound on unconsumed bytes; pushing past it is a protocol error,
   *   so a peer that never completes a message cannot grow memory without bound.
   */
  constructor(readonly maxBuffered = 64 * 1024 * 1024) {}

  /** Bytes consumed since the queue was created (a position in the input stream). */
  get consumed(): number {
    return this.#consumed;
  }

  /** Bytes pushed and not yet consumed. */
  get length(): number {
    return this.#end - this.#start;
  }

  has(n: number): boolean {
    return this.#end - this.#start >= n;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const len = this.length;
    if (len + chunk.length > this.maxBuffered)
      throw new ProtocolError("limit", `more than ${this.maxBuffered} bytes of input are waiting to be parsed`);
    if (this.#end + chunk.length > this.#buf.length) {
      if (len + chunk.length <= this.#buf.length / 2) {
        // Plenty of room once consumed bytes are dropped: compact in place.
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        let cap = this.#buf.length;
        while (cap < (len + chunk.length) * 2) cap *= 2;
        const next = new Uint8Array(cap);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
        this.#view = new DataView(next.buffer);
      }
      this.#start = 0;
      this.#end = len;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  #check(offset: number, size: number): number {
    if (offset < 0 || this.#start + offset + size > this.#end)
      throw new RangeError(`read of ${size} bytes at ${offset} past the ${this.length} available`);
    return this.#start + offset;
  }

  peekU8(offset = 0): number {
    return this.#buf[this.#check(offset, 1)] ?? 0;
  }

  peekU16(offset = 0): number {
    return this.#view.getUint16(this.#check(offset, 2));
  }

  peekU32(offset = 0): number {
    return this.#view.getUint32(this.#check(offset, 4));
  }

  peekS32(offset = 0): number {
    return this.#view.getInt32(this.#check(offset, 4));
  }

  peekU32LE(offset = 0): number {
    return this.#view.getUint32(this.#check(offset, 4), true);
  }

  /**
   * A view of the next `n` bytes without consuming them. It aliases the queue's storage
   * and is only valid until the next `push()`: copy it to keep it.
   */
  peekBytes(n: number, offset = 0): Uint8Array {
    const at = this.#check(offset, n);
    return this.#buf.subarray(at, at + n);
  }

  skip(n: number): void {
    this.#check(0, n);
    this.#start += n;
    this.#consumed += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  readU8(): number {
    const v = this.peekU8();
    this.skip(1);
    return v;
  }

  readU16(): number {
    const v = this.peekU16();
    this.skip(2);
    return v;
  }

  readU32(): number {
    const v = this.peekU32();
    this.skip(4);
    return v;
  }

  readS32(): number {
    const v = this.peekS32();
    this.skip(4);
    return v;
  }

  /** Consumes `n` bytes; the returned view is valid until the next `push()`. */
  readBytes(n: number): Uint8Array {
    const v = this.peekBytes(n);
    this.skip(n);
    return v;
  }

  /** Consumes `n` bytes into a copy the caller owns. */
  takeBytes(n: number): Uint8Array {
    return this.readBytes(n).slice();
  }
}
