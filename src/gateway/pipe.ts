// A byte pipe over a Gio stream pair for the gateway: reads that can be paused (the
// gateway's flow control stops reading a peer whose bytes have nowhere to go), writes
// queued with their size known (so the relay can tell when a peer is slow), and what is
// sent while a write is under way joined into one write (src/platform/write-queue.ts).
// Writes go out as GLib.Bytes: a Uint8Array handed to write_async can move under GC
// churn in gjs 1.74 ("Bad address"; docs and src/platform/transport.ts).
//
// Plain AsyncReadyCallbacks, not Gio._promisify: with a read and a write pending on one
// socket at once, promisified calls lost a completion now and then in gjs 1.74, without
// any message (measured: a 16 MiB echo over a unix socket stalled for good in 2 runs of 6,
// 29 KiB short, the bytes gone from the socket and never seen; the same loop with
// callbacks completed 8 runs of 8, and ran 30 % faster).

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { WriteQueue } from "../platform/write-queue.js";
import { noteIo } from "./gc.js";

export interface PipeHandler {
  data(chunk: Uint8Array): void;
  /** The peer closed (error null) or the stream failed; the pipe is closed. */
  closed(error: string | null): void;
  /** The write backlog fell below the low-water mark after having reached it. */
  drained?(): void;
}

export interface PipeOptions {
  /** The most one read asks for (or a function of the moment, for a device's allowance). */
  readonly readSize?: number;
  /** Backlog below which `drained` is reported. */
  readonly lowWater?: number;
}

function describe(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

function isCancelled(e: unknown): boolean {
  return e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
}

/** A peer that closed or reset the connection is an end, not an error to report. */
function isPeerClose(e: unknown): boolean {
  return (
    e instanceof GLib.Error &&
    (e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.BROKEN_PIPE) ||
      e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_CLOSED) ||
      e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_CONNECTED))
  );
}

export class Pipe {
  readonly #input: Gio.InputStream;
  readonly #output: Gio.OutputStream;
  readonly #close: () => void;
  readonly #handler: PipeHandler;
  readonly #readSize: number;
  readonly #lowWater: number;
  readonly #cancellable = new Gio.Cancellable();
  readonly #queue = new WriteQueue();
  /** Bytes queued or being written. */
  #backlog = 0;
  #aboveLow = false;
  #writing = false;
  #reading = false;
  #paused = false;
  #closed = false;
  #drainWaiters: (() => void)[] = [];

  /** @param close closes the underlying connection or file (both streams). */
  constructor(
    input: Gio.InputStream,
    output: Gio.OutputStream,
    close: () => void,
    handler: PipeHandler,
    options: PipeOptions = {},
  ) {
    this.#input = input;
    this.#output = output;
    this.#close = close;
    this.#handler = handler;
    this.#readSize = options.readSize ?? 256 * 1024;
    this.#lowWater = options.lowWater ?? 256 * 1024;
  }

  /** Wraps a socket connection. */
  static forConnection(connection: Gio.IOStream, handler: PipeHandler, options?: PipeOptions): Pipe {
    return new Pipe(
      connection.get_input_stream(),
      connection.get_output_stream(),
      () => {
        connection.close_async(GLib.PRIORITY_DEFAULT, null, null);
      },
      handler,
      options,
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued and not yet written. */
  get backlog(): number {
    return this.#backlog;
  }

  /** Starts reading (call once the owner is ready for data). */
  start(): void {
    this.#readNext();
  }

  /** Stops (true) or resumes reading; a read already under way still delivers. */
  pause(paused: boolean): void {
    this.#paused = paused;
    if (!paused) this.#readNext();
  }

  /** Queues a copy of `bytes` for writing. */
  send(bytes: Uint8Array): void {
    if (this.#closed || bytes.length === 0) return;
    this.#backlog += bytes.length;
    if (this.#backlog >= this.#lowWater) this.#aboveLow = true;
    this.#queue.push(bytes);
    this.#writeNext();
  }

  /** Resolves once everything queued is written (or the pipe closed). */
  drain(): Promise<void> {
    if (this.#backlog === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Lets go of the streams without closing them, once nothing is pending (paused, and
   * drained): for TLS taking the connection over. False if a read or write is under way.
   */
  detach(): boolean {
    if (this.#reading || this.#writing || this.#backlog > 0) return false;
    this.#closed = true;
    this.#queue.clear();
    return true;
  }

  /** Closes at once without reporting to the handler. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancellable.cancel();
    this.#queue.clear();
    this.#backlog = 0;
    for (const w of this.#drainWaiters.splice(0)) w();
    this.#close();
  }

  #fail(error: string | null): void {
    if (this.#closed) return;
    this.close();
    this.#handler.closed(error);
  }

  #readNext(): void {
    if (this.#reading || this.#paused || this.#closed) return;
    this.#reading = true;
    const input = this.#input;
    input.read_bytes_async(this.#readSize, GLib.PRIORITY_DEFAULT, this.#cancellable, (_source, result) => {
      this.#reading = false;
      let chunk: Uint8Array;
      try {
        chunk = input.read_bytes_finish(result).toArray();
      } catch (e) {
        if (!isCancelled(e) && !this.#closed) this.#fail(isPeerClose(e) ? null : describe(e));
        return;
      }
      if (this.#closed) return;
      noteIo(chunk.length);
      if (chunk.length === 0) {
        this.#fail(null);
        return;
      }
      this.#handler.data(chunk);
      this.#readNext();
    });
  }

  /** Writes queued chunks one after another until the queue is empty. */
  #writeNext(): void {
    if (this.#writing || this.#closed) return;
    const chunk = this.#queue.take();
    if (chunk === null) {
      for (const w of this.#drainWaiters.splice(0)) w();
      return;
    }
    this.#writing = true;
    this.#writeBytes(new GLib.Bytes(chunk));
  }

  #writeBytes(bytes: GLib.Bytes): void {
    const output = this.#output;
    output.write_bytes_async(bytes, GLib.PRIORITY_DEFAULT, this.#cancellable, (_source, result) => {
      let written: number;
      try {
        written = output.write_bytes_finish(result);
      } catch (e) {
        this.#writing = false;
        if (!isCancelled(e)) this.#fail(isPeerClose(e) ? null : describe(e));
        return;
      }
      if (this.#closed) return;
      this.#backlog -= written;
      noteIo(written);
      const size = bytes.get_size();
      if (written < size) {
        this.#writeBytes(new GLib.Bytes(bytes.toArray().subarray(written)));
        return;
      }
      this.#writing = false;
      if (this.#aboveLow && this.#backlog < this.#lowWater) {
        this.#aboveLow = false;
        this.#handler.drained?.();
      }
      this.#writeNext();
    });
  }
}
