// One viewer's connection through the gateway, as a pure state machine: the gateway is
// the RFB server towards the viewer (handshake, security) and an RFB client towards the
// VNC server behind it, and in between it relays both directions at message granularity,
// adding RFB Streams (spec = the "RFB Streams" contract; docs/streams.md, "The gateway").
// The sockets, timers and devices' I/O are the caller's (server.ts); node specs drive this
// with bytes.
//
//   viewer ──► ClientMessageParser ──► upstream      SetEncodings without -262 and without
//                  │ 255/2                           encodings the framer cannot frame;
//                  ▼                                 everything else as it came
//              StreamsSession ◄──► devices
//                  │ at message boundaries only
//   viewer ◄───────┴──── ServerMessageFramer ◄── upstream   bytes passed on as they arrive
//
// Flow control, with no unbounded buffer anywhere: the upstream socket is not read while
// the bytes waiting for the viewer exceed a limit (and the viewer's socket is not read
// while those waiting for the upstream do, or while stream control output waits for a
// boundary); stream DATA is taken from the devices only at a boundary, within the
// viewer's credit and the room left under that limit.

import { Encoding } from "../protocol/constants.js";
import type { ParsedClientMessage } from "../protocol/client-messages.js";
import { ProtocolError } from "../protocol/errors.js";
import * as msg from "../protocol/messages.js";
import { type FramedBytes, isFramingSafe, ServerMessageFramer } from "../protocol/server/framing.js";
import { describeLogin, type HandshakeResult, ServerHandshake } from "../protocol/server/handshake.js";
import { UpstreamHandshake } from "../protocol/server/upstream.js";
import type { StreamDevice } from "./device.js";
import { StreamsSession } from "./streams-session.js";

export interface RelayIO {
  /** Queues bytes for the viewer (copied before returning). */
  toClient(bytes: Uint8Array): void;
  /** Queues bytes for the upstream server (copied before returning). */
  toUpstream(bytes: Uint8Array): void;
  /** Bytes queued for the viewer and not yet written. */
  clientBacklog(): number;
  /** Bytes queued for the upstream server and not yet written. */
  upstreamBacklog(): number;
  /** Open the upstream connection; answer with upstreamConnected() or end the relay. */
  connectUpstream(): void;
  /** Stop (true) or resume reading the viewer's socket. */
  pauseClient(paused: boolean): void;
  /** Stop (true) or resume reading the upstream socket. */
  pauseUpstream(paused: boolean): void;
  /** Run `fn` soon, outside the current call stack. */
  defer(fn: () => void): void;
  /**
   * The relay is over: close both connections once what is queued for the viewer has been
   * written (`drain`) or at once. `error` is null for an orderly end.
   */
  end(reason: string, error: boolean, drain: boolean): void;
  /** Random bytes for the VNC authentication challenge. */
  random(n: number): Uint8Array;
  /**
   * VeNCrypt: write what is queued for the viewer, read nothing more in the clear, run the
   * TLS server handshake, then call tlsEstablished() (or tlsFailed()). Needed with `tls`.
   */
  startTls?(): void;
  /** One line for the gateway's log. */
  log(line: string): void;
}

export interface RelayOptions {
  readonly password: string | null;
  readonly readOnlyPassword: string | null;
  readonly devices: readonly StreamDevice[];
  readonly writeWindow: number;
  /** Offer VeNCrypt X509 only (the owner has a certificate and implements startTls). */
  readonly tls?: boolean;
  readonly limits?: Partial<RelayLimits>;
}

export interface RelayLimits {
  /** Backlog towards a peer above which the other side is no longer read. */
  readonly highWater: number;
  /** Stream control bytes waiting for a boundary above which the viewer is no longer read. */
  readonly controlLimit: number;
  /** Upper bound on the viewer's unparsed bytes (a ClientCutText is up to 16 MiB). */
  readonly maxClientBuffered: number;
  /**
   * Backlog towards the viewer up to which stream DATA is added: the next FramebufferUpdate
   * waits behind at most this much stream output, whatever credit the viewer gave. At
   * least the viewer pipe's low-water mark, so that draining below it pumps again.
   */
  readonly dataBacklog: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  highWater: 1024 * 1024,
  controlLimit: 64 * 1024,
  maxClientBuffered: 20 * 1024 * 1024,
  // Measured with porthole-bench serial --window 1048576 (a viewer granting 1 MiB) and the
  // flood at 50–65 MiB/s: with DATA filling up to highWater (1 MiB) update latency was
  // 2.9× idle, with 256 KiB 1.9×, with 128 KiB 1.6–1.8× (and less throughput); the rest
  // is the flood's CPU. At the default 64 KiB windows the credit is the bound (1.1–1.3×).
  dataBacklog: 256 * 1024,
};

export type RelayPhase = "handshake" | "connecting" | "relaying" | "closing" | "closed";

/** Client messages a read-only viewer may not send: they would act on the guest. */
const INPUT_MESSAGES: ReadonlySet<ParsedClientMessage["type"]> = new Set<ParsedClientMessage["type"]>([
  "key-event",
  "pointer-event",
  "qemu-extended-key-event",
  "client-cut-text",
  "extended-clipboard",
  "set-desktop-size",
  "xvp",
]);

export class Relay {
  readonly #io: RelayIO;
  readonly #options: RelayOptions;
  readonly #limits: RelayLimits;
  readonly #handshake: ServerHandshake;
  #phase: RelayPhase = "handshake";
  #result: HandshakeResult | null = null;
  #upstream: UpstreamHandshake | null = null;
  #framer: ServerMessageFramer | null = null;
  #streams: StreamsSession | null = null;
  #clientPaused = false;
  #upstreamPaused = false;
  #flushScheduled = false;
  /** The client listed -262 in its last SetEncodings. */
  #streamsListed = false;

  constructor(io: RelayIO, options: RelayOptions) {
    this.#io = io;
    this.#options = options;
    this.#limits = { ...DEFAULT_RELAY_LIMITS, ...options.limits };
    this.#handshake = new ServerHandshake({
      password: options.password,
      readOnlyPassword: options.readOnlyPassword,
      challenge: () => io.random(16),
      send: (bytes) => {
        io.toClient(bytes);
      },
      maxBuffered: this.#limits.maxClientBuffered,
      ...(options.tls
        ? {
            startTls: () => {
              this.#pauseClient(true);
              io.startTls?.();
            },
          }
        : {}),
    });
  }

  get phase(): RelayPhase {
    return this.#phase;
  }

  /** The viewer's handshake outcome, once it is logged in. */
  get login(): HandshakeResult | null {
    return this.#result;
  }

  get streams(): StreamsSession | null {
    return this.#streams;
  }

  /** Whether the viewer listed -262 in its last SetEncodings. */
  get streamsListed(): boolean {
    return this.#streamsListed;
  }

  // --- events from the sockets ---

  clientData(chunk: Uint8Array): void {
    this.#guard("the viewer", () => {
      if (this.#phase === "handshake") {
        this.#loggedIn(this.#handshake.receive(chunk));
        return;
      }
      if (this.#phase === "relaying") {
        this.#handshake.parser.push(chunk);
        this.#clientMessages();
      }
      // Connecting: reading is paused; closing: the viewer's input no longer matters.
    });
  }

  /** VeNCrypt: the TLS handshake succeeded; the inner authentication runs inside it. */
  tlsEstablished(): void {
    this.#guard("the viewer", () => {
      if (this.#phase !== "handshake") return;
      this.#pauseClient(false);
      this.#loggedIn(this.#handshake.tlsEstablished());
    });
  }

  /** VeNCrypt: the TLS handshake failed (`error` says how, e.g. an untrusted certificate). */
  tlsFailed(error: string): void {
    if (this.#phase === "closed") return;
    this.#finish(`the TLS handshake failed: ${error}`, true, false);
  }

  #loggedIn(result: HandshakeResult | null): void {
    if (result === null) return;
    this.#result = result;
    this.#io.log(`logged in (${describeLogin(result)})`);
    this.#phase = "connecting";
    // Nothing the viewer sends means anything before it has our ServerInit.
    this.#pauseClient(true);
    this.#io.connectUpstream();
  }

  upstreamConnected(): void {
    if (this.#phase !== "connecting" || !this.#result) return;
    this.#upstream = new UpstreamHandshake(this.#result.shared, (bytes) => {
      this.#io.toUpstream(bytes);
    });
  }

  upstreamData(chunk: Uint8Array): void {
    this.#guard("the VNC server", () => {
      if (this.#phase === "connecting") {
        const init = this.#upstream?.receive(chunk);
        if (!init) return;
        this.#framer = new ServerMessageFramer(init.pixelFormat);
        this.#streams = new StreamsSession(
          this.#options.devices,
          { writeWindow: this.#options.writeWindow, readOnly: this.#result?.readOnly ?? false },
          {
            wake: () => {
              this.#scheduleFlush();
            },
          },
        );
        this.#phase = "relaying";
        this.#io.toClient(init.serverInit);
        this.#pauseClient(false);
        if (init.rest.length > 0) this.#relayUpstream(init.rest);
        // Anything the viewer sent early waits in the parser.
        this.#clientMessages();
        return;
      }
      if (this.#phase === "relaying" || this.#phase === "closing") this.#relayUpstream(chunk);
    });
  }

  /** The viewer's backlog fell below the low-water mark. */
  clientDrained(): void {
    if (this.#phase !== "relaying" && this.#phase !== "closing") return;
    if (this.#upstreamPaused && this.#io.clientBacklog() < this.#limits.highWater) this.#pauseUpstream(false);
    this.#flush(this.#framer?.atBoundary ?? false);
  }

  /** The upstream backlog fell below the low-water mark. */
  upstreamDrained(): void {
    if (this.#phase !== "relaying") return;
    this.#updateClientPause();
    this.#clientMessages();
  }

  clientClosed(error: string | null): void {
    if (this.#phase === "closed") return;
    this.#finish(
      error === null ? "the viewer disconnected" : `the viewer's connection failed: ${error}`,
      error !== null,
      false,
    );
  }

  upstreamClosed(error: string | null): void {
    if (this.#phase === "closed") return;
    this.#finish(
      error === null ? "the VNC server closed the connection" : `the VNC server's connection failed: ${error}`,
      true,
      this.#phase === "relaying" || this.#phase === "closing",
    );
  }

  /** The upstream connection could not be opened. */
  upstreamFailed(error: string): void {
    if (this.#phase === "closed") return;
    this.#finish(`cannot reach the VNC server: ${error}`, true, false);
  }

  /**
   * The gateway is shutting down: open streams are closed with reason 6 at the next
   * message boundary (the display stream keeps flowing until there is one), then the
   * connection ends once that is written.
   */
  shutdown(): void {
    if (this.#phase === "closed" || this.#phase === "closing") return;
    if (this.#phase !== "relaying" || !this.#streams || !this.#framer) {
      this.#finish("the gateway is shutting down", false, false);
      return;
    }
    this.#phase = "closing";
    this.#streams.shutdown("the gateway is shutting down");
    this.#pauseClient(true);
    if (this.#framer.atBoundary) this.#endAtBoundary();
    // Otherwise the rest of the current message is awaited (#relayUpstream).
  }

  // --- internals ---

  #guard(peer: string, op: () => void): void {
    if (this.#phase === "closed") return;
    try {
      op();
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      if (e instanceof ProtocolError && e.code === "auth-failed")
        this.#finish(`authentication failed: ${text}`, true, true);
      // What the handshake said last (a refusal with its reason) reaches the viewer first.
      else this.#finish(`${peer}: ${text}`, true, peer === "the VNC server" || this.#phase === "handshake");
    }
  }

  #finish(reason: string, error: boolean, drain: boolean): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    this.#streams?.detach();
    this.#io.end(reason, error, drain);
  }

  /** A method, so that the phase is read afresh where a call in between may change it. */
  #relaying(): boolean {
    return this.#phase === "relaying";
  }

  #pauseClient(paused: boolean): void {
    if (paused === this.#clientPaused) return;
    this.#clientPaused = paused;
    this.#io.pauseClient(paused);
  }

  #pauseUpstream(paused: boolean): void {
    if (paused === this.#upstreamPaused) return;
    this.#upstreamPaused = paused;
    this.#io.pauseUpstream(paused);
  }

  #updateClientPause(): void {
    const control = this.#streams?.controlBytes ?? 0;
    this.#pauseClient(
      this.#phase !== "relaying" ||
        this.#io.upstreamBacklog() >= this.#limits.highWater ||
        control >= this.#limits.controlLimit,
    );
  }

  /** Handles every complete message the viewer has sent, as far as the upstream has room. */
  #clientMessages(): void {
    const parser = this.#handshake.parser;
    const framer = this.#framer;
    const streams = this.#streams;
    if (this.#phase !== "relaying" || !framer || !streams) return;
    while (this.#relaying()) {
      if (this.#io.upstreamBacklog() >= this.#limits.highWater || streams.controlBytes >= this.#limits.controlLimit)
        break;
      // Set before each message: the server's -316 rectangle changes PointerEvent's size.
      parser.extendedMouseButtons = framer.extendedMouseButtons;
      const next = parser.nextWithBytes();
      if (next === null) break;
      this.#clientMessage(next.message, next.bytes, framer, streams);
    }
    this.#updateClientPause();
  }

  #clientMessage(
    m: ParsedClientMessage,
    bytes: Uint8Array,
    framer: ServerMessageFramer,
    streams: StreamsSession,
  ): void {
    switch (m.type) {
      case "set-pixel-format":
        // Rectangles after it come in the new format (RFC 6143 §7.5.1).
        framer.setPixelFormat(m.pixelFormat);
        this.#io.toUpstream(bytes);
        return;
      case "set-encodings": {
        const listsStreams = m.encodings.includes(Encoding.Streams);
        // -262 is the gateway's to answer; an encoding the framer cannot frame would make
        // the server's stream unreadable, so neither reaches the server.
        const upstream = m.encodings.filter((e) => e !== Encoding.Streams && isFramingSafe(e));
        this.#streamsListed = listsStreams;
        streams.encodings(listsStreams);
        this.#io.toUpstream(upstream.length === m.encodings.length ? bytes : msg.setEncodings(upstream));
        return;
      }
      case "qemu-streams":
        // Never forwarded (the server behind may be an unpatched QEMU, spec §2.6).
        streams.message(m.operation, m.id, m.payload);
        return;
      default:
        if (this.#result?.readOnly && INPUT_MESSAGES.has(m.type)) return;
        this.#io.toUpstream(bytes);
    }
  }

  /** Passes the server's bytes on, placing stream output at a message boundary. */
  #relayUpstream(chunk: Uint8Array): void {
    const framer = this.#framer;
    if (!framer) return;
    const framed: FramedBytes = framer.feed(chunk);
    const { bytes, messages } = framed;
    const last = messages.at(-1)?.end ?? -1;
    const streams = this.#streams;
    if (this.#phase === "closing") {
      if (last < 0) {
        this.#io.toClient(bytes);
        return;
      }
      // The first boundary after the shutdown: the rest of the server's stream is not
      // passed on (it would only be cut off).
      const first = messages[0]?.end ?? 0;
      this.#io.toClient(bytes.subarray(0, first));
      this.#endAtBoundary();
      return;
    }
    if (last >= 0 && last < bytes.length && streams?.hasOutput) {
      // Stream output goes at the last boundary of the chunk: the updates before it go
      // first (spec §6: "when both are ready it sends the framebuffer update first").
      this.#io.toClient(bytes.subarray(0, last));
      this.#flush(true);
      this.#io.toClient(bytes.subarray(last));
    } else {
      if (bytes.length > 0) this.#io.toClient(bytes);
      if (framer.atBoundary) this.#flush(true);
    }
    if (this.#io.clientBacklog() >= this.#limits.highWater) this.#pauseUpstream(true);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#io.defer(() => {
      this.#flushScheduled = false;
      if (this.#phase === "relaying" || this.#phase === "closing") this.#flush(this.#framer?.atBoundary ?? false);
      if (this.#phase === "closing" && this.#framer?.atBoundary) this.#endAtBoundary();
    });
  }

  /** Sends stream output now that the viewer's stream is between messages (`atBoundary`). */
  #flush(atBoundary: boolean): void {
    const streams = this.#streams;
    if (!atBoundary || !streams) return;
    for (const m of streams.drainControl()) this.#io.toClient(m);
    if (this.#phase === "relaying") {
      const room = Math.min(this.#limits.highWater, this.#limits.dataBacklog) - this.#io.clientBacklog();
      if (room > 0) for (const m of streams.pump(room)) this.#io.toClient(m);
      // Control output no longer holds the viewer's input back.
      this.#updateClientPause();
      this.#clientMessages();
    }
  }

  #endAtBoundary(): void {
    if (this.#phase !== "closing") return;
    this.#flush(true);
    this.#finish("the gateway is shutting down", false, true);
  }
}
