// Byte transport over Gio: TCP (IPv4/IPv6, name resolution by GResolver) or a unix
// socket. Reads arrive on the main loop and go straight to `onData`; writes are queued
// and sent as GLib.Bytes one after another (a Uint8Array handed to write_async can move
// under GC churn in gjs 1.74, measured as "Bad address" errors).

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import type { ServerAddress } from "../protocol/address.js";
import { formatServerAddress } from "../protocol/address.js";

Gio._promisify(Gio.SocketClient.prototype, "connect_async", "connect_finish");
Gio._promisify(Gio.InputStream.prototype, "read_bytes_async", "read_bytes_finish");
Gio._promisify(Gio.OutputStream.prototype, "write_bytes_async", "write_bytes_finish");

const READ_SIZE = 256 * 1024;

export interface TransportHandler {
  onData(chunk: Uint8Array): void;
  /** The connection ended: `error` is null when the peer closed or reset it. */
  onClosed(error: string | null): void;
}

export class TransportError extends Error {
  override name = "TransportError";
}

function describe(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

/** A peer that closed or reset the connection is an end, not an I/O failure to show raw. */
function isPeerClose(e: unknown): boolean {
  return (
    e instanceof GLib.Error &&
    (e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.BROKEN_PIPE) ||
      e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CONNECTION_CLOSED) ||
      e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_CONNECTED))
  );
}

/** Opens a stream connection to `address`; rejects with a TransportError in plain words. */
export async function openConnection(
  address: ServerAddress,
  cancellable: Gio.Cancellable | null = null,
  timeoutSeconds = 15,
): Promise<Gio.SocketConnection> {
  const client = new Gio.SocketClient({ timeout: timeoutSeconds });
  const connectable: Gio.SocketConnectable =
    address.kind === "unix"
      ? Gio.UnixSocketAddress.new(address.path)
      : Gio.NetworkAddress.new(address.host, address.port);
  try {
    const connection = await client.connect_async(connectable, cancellable);
    // GSocketClient's timeout also becomes the socket's I/O timeout; an RFB connection
    // may rightly be idle for hours (a still screen), so it must not outlive the connect.
    connection.get_socket().set_timeout(0);
    return connection;
  } catch (e) {
    throw new TransportError(`cannot connect to ${formatServerAddress(address)}: ${describe(e)}`);
  }
}

/** Pumps a connected IOStream: reads into `handler.onData`, writes what `send()` queues. */
export class Transport {
  #stream: Gio.IOStream;
  #handler: TransportHandler;
  #cancellable = new Gio.Cancellable();
  #queue: GLib.Bytes[] = [];
  #writing = false;
  #closed = false;

  constructor(stream: Gio.IOStream, handler: TransportHandler) {
    this.#stream = stream;
    this.#handler = handler;
    void this.#readLoop();
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(data: Uint8Array): void {
    if (this.#closed) return;
    this.#queue.push(new GLib.Bytes(data));
    if (!this.#writing) void this.#writeLoop();
  }

  /** Closes without reporting to the handler (the owner decided to close). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancellable.cancel();
    this.#stream.close_async(GLib.PRIORITY_DEFAULT, null, null);
  }

  #finish(error: string | null): void {
    if (this.#closed) return;
    this.close();
    this.#handler.onClosed(error);
  }

  async #readLoop(): Promise<void> {
    const input = this.#stream.get_input_stream();
    try {
      for (;;) {
        const bytes = await input.read_bytes_async(READ_SIZE, GLib.PRIORITY_DEFAULT, this.#cancellable);
        // close() may have run while the read was pending.
        if (this.#closed) return;
        const chunk = bytes.toArray();
        if (chunk.length === 0) {
          this.#finish(null);
          return;
        }
        this.#handler.onData(chunk);
      }
    } catch (e) {
      if (e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED)) return;
      this.#finish(isPeerClose(e) ? null : describe(e));
    }
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    const output = this.#stream.get_output_stream();
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        let bytes = this.#queue.shift();
        while (bytes && bytes.get_size() > 0) {
          const written = await output.write_bytes_async(bytes, GLib.PRIORITY_DEFAULT, this.#cancellable);
          const size = bytes.get_size();
          bytes = written < size ? new GLib.Bytes(bytes.toArray().subarray(written)) : undefined;
        }
      }
    } catch (e) {
      if (!(e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED)))
        this.#finish(isPeerClose(e) ? null : describe(e));
    } finally {
      this.#writing = false;
    }
  }
}
