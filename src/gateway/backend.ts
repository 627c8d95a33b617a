// The device end of a stream: the one connection the gateway keeps to each character
// device (a QEMU socket chardev serves one client at a time, so every viewer shares it),
// reconnected with back-off whenever it drops. Reads only as far as the device's readers
// allow (device.ts: a reader without credit stops the reading, so the guest's UART backs
// up), writes the writers' input in arrival order.
//
//   unix:PATH       QEMU `-chardev socket,path=PATH,server=on` (or any stream socket)
//   tcp:HOST:PORT   the same over TCP
//   pty:PATH        a terminal device, e.g. QEMU `-chardev pty` (its slave side, which
//                   QEMU puts in raw mode); opened read-write, polled without threads
//
// BREAK is supported by none of them: a socket chardev has no out-of-band signal (short
// of telnet mode), and tcsendbreak() cannot be called from GJS.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import type { DeviceIO, StreamDevice } from "./device.js";
import { noteIo } from "./gc.js";
import type { StreamBackend } from "./stream-spec.js";

Gio._promisify(Gio.SocketClient.prototype, "connect_async", "connect_finish");

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

export function describeBackend(b: StreamBackend): string {
  return b.type === "tcp" ? `tcp:${b.host.includes(":") ? `[${b.host}]` : b.host}:${b.port}` : `${b.type}:${b.path}`;
}

function describe(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

function isCancelled(e: unknown): boolean {
  return e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED);
}

interface Opened {
  readonly input: Gio.InputStream;
  readonly output: Gio.OutputStream;
  close(): void;
}

/** Opens a terminal device for pollable (thread-free) reads and writes. */
function openPty(path: string): Opened {
  const file = Gio.File.new_for_path(path);
  const stream = file.open_readwrite(null);
  // GLocalFileIOStream reads through a thread and cannot be cancelled; the descriptor
  // under it, wrapped as a unix stream, is polled by the main loop instead.
  const fd = Gio.FileDescriptorBased.prototype.get_fd.call(stream.get_input_stream());
  GLib.unix_set_fd_nonblocking(fd, true);
  const input = Gio.UnixInputStream.new(fd, false);
  const output = Gio.UnixOutputStream.new(fd, false);
  return {
    input,
    output,
    close: () => {
      stream.close(null);
    },
  };
}

async function openSocket(backend: StreamBackend, cancellable: Gio.Cancellable): Promise<Opened> {
  const address: Gio.SocketConnectable =
    backend.type === "tcp"
      ? Gio.NetworkAddress.new(backend.host, backend.port)
      : Gio.UnixSocketAddress.new(backend.path);
  const client = new Gio.SocketClient({ timeout: 10 });
  const connection = await client.connect_async(address, cancellable);
  connection.get_socket().set_timeout(0);
  return {
    input: connection.get_input_stream(),
    output: connection.get_output_stream(),
    close: () => {
      connection.close_async(GLib.PRIORITY_DEFAULT, null, null);
    },
  };
}

export class DeviceBackend implements DeviceIO {
  readonly backend: StreamBackend;
  readonly #name: string;
  readonly #log: (line: string) => void;
  #device: StreamDevice | null = null;
  #opened: Opened | null = null;
  /** Cancels the current connection's I/O (and a pending connect). */
  #cancellable = new Gio.Cancellable();
  #reading = false;
  #writing = false;
  #retryMs = FIRST_RETRY_MS;
  #retrySource = 0;
  #stopped = false;
  /** Whether the last attempt's failure was logged (only changes of state are). */
  #failureLogged = false;

  constructor(name: string, backend: StreamBackend, log: (line: string) => void) {
    this.#name = name;
    this.backend = backend;
    this.#log = log;
  }

  /** Starts connecting to the device (and keeps reconnecting). */
  start(device: StreamDevice): void {
    this.#device = device;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retrySource) GLib.source_remove(this.#retrySource);
    this.#retrySource = 0;
    this.#cancellable.cancel();
    this.#opened?.close();
    this.#opened = null;
  }

  // --- DeviceIO ---

  readable(): void {
    this.#readNext();
  }

  writable(): void {
    this.#writeNext();
  }

  // --- internals ---

  #connect(): void {
    if (this.#stopped) return;
    const cancellable = new Gio.Cancellable();
    this.#cancellable = cancellable;
    const backend = this.backend;
    const opening =
      backend.type === "pty"
        ? new Promise<Opened>((resolve) => {
            resolve(openPty(backend.path));
          })
        : openSocket(backend, cancellable);
    opening.then(
      (opened) => {
        if (this.#stopped || cancellable.is_cancelled()) {
          opened.close();
          return;
        }
        this.#opened = opened;
        this.#retryMs = FIRST_RETRY_MS;
        this.#failureLogged = false;
        this.#log(`${this.#name}: connected to ${describeBackend(this.backend)}`);
        this.#device?.setConnected(true);
        this.#readNext();
        this.#writeNext();
      },
      (e: unknown) => {
        if (this.#stopped || isCancelled(e)) return;
        if (!this.#failureLogged) {
          this.#failureLogged = true;
          this.#log(`${this.#name}: cannot open ${describeBackend(this.backend)}: ${describe(e)}; retrying`);
        }
        this.#retry();
      },
    );
  }

  #retry(): void {
    if (this.#stopped || this.#retrySource) return;
    const ms = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#retrySource = GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
      this.#retrySource = 0;
      this.#connect();
      return GLib.SOURCE_REMOVE;
    });
  }

  /** The connection ended: readers hear BACKEND_STATE 0, and it is opened again. */
  #lost(why: string): void {
    const opened = this.#opened;
    if (!opened) return;
    this.#opened = null;
    this.#cancellable.cancel();
    opened.close();
    this.#log(`${this.#name}: ${why}; reconnecting`);
    this.#failureLogged = true;
    this.#device?.setConnected(false);
    this.#retry();
  }

  #readNext(): void {
    const opened = this.#opened;
    const device = this.#device;
    if (this.#reading || !opened || !device) return;
    const allowance = device.readAllowance();
    if (allowance <= 0) return;
    this.#reading = true;
    // Plain callbacks rather than Gio._promisify: see pipe.ts.
    opened.input.read_bytes_async(allowance, GLib.PRIORITY_DEFAULT, this.#cancellable, (_source, result) => {
      this.#reading = false;
      let chunk: Uint8Array;
      try {
        chunk = opened.input.read_bytes_finish(result).toArray();
      } catch (e) {
        if (!isCancelled(e) && this.#opened === opened) this.#lost(`reading failed: ${describe(e)}`);
        return;
      }
      if (this.#opened !== opened) return;
      noteIo(chunk.length);
      if (chunk.length === 0) {
        this.#lost("the device closed the connection");
        return;
      }
      device.received(chunk);
      this.#readNext();
    });
  }

  /** Writes what the device has queued, one chunk at a time. */
  #writeNext(): void {
    const opened = this.#opened;
    const device = this.#device;
    if (this.#writing || !opened || !device) return;
    const chunk = device.nextWrite();
    if (chunk === null) return;
    this.#writing = true;
    opened.output.write_bytes_async(
      new GLib.Bytes(chunk),
      GLib.PRIORITY_DEFAULT,
      this.#cancellable,
      (_source, result) => {
        this.#writing = false;
        let written: number;
        try {
          written = opened.output.write_bytes_finish(result);
        } catch (e) {
          if (!isCancelled(e) && this.#opened === opened) this.#lost(`writing failed: ${describe(e)}`);
          return;
        }
        noteIo(written);
        if (this.#opened !== opened) return;
        device.wrote(written);
        this.#writeNext();
      },
    );
  }
}
