// RFB Streams, the server side of one client connection (the "RFB Streams" contract,
// cited as "spec §N"; the choices it leaves open are in docs/streams.md, "The gateway").
// Pure TypeScript: the relay (relay.ts) hands it the client's 255/2 messages and its
// SetEncodings, and sends what it produces at message boundaries of the display stream;
// the devices (device.ts) are shared with the gateway's other clients.
//
// Output comes in two kinds, which the relay sends in this order whenever the display
// stream is between messages (spec §6: stream messages never go inside a
// FramebufferUpdate): `drainControl()` — the ack, the listing, OPEN_REPLY, WINDOW, CLOSED,
// BACKEND_STATE, queued as they arise, in order — then `pump()`, DATA taken from the
// devices only as far as the client's credit and the connection's room allow. DATA is
// never queued here, so output the client cannot take stays in the device's ring, where
// it holds the device back (flow control) instead of filling memory.

import { ProtocolError } from "../protocol/errors.js";
import { CloseReason, OpenFlag, OpenStatus, StreamFlag, Streams, StreamsClientOp } from "../protocol/streams.js";
import {
  type ClientStreamOp,
  encodeBackendState,
  encodeClosed,
  encodeListComplete,
  encodeOpenReply,
  encodeServerData,
  encodeServerWindow,
  encodeStreamAdded,
  encodeStreamsAck,
  parseClientStreamOp,
} from "../protocol/server/streams-wire.js";
import type { DeviceReader, StreamDevice } from "./device.js";

export interface StreamsSessionOptions {
  /** The initial client-to-server credit of a writable OPEN (spec §4 write-window). */
  readonly writeWindow: number;
  /** A read-only client: every OPEN asking for write access is DENIED. */
  readonly readOnly: boolean;
}

export interface StreamsSessionHost {
  /** There is control output to drain or DATA to pump: flush when between messages. */
  wake(): void;
}

/** The most ids outside the stream list remembered for the at-most-once CLOSED reason 5. */
const MAX_UNKNOWN_IDS = 4096;
const MAX_CREDIT = Number.MAX_SAFE_INTEGER;

/**
 * The STREAM_ADDED flags of a device (spec §4) as one viewer sees them: writable only when
 * it may write (a read-only login may not, so its client opens read-only instead of being
 * DENIED). BREAK is supported by no backend yet.
 */
export function deviceFlags(device: StreamDevice, readOnlyViewer = false): number {
  const writable = device.info.writable && !readOnlyViewer;
  return (writable ? StreamFlag.Writable : 0) | (device.info.historyBytes > 0 ? StreamFlag.History : 0);
}

interface ControlItem {
  readonly bytes: Uint8Array;
  /** What it is part of, so that disabling streams can take back what was not sent yet. */
  readonly tag: "ack" | "listing" | "stream";
}

/** One open stream of this client. */
class OpenStream implements DeviceReader {
  /** Bytes this server may still send (the client's grant, spec §6). */
  readCredit: number;
  /** Bytes the client may still send. */
  writeCredit: number;
  /** Bytes written to the device and not yet granted back. */
  toGrant = 0;

  constructor(
    readonly session: StreamsSession,
    readonly id: number,
    readonly device: StreamDevice,
    readonly write: boolean,
    readonly writeWindow: number,
    readWindow: number,
  ) {
    this.readCredit = readWindow;
    this.writeCredit = writeWindow;
  }

  dataAvailable(): void {
    if (this.readCredit > 0) this.session.host.wake();
  }

  backendState(connected: boolean): void {
    this.session.queueStream(encodeBackendState(this.id, connected));
  }

  written(n: number): void {
    this.session.written(this, n);
  }

  slowReader(): void {
    this.session.slowReader(this);
  }
}

export class StreamsSession {
  readonly host: StreamsSessionHost;
  readonly #devices = new Map<number, StreamDevice>();
  readonly #options: StreamsSessionOptions;
  #control: ControlItem[] = [];
  #controlBytes = 0;
  #open = new Map<number, OpenStream>();
  /** The client's last SetEncodings listed -262. */
  #enabled = false;
  /** The ack for the current enabling has been sent: 255/2 may arrive (spec §2.6). */
  #active = false;
  #enumerated = false;
  /** Ids answered CLOSED reason 5 since they were last open (spec §7: at most once). */
  #answeredNotOpen = new Set<number>();
  #unknownAnswered = 0;
  #round = 0;
  #over = false;

  constructor(devices: readonly StreamDevice[], options: StreamsSessionOptions, host: StreamsSessionHost) {
    for (const d of devices) this.#devices.set(d.info.id, d);
    this.#options = options;
    this.host = host;
  }

  /** Whether the client may send 255/2 now: the ack has gone out and streams are not disabled. */
  get active(): boolean {
    return this.#active;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Control bytes waiting for a message boundary. */
  get controlBytes(): number {
    return this.#controlBytes;
  }

  get openStreams(): number {
    return this.#open.size;
  }

  /** Whether a flush would send something: control output, or DATA with credit. */
  get hasOutput(): boolean {
    if (this.#control.length > 0) return true;
    for (const s of this.#open.values()) if (s.readCredit > 0 && s.device.available(s) > 0) return true;
    return false;
  }

  // --- from the relay ---

  /**
   * The client's SetEncodings (spec §2): listing -262 earns an ack (with the enumeration
   * the first time); not listing it closes every open stream with reason 6, after which
   * nothing 255/2 is sent until -262 is listed again.
   */
  encodings(listsStreams: boolean): void {
    if (this.#over) return;
    if (listsStreams) {
      this.#enabled = true;
      this.#queue(encodeStreamsAck(), "ack");
      if (!this.#enumerated) {
        this.#enumerated = true;
        for (const d of this.#devices.values())
          this.#queue(
            encodeStreamAdded(
              d.info.id,
              deviceFlags(d, this.#options.readOnly),
              d.info.name,
              d.info.label,
              d.info.kind,
            ),
            "listing",
          );
        this.#queue(encodeListComplete(), "listing");
      }
      return;
    }
    if (!this.#enabled) return;
    this.#enabled = false;
    this.#active = false;
    // An ack or listing not sent yet must not be (spec §2.6: no -262 rectangle to a client
    // whose SetEncodings does not list it); the enumeration then comes with the next ack.
    if (this.#control.some((c) => c.tag === "listing")) this.#enumerated = false;
    this.#dropControl((c) => c.tag !== "stream");
    this.#closeAll(CloseReason.Disabled, "the client's SetEncodings no longer lists RFB Streams");
  }

  /** One 255/2 message from the client. Throws ProtocolError for what ends the connection. */
  message(op: number, id: number, payload: Uint8Array): void {
    if (!this.#active)
      throw new ProtocolError(
        "malformed",
        this.#enabled
          ? "the client sent an RFB Streams message before the -262 acknowledgement (spec §2.6)"
          : "the client sent an RFB Streams message without listing -262 (spec §2.6)",
      );
    const parsed = parseClientStreamOp(op, id, payload);
    if (parsed === null || this.#over) return; // unknown operations are skipped (spec §3)
    this.#handle(parsed);
  }

  /** The control output, in order; call only between display messages. */
  drainControl(): Uint8Array[] {
    const items = this.#control;
    this.#control = [];
    this.#controlBytes = 0;
    const out: Uint8Array[] = [];
    for (const item of items) {
      // The client may speak from the ack on (spec §2.6): it cannot have seen it earlier.
      if (item.tag === "ack" && this.#enabled) this.#active = true;
      out.push(item.bytes);
    }
    return out;
  }

  /**
   * DATA for the client, at most `budget` payload bytes in chunks of at most 16384 (spec
   * §3 "SHOULD"), taken in turn from the open streams with credit. Call only between
   * display messages and after drainControl().
   */
  pump(budget: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.#over) return out;
    let left = budget;
    const streams = [...this.#open.values()];
    if (streams.length === 0) return out;
    let idle = 0;
    // Round robin from where the last pump stopped, one chunk per stream per turn.
    for (let i = this.#round; left > 0 && idle < streams.length; i = (i + 1) % streams.length) {
      const s = streams[i % streams.length];
      if (!s || this.#open.get(s.id) !== s) {
        idle++;
        continue;
      }
      const data = s.readCredit > 0 ? s.device.take(s, Math.min(s.readCredit, Streams.dataChunk, left)) : null;
      if (data === null) {
        idle++;
        continue;
      }
      idle = 0;
      s.readCredit -= data.length;
      left -= data.length;
      out.push(encodeServerData(s.id, data));
      this.#round = (i + 1) % streams.length;
    }
    return out;
  }

  /**
   * The gateway is shutting down: every open stream is closed with reason 6 (queued as
   * control output) and the devices are let go. Nothing else is sent afterwards.
   */
  shutdown(message: string): void {
    if (this.#over) return;
    if (this.#active || this.#enabled) this.#closeAll(CloseReason.Disabled, message);
    this.#over = true;
  }

  /** The connection is gone: the devices forget this client's streams. */
  detach(): void {
    for (const s of this.#open.values()) s.device.detach(s);
    this.#open.clear();
    this.#over = true;
  }

  // --- from the devices, through OpenStream ---

  queueStream(bytes: Uint8Array): void {
    this.#queue(bytes, "stream");
  }

  written(s: OpenStream, n: number): void {
    if (this.#open.get(s.id) !== s) return;
    s.toGrant += n;
    // Spec §6, recommended: grant once at least half of the window has been consumed.
    if (s.toGrant >= Math.max(1, Math.ceil(s.writeWindow / 2))) {
      const increment = s.toGrant;
      s.toGrant = 0;
      s.writeCredit = Math.min(MAX_CREDIT, s.writeCredit + increment);
      this.queueStream(encodeServerWindow(s.id, increment));
    }
  }

  slowReader(s: OpenStream): void {
    if (this.#open.get(s.id) !== s) return;
    this.#open.delete(s.id);
    this.queueStream(
      encodeClosed(
        s.id,
        CloseReason.SlowReader,
        "this client read too slowly and held back the stream's other readers",
      ),
    );
  }

  // --- internals ---

  #queue(bytes: Uint8Array, tag: ControlItem["tag"]): void {
    if (this.#over) return;
    this.#control.push({ bytes, tag });
    this.#controlBytes += bytes.length;
    this.host.wake();
  }

  #dropControl(drop: (c: ControlItem) => boolean): void {
    this.#control = this.#control.filter((c) => !drop(c));
    this.#controlBytes = this.#control.reduce((n, c) => n + c.bytes.length, 0);
  }

  #closeAll(reason: number, message: string): void {
    for (const s of [...this.#open.values()]) this.#close(s, reason, message);
  }

  #close(s: OpenStream, reason: number, message: string): void {
    this.#open.delete(s.id);
    s.device.detach(s);
    this.queueStream(encodeClosed(s.id, reason, message));
  }

  /** CLOSED reason 5 for an id that is not open, at most once until it is opened (spec §7). */
  #notOpen(id: number): void {
    if (this.#answeredNotOpen.has(id)) return;
    if (!this.#devices.has(id)) {
      // Ids outside the list are remembered up to a bound; past it they are only drained.
      if (this.#unknownAnswered >= MAX_UNKNOWN_IDS) return;
      this.#unknownAnswered++;
    }
    this.#answeredNotOpen.add(id);
    this.queueStream(encodeClosed(id, CloseReason.NotOpen, "the stream is not open"));
  }

  #handle(m: ClientStreamOp): void {
    switch (m.op) {
      case StreamsClientOp.Open:
        this.#openStream(m.id, m.readWindow, m.flags);
        return;
      case StreamsClientOp.Close: {
        const s = this.#open.get(m.id);
        if (s) this.#close(s, CloseReason.ClientRequest, "");
        else this.#notOpen(m.id);
        return;
      }
      case StreamsClientOp.Data: {
        const s = this.#open.get(m.id);
        if (!s) {
          this.#notOpen(m.id);
          return;
        }
        if (m.data.length === 0) return;
        // More than the credit — which is 0 for a read-only open — is a flow-control
        // violation (spec §6, §7): the stream is closed and the bytes are not written.
        if (m.data.length > s.writeCredit) {
          this.#close(
            s,
            CloseReason.FlowControl,
            s.write
              ? `the client sent ${m.data.length} bytes with ${s.writeCredit} bytes of credit`
              : "the stream was opened without write access",
          );
          return;
        }
        s.writeCredit -= m.data.length;
        s.device.write(s, m.data);
        return;
      }
      case StreamsClientOp.Window: {
        const s = this.#open.get(m.id);
        if (!s) return; // drained: a WINDOW racing a CLOSED (spec §7)
        s.readCredit = Math.min(MAX_CREDIT, s.readCredit + m.increment);
        if (m.increment > 0 && s.device.available(s) > 0) this.host.wake();
        return;
      }
      case StreamsClientOp.Break:
        // No backend supports BREAK, so no STREAM_ADDED sets bit 1 and the client should
        // not send it (spec §5); one that does is ignored, as unknown input is.
        return;
    }
  }

  #openStream(id: number, readWindow: number, flags: number): void {
    const device = this.#devices.get(id);
    if (!device) {
      this.queueStream(encodeOpenReply(id, OpenStatus.NoSuchStream, 0, 0));
      return;
    }
    if (this.#open.has(id)) {
      // Spec §7: FAILED, and the open stream is unaffected.
      this.queueStream(encodeOpenReply(id, OpenStatus.Failed, 0, 0));
      return;
    }
    const write = (flags & OpenFlag.Write) !== 0;
    if (write && (!device.info.writable || this.#options.readOnly)) {
      this.queueStream(encodeOpenReply(id, OpenStatus.Denied, 0, 0));
      return;
    }
    const writeWindow = write ? this.#options.writeWindow : 0;
    const s = new OpenStream(this, id, device, write, writeWindow, readWindow);
    this.#open.set(id, s);
    this.#answeredNotOpen.delete(id);
    const history = device.attach(s, (flags & OpenFlag.History) !== 0);
    this.queueStream(encodeOpenReply(id, OpenStatus.Ok, writeWindow, history));
    // Where the device stands now; later changes follow as they happen.
    this.queueStream(encodeBackendState(id, device.connected));
  }
}
