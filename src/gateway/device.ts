// One character device served as an RFB stream (the "RFB Streams" contract, spec §N),
// shared by every client of the gateway: its output fanned out to every reader, its input
// taken from the writers in arrival order, its recent output kept for late readers. Pure
// TypeScript — the device's I/O (src/gateway/backend.ts) and the clients' connections
// call in — so node specs drive it with plain bytes and a fake clock.
//
// Output lives in one ring buffer per device; each reader has a position in the device's
// output (a byte count since the gateway started), so nothing is copied per reader until
// its client takes it as DATA. The ring holds the history (default 1 MiB, replayed on an
// OPEN that asks for it, spec §4) plus SLACK bytes:
//
// - A reader's *live lag* is the output produced since it opened (or since the history
//   it was replayed ended) that its client has not taken yet. The device is read only
//   while every reader's live lag is below SLACK, and each read asks for at most what
//   keeps it there. So a reader without credit stops the reading after SLACK bytes, and
//   the guest's UART backs up as on a real line (spec §6), and no reader's unsent bytes
//   are ever overwritten: its lag is at most the history it asked for plus SLACK, which is
//   what the ring holds.
// - With several readers, the one that stops the reading holds the others back. When
//   another reader is waiting for output (it has taken everything) while the device is
//   stopped, a timer starts; a holder still stopping the device when it fires is
//   detached and its client told CLOSED reason 7 (spec §6: "holds back for the slowest
//   reader up to a limit of its choosing, then closes that reader's stream with reason
//   7"). A lone reader is never closed: stalling the guest is flow control.
// - Without readers, the device is read continuously into the ring, so boot output is
//   kept for whoever opens the stream later.
//
// Input is queued in arrival order across writers and written one chunk at a time; each
// writer hears `written(n)` once its bytes reached the device, which is when its client
// gets credit back (spec §6: "after the bytes are consumed (written to the device …)").
// Each writer's queue is bounded by the credit its client was given, so the queue is.

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` after `ms` milliseconds; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** What the device asks of its backend. */
export interface DeviceIO {
  /**
   * Reading may go on: `readAllowance()` is positive again. The read it starts must
   * complete later, not within this call (take() hands out views of the ring).
   */
  readable(): void;
  /** Input is queued: write what `nextWrite()` returns. */
  writable(): void;
}

/** One open stream of one client, as the device sees it. */
export interface DeviceReader {
  /** New output can be taken. */
  dataAvailable(): void;
  /** The backend (dis)connected; the stream stays open (spec §4 BACKEND_STATE). */
  backendState(connected: boolean): void;
  /** `n` bytes this reader wrote have reached the device. */
  written(n: number): void;
  /** It held the other readers back past the limit: it has been detached (CLOSED reason 7). */
  slowReader(): void;
}

export interface DeviceInfo {
  /** The stream id every connection knows this device by (non-zero, spec §4). */
  readonly id: number;
  readonly name: string;
  readonly label: string;
  readonly kind: string;
  readonly writable: boolean;
  /** Bytes of output kept for late readers; 0 keeps none. */
  readonly historyBytes: number;
}

export interface DeviceLimits {
  /** The live lag at which reading stops (see the header). */
  readonly slack: number;
  /** The most one read asks for (and one write joins). */
  readonly maxRead: number;
  /** How long a reader may hold back another that waits for output. */
  readonly slowReaderMs: number;
}

export const DEFAULT_DEVICE_LIMITS: DeviceLimits = {
  slack: 128 * 1024,
  maxRead: 64 * 1024,
  slowReaderMs: 5000,
};

interface ReaderState {
  /** The next byte of output this reader takes (an absolute output position). */
  position: number;
  /** Where the history replayed to it ends; live lag counts from here. */
  historyEnd: number;
}

interface QueuedWrite {
  /** Null once its writer detached: the bytes are still written, nobody is credited. */
  reader: DeviceReader | null;
  readonly data: Uint8Array;
}

export class StreamDevice {
  readonly info: DeviceInfo;
  readonly #io: DeviceIO;
  readonly #clock: Clock;
  readonly #limits: DeviceLimits;
  readonly #ring: Uint8Array;
  /** Output bytes read from the device since the start. */
  #produced = 0;
  #readers = new Map<DeviceReader, ReaderState>();
  #writes: QueuedWrite[] = [];
  /** Bytes of the head write already written. */
  #writeOffset = 0;
  /** Bytes handed out by nextWrite() and not yet confirmed by wrote(). */
  #writing = 0;
  #queuedInput = 0;
  #connected = false;
  #cancelSlow: (() => void) | null = null;

  constructor(info: DeviceInfo, io: DeviceIO, clock: Clock, limits: DeviceLimits = DEFAULT_DEVICE_LIMITS) {
    if (!(limits.maxRead > 0 && limits.maxRead <= limits.slack))
      throw new RangeError("a device's maxRead must be positive and at most its slack");
    this.info = info;
    this.#io = io;
    this.#clock = clock;
    this.#limits = limits;
    this.#ring = new Uint8Array(info.historyBytes + limits.slack);
  }

  get connected(): boolean {
    return this.#connected;
  }

  get readers(): number {
    return this.#readers.size;
  }

  /** Output bytes read from the device so far. */
  get produced(): number {
    return this.#produced;
  }

  /** Input bytes queued for the device and not yet written. */
  get queuedInput(): number {
    return this.#queuedInput;
  }

  /** Bytes of history an OPEN asking for it would be replayed now. */
  get historyLength(): number {
    return Math.min(this.#produced, this.info.historyBytes);
  }

  // --- the backend's side ---

  /** The backend connected or went away; every reader hears it. */
  setConnected(connected: boolean): void {
    if (connected === this.#connected) return;
    this.#connected = connected;
    // Bytes handed out but not confirmed may not have reached the device: they are
    // written again after the reconnection rather than lost.
    this.#writing = 0;
    for (const reader of [...this.#readers.keys()]) if (this.#readers.has(reader)) reader.backendState(connected);
    this.#evaluate();
    if (connected) {
      if (this.#writes.length > 0) this.#io.writable();
      this.#io.readable();
    }
  }

  /** How many bytes the backend may read now; 0 while readers hold the device back. */
  readAllowance(): number {
    const { slack, maxRead } = this.#limits;
    let maxLive = 0;
    for (const r of this.#readers.values())
      maxLive = Math.max(maxLive, this.#produced - Math.max(r.position, r.historyEnd));
    return Math.max(0, Math.min(maxRead, slack - maxLive));
  }

  /** Output the backend read. It must not exceed the allowance the read was started with. */
  received(data: Uint8Array): void {
    if (data.length === 0) return;
    const ring = this.#ring;
    const capacity = ring.length;
    // Only the newest `capacity` bytes can be kept.
    const keep = data.length > capacity ? data.subarray(data.length - capacity) : data;
    let at = (this.#produced + data.length - keep.length) % capacity;
    let from = 0;
    while (from < keep.length) {
      const n = Math.min(keep.length - from, capacity - at);
      ring.set(keep.subarray(from, from + n), at);
      from += n;
      at = (at + n) % capacity;
    }
    this.#produced += data.length;
    // A backend that read beyond its allowance: a reader whose bytes were overwritten has
    // lost output, which the stream must never hide (spec §6), so it is closed as slow.
    for (const [reader, r] of [...this.#readers])
      if (this.#produced - r.position > capacity) {
        this.#readers.delete(reader);
        reader.slowReader();
      }
    for (const reader of [...this.#readers.keys()]) if (this.#readers.has(reader)) reader.dataAvailable();
    this.#evaluate();
  }

  /**
   * The next input to write, or null; the backend confirms it with wrote(). Consecutive
   * queued input (each client DATA is one entry) is joined up to `maxRead` bytes, so a
   * busy stream takes one write per chunk rather than per message.
   */
  nextWrite(): Uint8Array | null {
    if (!this.#connected || this.#writing > 0) return null;
    const head = this.#writes[0];
    if (!head) return null;
    const first = head.data.subarray(this.#writeOffset);
    let size = first.length;
    let n = 1;
    while (n < this.#writes.length && size < this.#limits.maxRead) {
      const next = this.#writes[n];
      if (!next || size + next.data.length > this.#limits.maxRead) break;
      size += next.data.length;
      n++;
    }
    if (n === 1) {
      this.#writing = first.length;
      return first;
    }
    const chunk = new Uint8Array(size);
    chunk.set(first);
    let at = first.length;
    for (let i = 1; i < n; i++) {
      const data = this.#writes[i]?.data ?? new Uint8Array(0);
      chunk.set(data, at);
      at += data.length;
    }
    this.#writing = size;
    return chunk;
  }

  /** `n` bytes of the chunk nextWrite() gave have reached the device; each writer is credited its part. */
  wrote(n: number): void {
    if (n <= 0 || n > this.#writing || this.#writes.length === 0) return;
    this.#writing = 0;
    this.#queuedInput -= n;
    let left = n;
    const credited = new Map<DeviceReader, number>();
    while (left > 0) {
      const head = this.#writes[0];
      if (!head) break;
      const take = Math.min(left, head.data.length - this.#writeOffset);
      left -= take;
      this.#writeOffset += take;
      if (head.reader) credited.set(head.reader, (credited.get(head.reader) ?? 0) + take);
      if (this.#writeOffset >= head.data.length) {
        this.#writes.shift();
        this.#writeOffset = 0;
      }
    }
    for (const [reader, bytes] of credited) reader.written(bytes);
    if (this.#writes.length > 0 && this.#connected) this.#io.writable();
  }

  // --- the clients' side ---

  /**
   * A client opens the stream: it reads from now on, or from the start of the kept
   * history when `history` is set. Returns the history length it will be sent first.
   */
  attach(reader: DeviceReader, history: boolean): number {
    const historyLength = history ? this.historyLength : 0;
    const start = this.#produced - historyLength;
    this.#readers.set(reader, { position: start, historyEnd: this.#produced });
    this.#evaluate();
    return historyLength;
  }

  /** The stream closed: it reads no more; its input still queued is still written. */
  detach(reader: DeviceReader): void {
    if (!this.#readers.delete(reader)) return;
    for (const w of this.#writes) if (w.reader === reader) w.reader = null;
    this.#evaluate();
    this.#io.readable();
  }

  /** Bytes this reader can take now. */
  available(reader: DeviceReader): number {
    const r = this.#readers.get(reader);
    return r ? this.#produced - r.position : 0;
  }

  /**
   * Up to `max` bytes of this reader's output, or null when there are none. The bytes are
   * a view of the ring when they lie in one piece (valid until the device reads again:
   * encode or copy them at once), else a copy.
   */
  take(reader: DeviceReader, max: number): Uint8Array | null {
    const r = this.#readers.get(reader);
    if (!r) return null;
    const n = Math.min(max, this.#produced - r.position);
    if (n <= 0) return null;
    const ring = this.#ring;
    const capacity = ring.length;
    const start = r.position % capacity;
    const first = Math.min(n, capacity - start);
    let out: Uint8Array;
    if (first === n) {
      out = ring.subarray(start, start + n);
    } else {
      out = new Uint8Array(n);
      out.set(ring.subarray(start, start + first));
      out.set(ring.subarray(0, n - first), first);
    }
    r.position += n;
    this.#evaluate();
    this.#io.readable();
    return out;
  }

  /** A writer's input, queued behind everyone's earlier input. */
  write(reader: DeviceReader, data: Uint8Array): void {
    if (data.length === 0) return;
    this.#writes.push({ reader, data });
    this.#queuedInput += data.length;
    if (this.#connected && this.#writing === 0) this.#io.writable();
  }

  /** The gateway is stopping: every reader is dropped without callbacks. */
  dispose(): void {
    this.#readers.clear();
    this.#writes = [];
    this.#queuedInput = 0;
    this.#cancelSlow?.();
    this.#cancelSlow = null;
  }

  // --- the slow-reader rule ---

  #liveLag(r: ReaderState): number {
    return this.#produced - Math.max(r.position, r.historyEnd);
  }

  /** Starts or stops the slow-reader timer as the readers' state requires. */
  #evaluate(): void {
    let blocked = false;
    let waiting = false;
    for (const r of this.#readers.values()) {
      if (this.#liveLag(r) >= this.#limits.slack) blocked = true;
      if (r.position === this.#produced) waiting = true;
    }
    const holding = this.#connected && blocked && waiting;
    if (holding && this.#cancelSlow === null) {
      this.#cancelSlow = this.#clock.after(this.#limits.slowReaderMs, () => {
        this.#cancelSlow = null;
        this.#closeSlowReaders();
      });
    } else if (!holding && this.#cancelSlow !== null) {
      this.#cancelSlow();
      this.#cancelSlow = null;
    }
  }

  #closeSlowReaders(): void {
    const slow = [...this.#readers].filter(([, r]) => this.#liveLag(r) >= this.#limits.slack).map(([reader]) => reader);
    for (const reader of slow) {
      this.#readers.delete(reader);
      for (const w of this.#writes) if (w.reader === reader) w.reader = null;
    }
    for (const reader of slow) reader.slowReader();
    this.#evaluate();
    this.#io.readable();
  }
}
