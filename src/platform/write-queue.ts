// Outgoing bytes joined into few, large writes. Each Gio write costs the same whatever its
// size — GI marshalling, a GTask, a main-loop dispatch, a GLib.Bytes and the wrappers the
// collector then finalizes; measured here ~25 µs of calls per write_bytes_async besides
// the callback — so what is queued while a write is under way, or within one main-loop
// turn, leaves in one write. Chunks are at most 64 KiB: below glibc's mmap threshold
// (128 KiB), so each is heap memory and not a fresh mapping that faults in page by page
// (measured: a 256 KiB GLib.Bytes 0.9 ms, a 64 KiB one 6 µs).

/** The most one write carries. */
export const WRITE_CHUNK = 64 * 1024;

interface Segment {
  readonly buffer: Uint8Array;
  fill: number;
}

export class WriteQueue {
  readonly #chunkSize: number;
  #segments: Segment[] = [];
  #length = 0;

  constructor(chunkSize = WRITE_CHUNK) {
    if (!(chunkSize > 0)) throw new RangeError("a write chunk must be at least one byte");
    this.#chunkSize = chunkSize;
  }

  /** Bytes queued and not taken. */
  get length(): number {
    return this.#length;
  }

  /**
   * Queues a copy of `bytes` behind what is queued. Into an empty queue the copy is made to
   * size (it is normally written at once: a keystroke costs no 64 KiB buffer); behind queued
   * bytes it goes into a chunk that later sends fill up.
   */
  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      let last = this.#segments.at(-1);
      if (last === undefined || last.fill === last.buffer.length) {
        const size = last === undefined ? Math.min(this.#chunkSize, bytes.length - at) : this.#chunkSize;
        last = { buffer: new Uint8Array(size), fill: 0 };
        this.#segments.push(last);
      }
      const n = Math.min(bytes.length - at, last.buffer.length - last.fill);
      last.buffer.set(at === 0 && n === bytes.length ? bytes : bytes.subarray(at, at + n), last.fill);
      last.fill += n;
      at += n;
    }
    this.#length += bytes.length;
  }

  /** The oldest queued bytes, at most one chunk, now the caller's; null when empty. */
  take(): Uint8Array | null {
    const first = this.#segments.shift();
    if (first === undefined) return null;
    this.#length -= first.fill;
    return first.fill === first.buffer.length ? first.buffer : first.buffer.subarray(0, first.fill);
  }

  /** Moves everything queued in `other` behind what is queued here. */
  append(other: WriteQueue): void {
    for (let chunk = other.take(); chunk !== null; chunk = other.take()) this.push(chunk);
  }

  clear(): void {
    this.#segments = [];
    this.#length = 0;
  }
}
