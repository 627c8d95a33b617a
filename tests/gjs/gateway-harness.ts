// What the porthole-gateway specs share (gateway.spec.ts, gateway-console.spec.ts): the
// gateway as a child process, Porthole's own client with RFB Streams recording what
// happens, the local echo server as a device, and the collection pacing that moving
// megabytes through Gio in this process needs.

import GLib from "gi://GLib";
import system from "system";

import { VncConnection } from "../../src/platform/connection.js";
import { parseServerAddress } from "../../src/protocol/address.js";
import type { Extension } from "../../src/protocol/extension.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { type StreamOpenOptions, StreamsExtension } from "../../src/protocol/streams.js";
import { Child, programBundle, waitFor } from "./processes.js";

export const text = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * This process moves megabytes through Gio too, so it collects in full at a steady pace for
 * the reason src/gateway/gc.ts gives (gjs 1.74 drops async callbacks during incremental
 * collections, and the transfer would stall).
 */
let churn = 0;
export function paceCollections(bytes: number): void {
  churn += bytes + 1024;
  if (churn >= 1024 * 1024) {
    churn = 0;
    system.gc();
  }
}
export const bytesOf = (s: string) => new TextEncoder().encode(s);

/** porthole-gateway as a child process, stopped by PID. */
export class Gateway {
  readonly child: Child;

  private constructor(child: Child) {
    this.child = child;
  }

  /** Starts it and waits until it listens on `socket` and every `logLines` is in its log. */
  static async start(args: string[], socket: string, logLines: string[] = []): Promise<Gateway> {
    const child = new Child(["gjs", "-m", programBundle("porthole-gateway"), ...args]);
    const g = new Gateway(child);
    await child.waitUntil("its listening socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
    for (const line of logLines) await child.waitUntil(`“${line}” in its log`, () => g.log().includes(line));
    return g;
  }

  /** Takes over an already started gateway once every `logLines` is in its log. */
  static async adopt(child: Child, logLines: string[]): Promise<Gateway> {
    const g = new Gateway(child);
    for (const line of logLines) await child.waitUntil(`“${line}” in its log`, () => g.log().includes(line));
    return g;
  }

  log(): string {
    try {
      return text(GLib.file_get_contents(this.child.log)[1]);
    } catch {
      return "";
    }
  }

  /** SIGTERM; resolves with the exit status. */
  async stop(): Promise<number> {
    await this.child.stop();
    const proc = this.child.proc;
    return proc.get_if_exited() ? proc.get_exit_status() : 128 + proc.get_term_sig();
  }
}

/** Porthole's client with RFB Streams, recording what happens. */
export class StreamClient {
  readonly streams: StreamsExtension;
  readonly connection: VncConnection;
  readonly framebuffer = new MemoryFramebuffer();
  readonly events: string[] = [];
  readonly received = new Map<number, Uint8Array[]>();
  failure: Error | null = null;
  updates = 0;
  /** Called after each framebuffer update (with the monotonic time in µs). */
  onUpdate: ((now: number) => void) | null = null;
  /** Whether data is kept in `received` (not for bulk transfers: the heap would grow). */
  keep = true;
  #onData: ((id: number, bytes: Uint8Array) => void) | null = null;
  #drained: (() => void) | null = null;

  /** `extensions` go on the same connection, after the streams. */
  constructor(uri: string, password: string | null = null, extensions: readonly Extension[] = []) {
    this.streams = new StreamsExtension({
      acknowledged: (v) => this.events.push(`ack ${v}`),
      streamAdded: (info) => this.events.push(`added ${info.id} ${info.name} ${info.kind} ${info.flags}`),
      listComplete: () => this.events.push("list-complete"),
      opened: (id, info) => this.events.push(`opened ${id} history=${info.historyLength}`),
      openFailed: (id, f) => this.events.push(`open-failed ${id} ${f.status}`),
      data: (id, bytes) => {
        paceCollections(bytes.length);
        if (this.keep) {
          const list = this.received.get(id) ?? [];
          list.push(bytes);
          this.received.set(id, list);
        }
        this.streams.consumed(id, bytes.length);
        this.#onData?.(id, bytes);
      },
      closed: (id, c) => this.events.push(`closed ${id} ${c.reason}${c.local ? " local" : ""}`),
      backendState: (id, up) => this.events.push(`backend ${id} ${up ? 1 : 0}`),
      writeDrained: () => {
        this.#drained?.();
      },
    });
    this.connection = new VncConnection(
      {
        address: parseServerAddress(uri),
        framebuffer: this.framebuffer,
        securityTypes: [2, 1],
        extensions: [this.streams, ...extensions],
      },
      {
        failed: (e) => {
          this.failure = e;
        },
        credentialsRequired: () => {
          this.connection.setCredentials({ password: password ?? "" });
        },
        updateComplete: () => {
          this.updates++;
          this.onUpdate?.(GLib.get_monotonic_time());
        },
      },
    );
    this.connection.connect();
  }

  /** Data of stream `id` so far. */
  data(id: number): Uint8Array {
    const parts = this.received.get(id) ?? [];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  onData(fn: ((id: number, bytes: Uint8Array) => void) | null): void {
    this.#onData = fn;
  }

  async until(what: string, ready: () => boolean, timeoutMs = 20000): Promise<void> {
    await waitFor(
      what,
      () => {
        if (this.failure && !ready()) throw new Error(`the client failed: ${this.failure.message}`);
        return ready();
      },
      timeoutMs,
    );
  }

  async open(id: number, options: StreamOpenOptions = {}): Promise<void> {
    await this.until("the stream list", () => this.streams.listComplete);
    this.streams.open(id, options);
    await this.until(`stream ${id} to open`, () => this.events.some((e) => e.startsWith(`opened ${id}`)));
  }

  /**
   * Writes all of `bytes`; while the write queue is full it waits for the queue to drain
   * (an event of the connection, not a timer).
   */
  async write(id: number, bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + 65536));
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      const r = this.streams.write(id, piece);
      paceCollections(piece.length);
      if (r === "accepted") at += piece.length;
      else if (r === "queue-full") await drained;
      else throw new Error(`write: ${r}`);
    }
    this.#drained = null;
  }

  close(): void {
    this.connection.close();
  }
}

/** porthole-stream-device's echo device as a child process, stopped by PID. */
export async function startEchoServer(path: string): Promise<Child> {
  const child = new Child(["gjs", "-m", programBundle("porthole-stream-device"), "echo", path]);
  await child.waitForLine("ready");
  return child;
}

export function sha256(bytes: Uint8Array): string {
  return GLib.compute_checksum_for_data(GLib.ChecksumType.SHA256, bytes) ?? "";
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
