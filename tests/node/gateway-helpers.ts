// A rig for the gateway's pure parts: Relays between viewers (Porthole's own RfbClient
// with StreamsExtension, or a raw byte viewer for hostile input) and a scripted upstream
// RFB server, StreamDevices with fake backends and a fake clock. Bytes move only when
// `settle()` runs, so nothing re-enters a relay while it is working, as on a main loop.

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { type ClientHandler, RfbClient } from "../../src/protocol/client.js";
import { ClientMessageParser, type ParsedClientMessage } from "../../src/protocol/client-messages.js";
import { Encoding } from "../../src/protocol/constants.js";
import type { ProtocolError } from "../../src/protocol/errors.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { StreamsExtension, type StreamsListener } from "../../src/protocol/streams.js";
import { formatVersion } from "../../src/protocol/version.js";
import { type Clock, type DeviceIO, type DeviceLimits, StreamDevice } from "../../src/gateway/device.js";
import { Relay, type RelayLimits } from "../../src/gateway/relay.js";
import { ascii } from "./helpers.js";

export const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
export const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
export const s32 = (n: number) => u32(n >>> 0);

export class FakeClock implements Clock {
  #now = 0;
  #timers: { at: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): () => void {
    const t = { at: this.#now + ms, fn, live: true };
    this.#timers.push(t);
    return () => {
      t.live = false;
    };
  }

  advance(ms: number): void {
    this.#now += ms;
    for (const t of [...this.#timers])
      if (t.live && t.at <= this.#now) {
        t.live = false;
        t.fn();
      }
    this.#timers = this.#timers.filter((t) => t.live);
  }
}

/**
 * A device's far end: what the gateway wrote, and output waiting to be read, which is
 * handed over only as far as the device's read allowance goes (as a real read is).
 */
export class FakeBackend implements DeviceIO {
  device!: StreamDevice;
  readonly written: number[] = [];
  /** Output the device has not read yet. */
  pending: number[] = [];
  /** Echo everything written back as output. */
  echo = false;
  /** Complete writes as soon as they are asked for. */
  autoWrite = true;
  readableCalls = 0;

  readable(): void {
    this.readableCalls++;
  }

  writable(): void {
    if (this.autoWrite) this.flushWrites();
  }

  flushWrites(): void {
    for (let chunk = this.device.nextWrite(); chunk !== null; chunk = this.device.nextWrite()) {
      this.written.push(...chunk);
      if (this.echo) this.pending.push(...chunk);
      this.device.wrote(chunk.length);
    }
  }

  /** Queues output for the device. */
  output(data: number[] | string): void {
    this.pending.push(...(typeof data === "string" ? ascii(data) : data));
  }

  /** Lets the device read what it allows; returns the bytes it took. */
  pumpReads(): number {
    let total = 0;
    for (;;) {
      if (!this.device.connected || this.pending.length === 0) return total;
      const n = Math.min(this.device.readAllowance(), this.pending.length);
      if (n <= 0) return total;
      this.device.received(Uint8Array.from(this.pending.splice(0, n)));
      total += n;
    }
  }
}

export interface RigDevice {
  readonly device: StreamDevice;
  readonly backend: FakeBackend;
}

/** A scripted RFB 3.8 server without authentication: ServerInit, then raw updates on request. */
export class FakeUpstream {
  readonly received: ParsedClientMessage[] = [];
  readonly #q = new ByteQueue();
  #phase: "version" | "security" | "init" | "messages" = "version";
  #parser = new ClientMessageParser({ handshake: false });
  pixelFormat: PixelFormat = DEFAULT_PIXEL_FORMAT;
  /** Answer non-incremental FramebufferUpdateRequests with a whole-screen raw update. */
  answerRequests = true;
  /** Bytes for the relay, in the chunks they are "sent" in. */
  readonly out: Uint8Array[] = [];
  shared: boolean | null = null;

  constructor(
    readonly width = 16,
    readonly height = 8,
  ) {
    this.out.push(ascii("RFB 003.008\n"));
  }

  receive(chunk: Uint8Array): void {
    if (this.#phase === "messages") {
      for (const m of this.#parser.receive(chunk)) this.#message(m);
      return;
    }
    this.#q.push(chunk);
    for (;;) {
      if (this.#phase === "version") {
        if (!this.#q.has(12)) return;
        this.#q.skip(12);
        this.out.push(Uint8Array.of(1, 1));
        this.#phase = "security";
      } else if (this.#phase === "security") {
        if (!this.#q.has(1)) return;
        this.#q.skip(1);
        this.out.push(Uint8Array.from(u32(0)));
        this.#phase = "init";
      } else {
        // ClientInit.
        if (!this.#q.has(1)) return;
        this.shared = this.#q.readU8() !== 0;
        this.out.push(
          Uint8Array.from([
            ...u16(this.width),
            ...u16(this.height),
            ...encodePixelFormat(DEFAULT_PIXEL_FORMAT),
            ...u32(4),
            ...ascii("fake"),
          ]),
        );
        this.#phase = "messages";
        const rest = this.#q.length > 0 ? this.#q.takeBytes(this.#q.length) : null;
        if (rest) this.receive(rest);
        return;
      }
    }
  }

  #message(m: ParsedClientMessage): void {
    this.received.push(m);
    if (m.type === "set-pixel-format") this.pixelFormat = m.pixelFormat;
    // Only full requests are answered: a still screen has nothing for incremental ones.
    if (m.type === "framebuffer-update-request" && !m.incremental && this.answerRequests)
      this.out.push(this.rawUpdate(1));
  }

  /** A whole-screen raw update in the client's format, every pixel `value` (low byte). */
  rawUpdate(value: number): Uint8Array {
    const bpp = this.pixelFormat.bitsPerPixel / 8;
    const pixels = new Uint8Array(this.width * this.height * bpp).fill(value);
    return Uint8Array.from([
      0,
      0,
      ...u16(1),
      ...u16(0),
      ...u16(0),
      ...u16(this.width),
      ...u16(this.height),
      ...s32(Encoding.Raw),
      ...pixels,
    ]);
  }
}

export interface RigViewer {
  readonly relay: Relay;
  readonly upstream: FakeUpstream;
  /** Bytes the relay sent the viewer, in order. */
  readonly toViewer: number[];
  ended: { reason: string; error: boolean; drain: boolean } | null;
  clientPaused: boolean;
  upstreamPaused: boolean;
  /** What clientBacklog() reports. */
  backlog: number;
  readonly log: string[];
  /** Sends viewer bytes to the relay (at the next settle). */
  send(bytes: Uint8Array | number[]): void;
  /** Called with every chunk for the viewer. */
  onBytes: (chunk: Uint8Array) => void;
}

export interface RigOptions {
  readonly password?: string | null;
  readonly readOnlyPassword?: string | null;
  readonly writeWindow?: number;
  readonly limits?: Partial<RelayLimits>;
}

export class Rig {
  readonly clock = new FakeClock();
  readonly devices: RigDevice[] = [];
  readonly #tasks: (() => void)[] = [];
  readonly #upstreams: (() => boolean)[] = [];

  constructor(
    specs: readonly { name: string; writable?: boolean; history?: number; kind?: string; label?: string }[] = [
      { name: "serial0" },
    ],
    limits: Partial<DeviceLimits> = {},
  ) {
    specs.forEach((s, i) => {
      const backend = new FakeBackend();
      const device = new StreamDevice(
        {
          id: i + 1,
          name: s.name,
          label: s.label ?? s.name,
          kind: s.kind ?? "serial",
          writable: s.writable ?? true,
          historyBytes: s.history ?? 1024,
        },
        backend,
        this.clock,
        { slack: 4096, maxRead: 1024, slowReaderMs: 5000, ...limits },
      );
      backend.device = device;
      device.setConnected(true);
      this.devices.push({ device, backend });
    });
  }

  get device(): RigDevice {
    const d = this.devices[0];
    if (!d) throw new Error("no device");
    return d;
  }

  /** A relay with an upstream; bytes flow at settle(). */
  viewer(options: RigOptions = {}, upstream = new FakeUpstream()): RigViewer {
    const queueTask = (fn: () => void) => this.#tasks.push(fn);
    let upstreamConnected = false;
    const v: RigViewer = {
      relay: null as unknown as Relay,
      upstream,
      toViewer: [],
      ended: null,
      clientPaused: false,
      upstreamPaused: false,
      backlog: 0,
      log: [],
      send: (bytes) => {
        const copy = Uint8Array.from(bytes);
        queueTask(() => {
          v.relay.clientData(copy);
        });
      },
      onBytes: () => undefined,
    };
    let challenge = 0;
    const relay = new Relay(
      {
        toClient: (bytes) => {
          const copy = bytes.slice();
          v.toViewer.push(...copy);
          queueTask(() => {
            if (!v.ended || v.ended.drain) v.onBytes(copy);
          });
        },
        toUpstream: (bytes) => {
          const copy = bytes.slice();
          queueTask(() => {
            upstream.receive(copy);
          });
        },
        clientBacklog: () => v.backlog,
        upstreamBacklog: () => 0,
        connectUpstream: () => {
          queueTask(() => {
            upstreamConnected = true;
            v.relay.upstreamConnected();
          });
        },
        pauseClient: (p) => {
          v.clientPaused = p;
        },
        pauseUpstream: (p) => {
          v.upstreamPaused = p;
        },
        defer: queueTask,
        end: (reason, error, drain) => {
          v.ended = { reason, error, drain };
        },
        random: (n) => Uint8Array.from({ length: n }, () => (challenge = (challenge * 7 + 13) & 0xff)),
        log: (line) => v.log.push(line),
      },
      {
        password: options.password ?? null,
        readOnlyPassword: options.readOnlyPassword ?? null,
        devices: this.devices.map((d) => d.device),
        writeWindow: options.writeWindow ?? 4096,
        ...(options.limits ? { limits: options.limits } : {}),
      },
    );
    (v as { relay: Relay }).relay = relay;
    // The upstream's output goes to the relay once connected.
    this.#upstreams.push(() => {
      if (!upstreamConnected || v.ended || v.upstreamPaused) return false;
      const chunk = upstream.out.shift();
      if (!chunk) return false;
      relay.upstreamData(chunk);
      return true;
    });
    return v;
  }

  /** Runs queued deliveries, upstream output and device reads until nothing moves. */
  settle(): void {
    for (let rounds = 0; rounds < 1_000_000; rounds++) {
      const task = this.#tasks.shift();
      if (task) {
        task();
        continue;
      }
      let moved = false;
      for (const u of this.#upstreams) if (u()) moved = true;
      for (const d of this.devices) if (d.backend.pumpReads() > 0) moved = true;
      if (!moved && this.#tasks.length === 0) return;
    }
    throw new Error("the rig never settled");
  }
}

/** A Porthole viewer (RfbClient + StreamsExtension) on a rig viewer. */
export interface PortholeViewer {
  readonly client: RfbClient;
  readonly streams: StreamsExtension;
  readonly events: string[];
  error: ProtocolError | null;
  readonly rig: RigViewer;
  /** Data received per stream id. */
  readonly data: Map<number, number[]>;
}

export function portholeViewer(
  rig: Rig,
  options: RigOptions & { viewerPassword?: string; consume?: boolean; listener?: StreamsListener } = {},
): PortholeViewer {
  const v = rig.viewer(options);
  const events: string[] = [];
  const data = new Map<number, number[]>();
  const pv = {} as { -readonly [K in keyof PortholeViewer]: PortholeViewer[K] };
  const consume = options.consume ?? true;
  const streams = new StreamsExtension({
    acknowledged: (version) => events.push(`ack ${version}`),
    streamAdded: (info) => events.push(`added ${info.id} ${info.name} ${info.flags}`),
    listComplete: () => events.push("list-complete"),
    opened: (id, info) => events.push(`opened ${id} ww=${info.writeWindow} hist=${info.historyLength}`),
    openFailed: (id, f) => events.push(`open-failed ${id} ${f.status}`),
    data: (id, bytes, history) => {
      const list = data.get(id) ?? [];
      list.push(...bytes);
      data.set(id, list);
      events.push(`data ${id}${history ? " history" : ""} ${bytes.length}`);
      if (consume) streams.consumed(id, bytes.length);
      options.listener?.data?.(id, bytes, history);
    },
    closed: (id, c) => events.push(`closed ${id} ${c.reason}${c.local ? " local" : ""}`),
    backendState: (id, up) => events.push(`backend ${id} ${up ? 1 : 0}`),
  });
  const handler: ClientHandler = {
    send: (bytes) => {
      v.send(bytes);
    },
    failed: (e) => {
      pv.error = e;
    },
    credentialsRequired: () => {
      queueMicrotaskSafe(() => {
        client.setCredentials({ password: options.viewerPassword ?? "" });
      });
    },
  };
  const client = new RfbClient(
    {
      framebuffer: new MemoryFramebuffer(),
      encodings: [Encoding.Raw, Encoding.CopyRect, Encoding.DesktopSize],
      extensions: [streams],
    },
    handler,
  );
  v.onBytes = (chunk) => {
    client.receive(chunk);
  };
  Object.assign(pv, { client, streams, events, error: null, rig: v, data });
  return pv;
}

/** Credentials are answered outside the client's call (as a dialog would). */
function queueMicrotaskSafe(fn: () => void): void {
  void Promise.resolve().then(fn);
}

/** The viewer side of a 3.8 handshake with security None, up to ClientInit. */
export const VIEWER_HANDSHAKE_NONE = [...formatVersion({ major: 3, minor: 8 }), 1, 1];

/**
 * What a raw viewer received after ServerInit, split into messages: FramebufferUpdates (of
 * raw rectangles and -262 acks) and RFB Streams messages.
 */
export type ViewerMessage =
  | { kind: "update"; rects: { x: number; y: number; w: number; h: number; encoding: number }[] }
  | { kind: "stream"; op: number; id: number; payload: number[] };

export function splitViewerMessages(bytes: readonly number[], bpp = 4): ViewerMessage[] {
  const out: ViewerMessage[] = [];
  const b = Uint8Array.from(bytes);
  const view = new DataView(b.buffer);
  let at = 0;
  while (at < b.length) {
    const type = b[at] ?? 0;
    if (type === 0) {
      const n = view.getUint16(at + 2);
      at += 4;
      const rects = [];
      for (let i = 0; i < n; i++) {
        const r = {
          x: view.getUint16(at),
          y: view.getUint16(at + 2),
          w: view.getUint16(at + 4),
          h: view.getUint16(at + 6),
          encoding: view.getInt32(at + 8),
        };
        at += 12;
        if (r.encoding === Encoding.Raw) at += r.w * r.h * bpp;
        rects.push(r);
      }
      out.push({ kind: "update", rects });
    } else if (type === 255 && b[at + 1] === 2) {
      const length = view.getUint32(at + 8);
      out.push({
        kind: "stream",
        op: view.getUint16(at + 2),
        id: view.getUint32(at + 4),
        payload: Array.from(b.subarray(at + 12, at + 12 + length)),
      });
      at += 12 + length;
    } else {
      throw new Error(`unexpected message type ${type} at ${at}`);
    }
  }
  return out;
}

/** What a raw viewer with security None receives before the first message: version,
 * security types, SecurityResult, and the FakeUpstream's ServerInit (name "fake"). */
export const PREAMBLE_NONE = 12 + 2 + 4 + 24 + 4;
