// porthole-bench serial: what porthole-gateway's RFB Streams cost a serial console, against
// the same device reached directly, and what a flooding console costs the display on the
// same RFB connection. Porthole's own client does the measuring (VncConnection +
// StreamsExtension, as the viewer and porthole-console use them). A benchmark, never a
// timed test: it reports the issue's goals, it does not assert them.
//
// The set-up, all started here by PID and stopped on every way out (including Ctrl+C), on
// unix sockets in a temporary directory:
// - QEMU with a still picture (src/tools/still-guest.ts), VNC on a unix socket;
// - two devices (porthole-stream-device, each its own process): `echo`, which sends back
//   what it reads, and `flood`, which writes as fast as it is read between an "F" and an
//   "S" it is sent (src/tools/flood.ts);
// - porthole-gateway (gjs -m porthole-gateway.js) in front of QEMU's VNC, serving both
//   devices as streams `echo` and `flood`, with its default windows;
// - a plain relay to the echo device (porthole-stream-device relay): the gateway's own
//   I/O layer (src/gateway/pipe.ts) moving bytes both ways with no RFB at all, so the
//   throughput through it is the most a gateway on that layer could reach in this runtime.
// One connection through the gateway (no automatic update requests) has both streams open
// throughout; the direct baselines are a unix socket to the echo device and a connection
// to QEMU's own VNC socket, driven from this same process.
//
// 1. Throughput: SIZE MiB of pseudo-random bytes written to the echo device and read back,
//    directly, through the plain relay and through the gateway (both streams opened with
//    a read window of --window bytes and the gateway started with that --write-window:
//    by default 64 KiB, the spec's recommended read window and the gateway's default);
//    each checked byte for byte by SHA-256 against what was sent, timed from the first
//    write to the last byte back.
// 2. Echo latency: one byte at a time, the next one sent when the last came back, directly
//    and through the gateway, each round checked; the first ECHO_WARMUP rounds are not
//    counted.
// 3. Framebuffer update latency: a non-incremental FramebufferUpdateRequest for the whole
//    screen, timed until the client has decoded the whole FramebufferUpdate that carries
//    its pixels, one at a time for --seconds each: directly to QEMU (for reference),
//    through the gateway idle (the flood stream open, its device silent), and through the
//    gateway while the flood device writes as fast as the client takes it (the client
//    returning credit as soon as it has checked each chunk, as a console returns it once
//    its terminal took the output).
//
// QEMU answers a forced update request at its next display refresh, not at once (QEMU 7.2,
// ui/vnc.c vnc_refresh(): on a still screen the refresh interval grows from
// VNC_REFRESH_INTERVAL_BASE = 30 ms by VNC_REFRESH_INTERVAL_INC = 50 ms a refresh, up to
// 3 s). That wait is QEMU's, not what is measured, so the bench takes it out: each request
// is followed by a PointerEvent (protocol_client_msg() puts the interval back to 30 ms for
// any message of type > 3, and ui/console.c update_displaychangelistener() moves the next
// refresh to 30 ms after the last one: at once if that is past), and requests are paced so
// that the last refresh is 30 ms or more ago. After the refresh that answered a request
// come refreshes at +80, +210, +390… ms (the interval 30, then 50 more each time), so the
// next request goes midway between +30 and +80 ms (or in a later such gap). Measured here,
// 64×64 raw updates straight from QEMU: requests at random moments waited 60 ms to 2 s,
// with the PointerEvent 1–30 ms, with it and this pacing 0.6–2 ms.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { UsageError } from "../platform/command-line.js";
import { VncConnection } from "../platform/connection.js";
import { parseServerAddress } from "../protocol/address.js";
import { encodingName } from "../protocol/client.js";
import { Encoding } from "../protocol/constants.js";
import type { Rect } from "../protocol/decoders/decoder.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { Streams, StreamsExtension } from "../protocol/streams.js";
import {
  type Abort,
  type BenchContext,
  BenchFailure,
  clockTicks,
  cpuTicks,
  debug,
  describe,
  loadAverage,
  requireBundle,
  requireProgram,
  runBench,
  type Stats,
  stats,
  table,
} from "./bench-harness.js";
import { sha256 } from "./bench-engine.js";
import { ChildProcess } from "./child-process.js";
import { FLOOD_START, FLOOD_STOP, FloodChecker } from "./flood.js";
import { startStillGuest, type StillGuest } from "./still-guest.js";
import { kvmUsable } from "./tone-guest.js";

/** The issue's goals (issue 6, "Benchmark goal"). */
export const GOAL_THROUGHPUT_RATIO = 0.5;
export const GOAL_ADDED_ECHO_MS = 2;
export const GOAL_FLOOD_FRAME_RATIO = 1.5;

export const DEFAULT_SIZE_MIB = 32;
export const DEFAULT_ECHOES = 1000;
export const DEFAULT_SECONDS = 10;
/** The spec's recommended read window (§5), which is also the gateway's default write window. */
export const DEFAULT_WINDOW = Streams.defaultReadWindow;
const MAX_WINDOW = 64 * 1024 * 1024;
const MAX_SIZE_MIB = 1024;
const MAX_ECHOES = 1_000_000;

/** Echo rounds before the counted ones (JIT, first allocations). */
const ECHO_WARMUP = 20;
/** Framebuffer updates before the counted ones in each phase (QEMU's timer settles). */
const FRAME_WARMUP = 2;
/** Bytes each echo round sends: one keystroke. */
const ECHO_MESSAGE_BYTES = 1;
/** A round trip of this much runs first on each path, uncounted (JIT, socket buffers). */
const WARMUP_BYTES = 1024 * 1024;
/** Flood bytes the client must have taken before the flood phase's clock starts. */
const FLOOD_RAMP_BYTES = 1024 * 1024;
/** Writes to a stream are handed over in pieces of this size. */
const WRITE_PIECE = 65536;
/** No progress for this long is a stall, reported as a failure rather than waited out. */
const STALL_MS = 30000;
const START_TIMEOUT_MS = 30000;
const MIB = 1024 * 1024;

/** Rectangles that carry pixels (a forced update also brings pseudo-rectangles on their own). */
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

/** QEMU's display refresh, as the header describes it (ui/vnc.c, QEMU 7.2). */
const QEMU_REFRESH_BASE_MS = 30;
const QEMU_REFRESH_INCREMENT_MS = 50;
const QEMU_REFRESH_MAX_MS = 3000;

export interface SerialBenchOptions {
  /** MiB round-tripped through each path. */
  readonly sizeMiB: number;
  /** Counted echo rounds per path. */
  readonly echoes: number;
  /** Seconds of framebuffer update requests per phase. */
  readonly seconds: number;
  /** The credit each way: the streams' read window and the gateway's --write-window. */
  readonly window: number;
}

// ---- collections at a steady pace -----------------------------------------------------------

/**
 * This process moves megabytes through Gio, so it collects in full at a steady pace, for
 * the reason src/gateway/gc.ts gives: gjs 1.74 drops C-to-JS callbacks during incremental
 * collections, and a transfer whose completion was dropped stalls for good.
 */
let churn = 0;
function paceCollections(bytes: number): void {
  churn += bytes + 1024;
  if (churn >= MIB) {
    churn = 0;
    system.gc();
  }
}

const now = () => GLib.get_monotonic_time();

/** Fails the bench if `progress()` stays the same for STALL_MS; returns the stop function. */
function watchProgress(abort: Abort, what: string, progress: () => string): () => void {
  let last = progress();
  let since = now();
  let id = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 1000, () => {
    const p = progress();
    if (p !== last) {
      last = p;
      since = now();
    } else if (now() - since > STALL_MS * 1000) {
      id = 0;
      abort.fail(new BenchFailure(`${what} stalled for ${STALL_MS / 1000} s at ${p}`));
      return GLib.SOURCE_REMOVE;
    }
    return GLib.SOURCE_CONTINUE;
  });
  return () => {
    if (id) GLib.source_remove(id);
    id = 0;
  };
}

/** `n` bytes from a 32-bit LCG: incompressible enough, and the same on every run. */
function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

// ---- Porthole's client ----------------------------------------------------------------------

/**
 * One RFB connection with Porthole's client, optionally with RFB Streams, that asks for no
 * updates by itself (after the one ServerInit asks for): every later update is one the
 * bench requested.
 */
class Peer {
  readonly name: string;
  readonly framebuffer = new MemoryFramebuffer();
  readonly connection: VncConnection;
  readonly streams: StreamsExtension | null;
  readonly #abort: Abort;
  #closing = false;
  /** Completed FramebufferUpdates. */
  updates = 0;
  onData: ((id: number, bytes: Uint8Array) => void) | null = null;
  onRect: ((rect: Rect) => void) | null = null;
  onUpdate: (() => void) | null = null;
  #drained: (() => void) | null = null;
  /** The write window each opened stream's OPEN_REPLY granted, by id. */
  readonly #opened = new Map<number, number>();

  constructor(name: string, uri: string, abort: Abort, withStreams: boolean) {
    this.name = name;
    this.#abort = abort;
    const fail = (text: string) => {
      if (!this.#closing) abort.fail(new BenchFailure(`${name}: ${text}`));
    };
    this.streams = withStreams
      ? new StreamsExtension({
          opened: (id, info) => {
            this.#opened.set(id, info.writeWindow);
          },
          openFailed: (id, f) => {
            fail(`stream ${id} did not open: ${f.text}`);
          },
          closed: (id, c) => {
            fail(`stream ${id} closed: ${c.text}${c.message ? ` (${c.message})` : ""}`);
          },
          data: (id, bytes) => {
            paceCollections(bytes.length);
            this.onData?.(id, bytes);
            // Handed on: the credit goes back (a WINDOW once half the window is consumed).
            this.streams?.consumed(id, bytes.length);
          },
          writeDrained: () => {
            const drained = this.#drained;
            this.#drained = null;
            drained?.();
          },
        })
      : null;
    this.connection = new VncConnection(
      {
        address: parseServerAddress(uri),
        framebuffer: this.framebuffer,
        securityTypes: [1],
        requestUpdates: false,
        extensions: this.streams ? [this.streams] : [],
      },
      {
        failed: (e) => {
          fail(`the connection failed: ${e.message}`);
        },
        rectDecoded: (rect) => {
          this.onRect?.(rect);
        },
        updateComplete: () => {
          this.updates++;
          this.onUpdate?.();
        },
      },
    );
    this.connection.connect();
  }

  /** Connected, the first picture decoded and (with streams) the stream list complete. */
  async ready(): Promise<void> {
    await this.#abort.until(
      `${this.name} to show a picture${this.streams ? " and list its streams" : ""}`,
      () => this.updates > 0 && (this.streams === null || this.streams.listComplete),
      START_TIMEOUT_MS,
    );
  }

  /** The write window the gateway granted stream `id` when it opened. */
  grantedWindow(id: number): number {
    return this.#opened.get(id) ?? 0;
  }

  /** Opens the stream named `name` for reading and writing, without history; its id. */
  async open(name: string, readWindow: number): Promise<number> {
    const streams = this.streams;
    if (!streams) throw new Error("no streams on this connection");
    const info = streams.streams().find((s) => s.name === name);
    if (!info) throw new BenchFailure(`${this.name}: the gateway lists no stream “${name}”`);
    streams.open(info.id, { write: true, history: false, readWindow });
    await this.#abort.until(`stream “${name}” to open`, () => this.#opened.has(info.id), START_TIMEOUT_MS);
    return info.id;
  }

  /** Writes all of `bytes` to stream `id`, waiting while its write queue is full. */
  async write(id: number, bytes: Uint8Array, progress?: (sent: number) => void): Promise<void> {
    const streams = this.streams;
    if (!streams) throw new Error("no streams on this connection");
    for (let at = 0; at < bytes.length;) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + WRITE_PIECE));
      const r = streams.write(id, piece);
      if (r === "accepted") {
        at += piece.length;
        paceCollections(piece.length);
        progress?.(at);
      } else if (r === "queue-full") {
        // write() took nothing; the queue empties as WINDOWs come back.
        await this.#abort.race(
          new Promise<void>((resolve) => {
            this.#drained = resolve;
          }),
        );
      } else throw new BenchFailure(`${this.name}: stream ${id} is not open for writing`);
    }
  }

  close(): void {
    this.#closing = true;
    this.connection.close();
  }
}

// ---- 1. throughput --------------------------------------------------------------------------

export interface RoundTrip {
  readonly seconds: number;
  readonly mibPerSecond: number;
  /** SHA-256 of what came back. */
  readonly sha256: string;
  readonly byteExact: boolean;
}

function roundTripResult(payload: Uint8Array, expected: string, started: number, checksum: GLib.Checksum): RoundTrip {
  const seconds = (now() - started) / 1e6;
  const hash = checksum.get_string();
  return {
    seconds: Number(seconds.toFixed(4)),
    mibPerSecond: Number((payload.length / MIB / seconds).toFixed(1)),
    sha256: hash,
    byteExact: hash === expected,
  };
}

/**
 * `payload` written to the echo device's socket and read back on the same connection:
 * plain callbacks, a read and a write in flight at once (see stream-device.ts).
 */
function directRoundTrip(abort: Abort, socket: string, payload: Uint8Array, expected: string): Promise<RoundTrip> {
  const connection = new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(socket), null);
  const input = connection.get_input_stream();
  const output = connection.get_output_stream();
  const checksum = new GLib.Checksum(GLib.ChecksumType.SHA256);
  let sent = 0;
  let got = 0;
  const stopWatching = watchProgress(abort, "the direct round trip", () => `${sent} bytes sent, ${got} back`);
  system.gc();
  const started = now();
  return abort
    .race(
      new Promise<RoundTrip>((resolve, reject) => {
        const failed = (e: unknown) => {
          reject(new BenchFailure(`the direct round trip failed: ${describe(e)}`));
        };
        const write = (): void => {
          if (sent >= payload.length) return;
          const chunk = new GLib.Bytes(payload.subarray(sent, Math.min(payload.length, sent + WRITE_PIECE)));
          output.write_bytes_async(chunk, GLib.PRIORITY_DEFAULT, null, (_o, r) => {
            let n: number;
            try {
              n = output.write_bytes_finish(r);
            } catch (e) {
              failed(e);
              return;
            }
            paceCollections(n);
            sent += n;
            write();
          });
        };
        const read = (): void => {
          input.read_bytes_async(WRITE_PIECE, GLib.PRIORITY_DEFAULT, null, (_i, r) => {
            let chunk: Uint8Array;
            try {
              chunk = input.read_bytes_finish(r).toArray();
            } catch (e) {
              failed(e);
              return;
            }
            if (chunk.length === 0) {
              failed("the echo device closed the connection");
              return;
            }
            paceCollections(chunk.length);
            checksum.update(chunk.subarray(0, Math.max(0, Math.min(chunk.length, payload.length - got))));
            got += chunk.length;
            if (got < payload.length) read();
            else if (got > payload.length) failed(`${got - payload.length} bytes more came back than were sent`);
            else resolve(roundTripResult(payload, expected, started, checksum));
          });
        };
        write();
        read();
      }),
    )
    .finally(() => {
      stopWatching();
      connection.close(null);
    });
}

/** The same through the gateway: written to the stream, read back from it. */
async function gatewayRoundTrip(
  abort: Abort,
  peer: Peer,
  id: number,
  payload: Uint8Array,
  expected: string,
): Promise<RoundTrip> {
  const checksum = new GLib.Checksum(GLib.ChecksumType.SHA256);
  let sent = 0;
  let got = 0;
  let overflow = 0;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  peer.onData = (sid, bytes) => {
    if (sid !== id) return;
    const room = payload.length - got;
    if (bytes.length > room) overflow += bytes.length - room;
    checksum.update(room >= bytes.length ? bytes : bytes.subarray(0, room));
    got += bytes.length;
    if (got >= payload.length) finished();
  };
  const stopWatching = watchProgress(
    abort,
    "the round trip through the gateway",
    () => `${sent} bytes sent, ${got} back`,
  );
  system.gc();
  const started = now();
  try {
    await peer.write(id, payload, (n) => {
      sent = n;
    });
    await abort.race(done);
    const result = roundTripResult(payload, expected, started, checksum);
    if (overflow > 0) throw new BenchFailure(`${overflow} bytes more came back through the gateway than were sent`);
    return result;
  } finally {
    stopWatching();
    peer.onData = null;
  }
}

// ---- 2. echo latency ------------------------------------------------------------------------

interface EchoSamples {
  /** Milliseconds per counted round. */
  readonly ms: number[];
  /** Rounds whose echo differed from what was sent. */
  readonly mismatches: number;
}

/** The byte of round `i`: every value in turn. */
const echoByte = (i: number) => i & 0xff;

/** `rounds` one-byte round trips on a direct connection to the echo device. */
function directEchoes(abort: Abort, socket: string, rounds: number): Promise<EchoSamples> {
  const connection = new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(socket), null);
  const input = connection.get_input_stream();
  const output = connection.get_output_stream();
  const ms: number[] = [];
  let mismatches = 0;
  let round = 0;
  const stopWatching = watchProgress(abort, "the direct echoes", () => `round ${round}`);
  return abort
    .race(
      new Promise<EchoSamples>((resolve, reject) => {
        const failed = (e: unknown) => {
          reject(new BenchFailure(`the direct echoes failed: ${describe(e)}`));
        };
        let started = 0;
        let got = 0;
        const next = (): void => {
          if (round === rounds + ECHO_WARMUP) {
            resolve({ ms, mismatches });
            return;
          }
          const message = new Uint8Array(ECHO_MESSAGE_BYTES).fill(echoByte(round));
          got = 0;
          started = now();
          output.write_bytes_async(new GLib.Bytes(message), GLib.PRIORITY_DEFAULT, null, (_o, r) => {
            try {
              output.write_bytes_finish(r);
            } catch (e) {
              failed(e);
            }
          });
          read();
        };
        const read = (): void => {
          input.read_bytes_async(ECHO_MESSAGE_BYTES - got, GLib.PRIORITY_DEFAULT, null, (_i, r) => {
            let chunk: Uint8Array;
            try {
              chunk = input.read_bytes_finish(r).toArray();
            } catch (e) {
              failed(e);
              return;
            }
            if (chunk.length === 0) {
              failed("the echo device closed the connection");
              return;
            }
            paceCollections(chunk.length);
            if (chunk.some((b) => b !== echoByte(round))) mismatches++;
            got += chunk.length;
            if (got < ECHO_MESSAGE_BYTES) {
              read();
              return;
            }
            if (round >= ECHO_WARMUP) ms.push((now() - started) / 1000);
            round++;
            next();
          });
        };
        next();
      }),
    )
    .finally(() => {
      stopWatching();
      connection.close(null);
    });
}

/** The same through the gateway. */
async function gatewayEchoes(abort: Abort, peer: Peer, id: number, rounds: number): Promise<EchoSamples> {
  const ms: number[] = [];
  let mismatches = 0;
  let round = 0;
  let got = 0;
  let arrived: () => void = () => undefined;
  peer.onData = (sid, bytes) => {
    if (sid !== id) return;
    if (bytes.some((b) => b !== echoByte(round))) mismatches++;
    got += bytes.length;
    if (got >= ECHO_MESSAGE_BYTES) arrived();
  };
  const stopWatching = watchProgress(abort, "the echoes through the gateway", () => `round ${round}`);
  try {
    for (; round < rounds + ECHO_WARMUP; round++) {
      got = 0;
      const echoed = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const started = now();
      await peer.write(id, new Uint8Array(ECHO_MESSAGE_BYTES).fill(echoByte(round)));
      await abort.race(echoed);
      if (round >= ECHO_WARMUP) ms.push((now() - started) / 1000);
      if (got > ECHO_MESSAGE_BYTES) throw new BenchFailure(`echo round ${round} brought back ${got} bytes`);
    }
    return { ms, mismatches };
  } finally {
    stopWatching();
    peer.onData = null;
  }
}

// ---- 3. framebuffer update latency ----------------------------------------------------------

/**
 * When to send the next update request, in ms after the last one, given that its answer
 * took `elapsedMs`: midway in the first gap between QEMU's refreshes (taking the refresh
 * that answered as the last one) that starts 30 ms after a refresh and lies ahead.
 */
export function nextRequestMs(elapsedMs: number): number {
  let refresh = 0;
  let interval = QEMU_REFRESH_BASE_MS + QEMU_REFRESH_INCREMENT_MS;
  for (;;) {
    const pick = refresh + (QEMU_REFRESH_BASE_MS + interval) / 2;
    if (pick > elapsedMs + 1) return pick;
    refresh += interval;
    interval = Math.min(QEMU_REFRESH_MAX_MS, interval + QEMU_REFRESH_INCREMENT_MS);
  }
}

export interface FrameResult extends Stats {
  /** Pixel rectangles of the counted updates, by encoding. */
  readonly rects: Record<string, number>;
  /** CPU time of each process over the phase (its warm-up included). */
  readonly cpuSeconds: CpuSeconds;
}

/** Forced whole-screen updates for `seconds`, one at a time: milliseconds each. */
async function frameLatencies(
  abort: Abort,
  peer: Peer,
  seconds: number,
): Promise<{ ms: number[]; rects: Record<string, number> }> {
  const client = peer.connection.client;
  const fb = peer.framebuffer;
  const region = { x: 0, y: 0, width: fb.width, height: fb.height };
  const ms: number[] = [];
  const rects: Record<string, number> = {};
  let requests = 0;
  const sample = async (count: boolean): Promise<void> => {
    const answer: { pixels: Record<string, number> | null } = { pixels: null };
    const answered = new Promise<void>((resolve) => {
      peer.onRect = (rect) => {
        if (!PIXEL_ENCODINGS.has(rect.encoding)) return;
        const name = encodingName(rect.encoding);
        answer.pixels ??= {};
        answer.pixels[name] = (answer.pixels[name] ?? 0) + 1;
      };
      // A forced request brings QEMU's pseudo-rectangles (desktop size, LED state) in
      // updates of their own first; the answer is the update with the pixels.
      peer.onUpdate = () => {
        if (answer.pixels !== null) resolve();
      };
    });
    const started = now();
    requests++;
    client.requestUpdate(false, region);
    client.sendPointer(region.width >> 1, region.height >> 1, 0);
    await abort.race(answered);
    const elapsed = (now() - started) / 1000;
    if (count) {
      ms.push(elapsed);
      for (const [name, n] of Object.entries(answer.pixels ?? {})) rects[name] = (rects[name] ?? 0) + n;
    }
    await abort.sleep(nextRequestMs(elapsed) - (now() - started) / 1000);
  };
  const stopWatching = watchProgress(abort, `${peer.name}'s framebuffer updates`, () => `request ${requests}`);
  try {
    for (let i = 0; i < FRAME_WARMUP; i++) await sample(false);
    const deadline = now() + seconds * 1e6;
    do await sample(true);
    while (now() < deadline);
    return { ms, rects };
  } finally {
    stopWatching();
    peer.onRect = null;
    peer.onUpdate = null;
  }
}

// ---- the run --------------------------------------------------------------------------------

export interface SerialBenchResult {
  readonly sizeMiB: number;
  readonly echoes: number;
  readonly seconds: number;
  readonly window: number;
  /** The write window the gateway's OPEN_REPLY granted on the echo stream. */
  readonly grantedWindow: number;
  readonly host: {
    readonly cpus: number;
    readonly accel: "kvm" | "tcg";
    readonly loadAverageBefore: number;
    readonly loadAverageAfter: number;
  };
  readonly throughput: {
    readonly bytes: number;
    readonly sha256: string;
    readonly direct: RoundTrip & { readonly cpuSeconds: CpuSeconds };
    /** Through the plain relay (no RFB): the ceiling of the gateway's I/O layer. */
    readonly relay: RoundTrip & { readonly cpuSeconds: CpuSeconds };
    readonly gateway: RoundTrip & { readonly cpuSeconds: CpuSeconds };
    /** Gateway MiB/s over direct MiB/s. */
    readonly ratio: number;
    /** Plain relay MiB/s over direct MiB/s. */
    readonly relayRatio: number;
  };
  readonly echo: {
    readonly messageBytes: number;
    /** Milliseconds per round trip. */
    readonly direct: Stats;
    readonly gateway: Stats;
    /** Gateway less direct. */
    readonly addedMs: { readonly mean: number; readonly p50: number; readonly p95: number };
    readonly mismatches: number;
    readonly byteExact: boolean;
    /** CPU time of each process over all the rounds (warm-up included). */
    readonly cpuSeconds: { readonly direct: CpuSeconds; readonly gateway: CpuSeconds };
  };
  readonly framebuffer: {
    readonly width: number;
    readonly height: number;
    /** Milliseconds from the request to the decoded update: QEMU's own socket. */
    readonly direct: FrameResult;
    /** Through the gateway, the flood stream open and silent. */
    readonly idle: FrameResult;
    /** Through the gateway while the flood device writes as fast as it is read. */
    readonly flood: FrameResult & {
      readonly streamBytes: number;
      readonly streamMiBPerSecond: number;
      /** Every chunk of the flood began and ended where the device's counter says. */
      readonly inOrder: boolean;
    };
    /** Flood over idle. */
    readonly ratio: { readonly p50: number; readonly p95: number };
  };
  readonly goals: {
    readonly throughput: { readonly minRatio: number; readonly ratio: number; readonly met: boolean };
    readonly echo: { readonly maxAddedMs: number; readonly addedMs: number; readonly met: boolean };
    readonly framebuffer: {
      readonly maxRatio: number;
      readonly p50Ratio: number;
      readonly p95Ratio: number;
      readonly met: boolean;
    };
    readonly allMet: boolean;
  };
  /** Every byte-exact check passed: round trips, echoes, flood order. */
  readonly byteExact: boolean;
}

const ratioOf = (a: number, b: number) => Number((a / b).toFixed(3));
const diff = (a: number, b: number) => Number((a - b).toFixed(3));

/** A device process (`echo`, `flood`, or `relay` to `target`) on `socket`, once it says it listens. */
async function startDevice(
  context: BenchContext,
  gjs: string,
  bundle: string,
  mode: "echo" | "flood" | "relay",
  socket: string,
  target?: string,
): Promise<ChildProcess> {
  const child = context.children.add(
    new ChildProcess([gjs, "-m", bundle, mode, socket, ...(target === undefined ? [] : [target])], {
      log: `${context.dir}/${mode}-device.log`,
      stdoutPipe: true,
      name: `the ${mode} device`,
    }),
    context.abort,
  );
  const line = await context.abort.race(child.readLine("“ready”", START_TIMEOUT_MS));
  if (line !== "ready") throw new BenchFailure(`the ${mode} device printed “${line}”, not “ready”`);
  return child;
}

/** porthole-gateway in front of the guest with both devices, once it is connected to them. */
async function startGateway(
  context: BenchContext,
  gjs: string,
  guest: StillGuest,
  writeWindow: number,
): Promise<ChildProcess> {
  const { abort, children, dir } = context;
  const socket = `${dir}/gateway.sock`;
  const child = children.add(
    new ChildProcess(
      [
        gjs,
        "-m",
        requireBundle("porthole-gateway"),
        "--listen",
        `unix:${socket}`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `echo=unix:${dir}/echo.sock,kind=channel,label=Echo`,
        "--stream",
        `flood=unix:${dir}/flood.sock,kind=channel,label=Flood`,
        "--write-window",
        String(writeWindow),
      ],
      { log: `${dir}/gateway.log`, name: "porthole-gateway" },
    ),
    abort,
  );
  const logged = (text: string) => () => {
    try {
      return new TextDecoder().decode(GLib.file_get_contents(child.log)[1]).includes(text);
    } catch {
      return false;
    }
  };
  const waiting = async (what: string, ready: () => boolean) => {
    try {
      await abort.race(child.waitUntil(what, ready, START_TIMEOUT_MS));
    } catch (e) {
      if (e instanceof BenchFailure) throw e;
      throw new BenchFailure(describe(e).split("\n").filter(Boolean).join(" | "));
    }
  };
  await waiting("its listening socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
  // "NAME: connected to unix:PATH" (src/gateway/backend.ts) once it holds the device.
  await waiting("its connection to the echo device", logged("echo: connected"));
  await waiting("its connection to the flood device", logged("flood: connected"));
  return child;
}

/** Everything the measurements run against. */
interface Stage {
  readonly guest: StillGuest;
  readonly gatewayUri: string;
  readonly echoSocket: string;
  /** The plain relay to the echo device. */
  readonly relaySocket: string;
  readonly cpu: CpuMeter;
}

async function stage(context: BenchContext, window: number): Promise<Stage> {
  const { abort, children, dir } = context;
  requireProgram("qemu-system-x86_64", "Debian package qemu-system-x86");
  const gjs = requireProgram("gjs", "Debian package gjs");
  const deviceBundle = requireBundle("porthole-stream-device");
  const hz = clockTicks();
  let guest: StillGuest;
  try {
    guest = await abort.race(startStillGuest(`${dir}/guest`, { onSpawn: (c) => children.add(c, abort) }));
  } catch (e) {
    if (e instanceof BenchFailure) throw e;
    throw new BenchFailure(`the guest did not start: ${describe(e).split("\n").filter(Boolean).join(" | ")}`);
  }
  const started = guest;
  children.stopWith(guest.child, () => {
    started.stopNow();
  });
  debug(`guest at ${guest.vncSocket}`);
  const echo = await startDevice(context, gjs, deviceBundle, "echo", `${dir}/echo.sock`);
  const flood = await startDevice(context, gjs, deviceBundle, "flood", `${dir}/flood.sock`);
  const relay = await startDevice(context, gjs, deviceBundle, "relay", `${dir}/relay.sock`, `${dir}/echo.sock`);
  const gateway = await startGateway(context, gjs, guest, window);
  debug("gateway up");
  return {
    guest,
    gatewayUri: `vnc+unix://${dir}/gateway.sock`,
    echoSocket: `${dir}/echo.sock`,
    relaySocket: `${dir}/relay.sock`,
    cpu: new CpuMeter(
      {
        bench: "self",
        gateway: gateway.pid,
        relay: relay.pid,
        echo: echo.pid,
        flood: flood.pid,
        qemu: guest.child.pid,
      },
      hz,
    ),
  };
}

/** The processes whose CPU time each measurement reports. */
type Role = "bench" | "gateway" | "relay" | "echo" | "flood" | "qemu";
export type CpuSeconds = Readonly<Record<Role, number>>;

class CpuMeter {
  readonly #pids: Readonly<Record<Role, number | "self">>;
  readonly #hz: number;

  constructor(pids: Readonly<Record<Role, number | "self">>, hz: number) {
    this.#pids = pids;
    this.#hz = hz;
  }

  #ticks(): Record<Role, number> {
    const p = this.#pids;
    return {
      bench: cpuTicks(p.bench),
      gateway: cpuTicks(p.gateway),
      relay: cpuTicks(p.relay),
      echo: cpuTicks(p.echo),
      flood: cpuTicks(p.flood),
      qemu: cpuTicks(p.qemu),
    };
  }

  /** `measure`'s result, with the CPU seconds each process spent while it ran. */
  async around<T>(measure: () => Promise<T>): Promise<T & { readonly cpuSeconds: CpuSeconds }> {
    const before = this.#ticks();
    const value = await measure();
    const after = this.#ticks();
    const seconds = (role: Role) => Number(((after[role] - before[role]) / this.#hz).toFixed(2));
    return {
      ...value,
      cpuSeconds: {
        bench: seconds("bench"),
        gateway: seconds("gateway"),
        relay: seconds("relay"),
        echo: seconds("echo"),
        flood: seconds("flood"),
        qemu: seconds("qemu"),
      },
    };
  }
}

interface FrameSamples {
  readonly ms: number[];
  readonly rects: Record<string, number>;
  readonly cpuSeconds: CpuSeconds;
}

const frameResult = (f: FrameSamples): FrameResult => ({ ...stats(f.ms), rects: f.rects, cpuSeconds: f.cpuSeconds });

/**
 * 1. Throughput: the same `size` bytes round-tripped directly, through the plain relay,
 * then through the gateway.
 */
async function throughput(abort: Abort, stage: Stage, peer: Peer, echoId: number, size: number) {
  const { cpu, echoSocket, relaySocket } = stage;
  const warmup = pseudoRandomBytes(Math.min(WARMUP_BYTES, size), 1);
  const warmupHash = sha256(warmup);
  await directRoundTrip(abort, echoSocket, warmup, warmupHash);
  await directRoundTrip(abort, relaySocket, warmup, warmupHash);
  await gatewayRoundTrip(abort, peer, echoId, warmup, warmupHash);
  const payload = pseudoRandomBytes(size, size);
  const payloadHash = sha256(payload);
  debug("throughput: direct");
  const direct = await cpu.around(() => directRoundTrip(abort, echoSocket, payload, payloadHash));
  debug("throughput: plain relay");
  const viaRelay = await cpu.around(() => directRoundTrip(abort, relaySocket, payload, payloadHash));
  debug("throughput: gateway");
  const viaGateway = await cpu.around(() => gatewayRoundTrip(abort, peer, echoId, payload, payloadHash));
  return { payloadHash, direct, viaRelay, viaGateway };
}

async function run(context: BenchContext, options: SerialBenchOptions): Promise<number> {
  const { abort } = context;
  const loadBefore = loadAverage();
  const staged = await stage(context, options.window);
  const { guest, gatewayUri, echoSocket, cpu } = staged;

  const peer = new Peer("the connection through the gateway", gatewayUri, abort, true);
  try {
    await peer.ready();
    const echoId = await peer.open("echo", options.window);
    const floodId = await peer.open("flood", options.window);

    // 1. Throughput.
    const size = options.sizeMiB * MIB;
    const { payloadHash, direct, viaRelay, viaGateway } = await throughput(abort, staged, peer, echoId, size);

    // 2. Echo latency.
    debug("echo: direct");
    const directEcho = await cpu.around(() => directEchoes(abort, echoSocket, options.echoes));
    debug("echo: gateway");
    const gatewayEcho = await cpu.around(() => gatewayEchoes(abort, peer, echoId, options.echoes));

    // 3. Framebuffer update latency: QEMU directly, then through the gateway idle, then
    // flooded. Only one connection asks QEMU for updates at a time.
    debug("framebuffer: direct");
    const qemuPeer = new Peer("the connection to QEMU", `vnc+unix://${guest.vncSocket}`, abort, false);
    let qemuFrames: FrameSamples;
    try {
      await qemuPeer.ready();
      qemuFrames = await cpu.around(() => frameLatencies(abort, qemuPeer, options.seconds));
    } finally {
      qemuPeer.close();
    }
    debug("framebuffer: gateway idle");
    const idleFrames = await cpu.around(() => frameLatencies(abort, peer, options.seconds));

    debug("framebuffer: gateway flooded");
    const flood = new FloodChecker();
    peer.onData = (id, bytes) => {
      if (id === floodId) flood.take(bytes);
    };
    await peer.write(floodId, Uint8Array.of(FLOOD_START));
    await abort.until("the flood to reach the client", () => flood.bytes >= FLOOD_RAMP_BYTES, START_TIMEOUT_MS);
    const floodStarted = now();
    const floodBytesBefore = flood.bytes;
    const floodFrames = await cpu.around(() => frameLatencies(abort, peer, options.seconds));
    const floodSeconds = (now() - floodStarted) / 1e6;
    const floodBytes = flood.bytes - floodBytesBefore;
    await peer.write(floodId, Uint8Array.of(FLOOD_STOP));
    peer.onData = null;

    const echoDirect = stats(directEcho.ms);
    const echoGateway = stats(gatewayEcho.ms);
    const idle = frameResult(idleFrames);
    const flooded = frameResult(floodFrames);
    const throughputRatio = ratioOf(viaGateway.mibPerSecond, direct.mibPerSecond);
    const addedMs = {
      mean: diff(echoGateway.mean, echoDirect.mean),
      p50: diff(echoGateway.p50, echoDirect.p50),
      p95: diff(echoGateway.p95, echoDirect.p95),
    };
    const frameRatio = { p50: ratioOf(flooded.p50, idle.p50), p95: ratioOf(flooded.p95, idle.p95) };
    const mismatches = directEcho.mismatches + gatewayEcho.mismatches;
    const goals = {
      throughput: {
        minRatio: GOAL_THROUGHPUT_RATIO,
        ratio: throughputRatio,
        met: throughputRatio >= GOAL_THROUGHPUT_RATIO,
      },
      echo: { maxAddedMs: GOAL_ADDED_ECHO_MS, addedMs: addedMs.mean, met: addedMs.mean <= GOAL_ADDED_ECHO_MS },
      framebuffer: {
        maxRatio: GOAL_FLOOD_FRAME_RATIO,
        p50Ratio: frameRatio.p50,
        p95Ratio: frameRatio.p95,
        met: frameRatio.p50 <= GOAL_FLOOD_FRAME_RATIO && frameRatio.p95 <= GOAL_FLOOD_FRAME_RATIO,
      },
    };
    const inOrder = flood.mismatches === 0;
    const result: SerialBenchResult = {
      sizeMiB: options.sizeMiB,
      echoes: options.echoes,
      seconds: options.seconds,
      window: options.window,
      grantedWindow: peer.grantedWindow(echoId),
      host: {
        cpus: GLib.get_num_processors(),
        accel: kvmUsable() ? "kvm" : "tcg",
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadAverage(),
      },
      throughput: {
        bytes: size,
        sha256: payloadHash,
        direct,
        relay: viaRelay,
        gateway: viaGateway,
        ratio: throughputRatio,
        relayRatio: ratioOf(viaRelay.mibPerSecond, direct.mibPerSecond),
      },
      echo: {
        messageBytes: ECHO_MESSAGE_BYTES,
        direct: echoDirect,
        gateway: echoGateway,
        addedMs,
        mismatches,
        byteExact: mismatches === 0,
        cpuSeconds: { direct: directEcho.cpuSeconds, gateway: gatewayEcho.cpuSeconds },
      },
      framebuffer: {
        width: peer.framebuffer.width,
        height: peer.framebuffer.height,
        direct: frameResult(qemuFrames),
        idle,
        flood: {
          ...flooded,
          streamBytes: floodBytes,
          streamMiBPerSecond: Number((floodBytes / MIB / floodSeconds).toFixed(1)),
          inOrder,
        },
        ratio: frameRatio,
      },
      goals: { ...goals, allMet: goals.throughput.met && goals.echo.met && goals.framebuffer.met },
      byteExact: direct.byteExact && viaRelay.byteExact && viaGateway.byteExact && mismatches === 0 && inOrder,
    };
    print(JSON.stringify(result));
    printTable(result);
    if (!result.byteExact) {
      const failures = [
        direct.byteExact ? "" : "the direct round trip",
        viaRelay.byteExact ? "" : "the round trip through the plain relay",
        viaGateway.byteExact ? "" : "the round trip through the gateway",
        mismatches === 0 ? "" : `${mismatches} echo rounds`,
        inOrder ? "" : `${flood.mismatches} flood chunks`,
      ].filter(Boolean);
      printerr(`porthole-bench: serial: bytes came back wrong: ${failures.join(", ")}`);
      return 1;
    }
    return 0;
  } finally {
    peer.close();
  }
}

/** CPU seconds of `roles`, in that order, as "1.20/0.40". */
function cpuList(cpu: CpuSeconds, roles: readonly (keyof CpuSeconds)[]): string {
  return roles.map((role) => cpu[role].toFixed(2)).join("/");
}

const FRAME_ROLES = ["bench", "gateway", "flood", "qemu"] as const;

function printTable(r: SerialBenchResult): void {
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const mark = (met: boolean) => (met ? "met" : "NOT MET");
  const { throughput: t, echo: e, framebuffer: f, goals: g, host } = r;
  const percent = (x: number) => `${(100 * x).toFixed(0)} %`;
  const streams = table(
    ["echo device", "direct", "plain relay", "gateway", "goal"],
    [
      [
        `round trip of ${r.sizeMiB} MiB, MiB/s`,
        t.direct.mibPerSecond.toFixed(1),
        t.relay.mibPerSecond.toFixed(1),
        t.gateway.mibPerSecond.toFixed(1),
        `≥ ${percent(g.throughput.minRatio)} of direct: ${percent(t.ratio)}, ${mark(g.throughput.met)}`,
      ],
      ["  of direct", "", percent(t.relayRatio), percent(t.ratio), ""],
      [
        `${e.messageBytes}-byte echo, mean ms`,
        ms(e.direct.mean),
        "",
        ms(e.gateway.mean),
        `≤ ${g.echo.maxAddedMs} ms added: ${e.addedMs.mean >= 0 ? "+" : ""}${ms(e.addedMs.mean)}, ${mark(g.echo.met)}`,
      ],
      [
        "  p50 / p95 ms",
        `${ms(e.direct.p50)} / ${ms(e.direct.p95)}`,
        "",
        `${ms(e.gateway.p50)} / ${ms(e.gateway.p95)}`,
        "",
      ],
      [
        "  round trip CPU s",
        cpuList(t.direct.cpuSeconds, ["bench", "echo"]),
        cpuList(t.relay.cpuSeconds, ["bench", "relay", "echo"]),
        cpuList(t.gateway.cpuSeconds, ["bench", "gateway", "echo"]),
        "bench/[relay|gateway]/echo",
      ],
      [
        "  byte-exact",
        t.direct.byteExact ? "yes" : "NO",
        t.relay.byteExact ? "yes" : "NO",
        t.gateway.byteExact && e.byteExact ? "yes" : "NO",
        "SHA-256 of the round trips, every echo",
      ],
    ],
  );
  const frameRow = (name: string, s: FrameResult) => [
    name,
    String(s.samples),
    ms(s.mean),
    ms(s.p50),
    ms(s.p95),
    ms(s.max),
    cpuList(s.cpuSeconds, FRAME_ROLES),
    Object.entries(s.rects)
      .map(([k, n]) => `${k} ${n}`)
      .join(", "),
  ];
  const display = table(
    [
      `${f.width}×${f.height} update`,
      "samples",
      "mean ms",
      "p50 ms",
      "p95 ms",
      "max ms",
      "CPU s bench/gateway/flood/QEMU",
      "rects",
    ],
    [frameRow("QEMU directly", f.direct), frameRow("gateway, idle", f.idle), frameRow("gateway, flood", f.flood)],
  );
  printerr(
    [
      `porthole-bench serial: ${host.cpus} CPUs, QEMU ${host.accel}, ` +
        `load ${host.loadAverageBefore.toFixed(2)} → ${host.loadAverageAfter.toFixed(2)}, ` +
        `stream windows ${r.window} bytes each way`,
      ...streams,
      "",
      `framebuffer update latency: a non-incremental request for the whole screen to the update decoded, ` +
        `${r.seconds} s each`,
      ...display,
      `flood: ${f.flood.streamMiBPerSecond.toFixed(1)} MiB/s to the client meanwhile, ` +
        `${f.flood.inOrder ? "every chunk in order" : "CHUNKS OUT OF ORDER"}; flood / idle: p50 ${f.ratio.p50.toFixed(2)}×, ` +
        `p95 ${f.ratio.p95.toFixed(2)}× (goal ≤ ${g.framebuffer.maxRatio}× for both): ${mark(g.framebuffer.met)}`,
      `goals: ${g.allMet ? "all met" : "not all met"}`,
    ].join("\n"),
  );
}

function positiveInteger(option: string, value: string | undefined, max: number, what: string): number {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new UsageError(`${option} takes ${what} from 1 to ${max}`);
  return Number(value);
}

function positiveSeconds(option: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${option} takes a number of seconds above 0`);
  return n;
}

/** `porthole-bench serial [--size MIB] [--echoes N] [--seconds S] [--window BYTES]`. */
export function serialCommand(args: string[]): number {
  let sizeMiB = DEFAULT_SIZE_MIB;
  let echoes = DEFAULT_ECHOES;
  let seconds = DEFAULT_SECONDS;
  let window: number = DEFAULT_WINDOW;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const [name, inline] =
      a.startsWith("--") && a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = () => inline ?? args[++i];
    if (name === "--size") sizeMiB = positiveInteger(name, value(), MAX_SIZE_MIB, "a whole number of MiB");
    else if (name === "--echoes") echoes = positiveInteger(name, value(), MAX_ECHOES, "a whole number of rounds");
    else if (name === "--seconds") seconds = positiveSeconds(name, value());
    else if (name === "--window") window = positiveInteger(name, value(), MAX_WINDOW, "a number of bytes");
    else if (a.startsWith("-")) throw new UsageError(`unknown option “${a}”`);
    else throw new UsageError("serial takes no files");
  }
  return runBench("serial", (context) => run(context, { sizeMiB, echoes, seconds, window }));
}
