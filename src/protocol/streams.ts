// RFB Streams, the client side: a guest's serial ports and text consoles tunnelled inside
// the one RFB connection (the project's wire contract "RFB Streams", cited below as
// "spec §N"; the choices it leaves open are written down in docs/streams.md).
//
// Negotiation (spec §2): the client lists -262 in SetEncodings; a server that speaks
// streams answers with an empty -262 pseudo-rectangle (x = extension version), then one
// STREAM_ADDED per stream and one LIST_COMPLETE. Nothing 255/2 may leave this client before
// that ack: an unpatched QEMU drops a client that sends an unknown 255 sub-type (§2.6).
//
// Every stream message in both directions is a 12-byte header (U8 255, U8 2, U16 operation,
// U32 stream-id, U32 payload-length) and a payload of at most 65536 bytes (§3). The length
// lets a receiver skip operations it does not know, so only a length over the limit or a
// payload that contradicts its own operation's layout is fatal.
//
// Flow control is credit in payload bytes, one window per direction and open stream (§6):
// this client never has more DATA outstanding than the server granted (it queues the rest,
// boundedly), and grants the server more only as the owner reports bytes consumed.
//
// Races are expected (§7): a CLOSE crosses the server's DATA, an OPEN crosses a CLOSED.
// Each stream therefore counts the OPENs whose reply is still due; while one is due,
// everything the server says about that id belongs to an earlier session (the server
// answers an OPEN before it says anything else about the session it opens) and is drained.

import type { ByteQueue } from "./byte-queue.js";
import { ClientMessage, Encoding, QEMUClientMessage } from "./constants.js";
import type { Rect } from "./decoders/decoder.js";
import { ProtocolError } from "./errors.js";
import type { Extension, ExtensionHost } from "./extension.js";

/** The numbers of spec §1 and §3, in one place. */
export const Streams = {
  /** The capability pseudo-encoding (0xFFFFFEFA). */
  pseudoEncoding: Encoding.Streams,
  /** The QEMU message type, the same in both directions (ServerMessage.QEMU is 255 too). */
  messageType: ClientMessage.QEMU,
  /** The QEMU sub-type, the same in both directions. */
  subtype: QEMUClientMessage.Streams,
  /** The extension version this client speaks, carried in the ack's x. */
  version: 1,
  headerLength: 12,
  /** A larger payload-length is a protocol error (spec §3). */
  maxPayload: 65536,
  /** Strings are at most 256 bytes of UTF-8 (spec preamble). */
  maxString: 256,
  /** What DATA payloads SHOULD stay under, so a framebuffer update waits behind one chunk at most (§3). */
  dataChunk: 16384,
  /** The recommended initial read-window (§5). */
  defaultReadWindow: 65536,
} as const;

/** Server-to-client operations (spec §4). */
export const StreamsServerOp = {
  StreamAdded: 0,
  StreamRemoved: 1,
  ListComplete: 2,
  OpenReply: 3,
  Data: 4,
  Window: 5,
  Closed: 6,
  BackendState: 7,
} as const;

/** Client-to-server operations (spec §5). */
export const StreamsClientOp = {
  Open: 0,
  Close: 1,
  Data: 2,
  Window: 3,
  Break: 4,
} as const;

/** STREAM_ADDED flags (spec §4). */
export const StreamFlag = { Writable: 1, Break: 2, History: 4 } as const;

/** OPEN flags (spec §5). */
export const OpenFlag = { Write: 1, History: 2 } as const;

/** OPEN_REPLY status (spec §4). */
export const OpenStatus = { Ok: 0, NoSuchStream: 1, Busy: 2, Denied: 3, Failed: 4 } as const;

/** CLOSED reason (spec §4). */
export const CloseReason = {
  ClientRequest: 0,
  EndOfFile: 1,
  Removed: 2,
  IOError: 3,
  FlowControl: 4,
  NotOpen: 5,
  Disabled: 6,
  SlowReader: 7,
} as const;

/** The `kind`s spec §4 lists; a server may send others, which are passed on as they are. */
export type StreamKind = "serial" | "console" | "parallel" | "monitor" | "channel";

/** Limits this client sets where the spec leaves them to the implementation (docs/streams.md). */
export const StreamsLimits = {
  /** Bytes write() may hold per stream while waiting for credit; beyond it, "queue-full". */
  maxQueuedWrite: 1024 * 1024,
  /** Stream ids one connection may announce; further STREAM_ADDEDs are drained. */
  maxStreamIds: 65536,
} as const;

const U32_MAX = 0xffffffff;

/** Human text for an OPEN_REPLY status. */
export function openStatusText(status: number): string {
  switch (status) {
    case OpenStatus.Ok:
      return "opened";
    case OpenStatus.NoSuchStream:
      return "the server has no such stream";
    case OpenStatus.Busy:
      return "the stream is busy";
    case OpenStatus.Denied:
      return "access to the stream was denied";
    case OpenStatus.Failed:
      return "the server could not open the stream";
    default:
      return `the server refused to open the stream (status ${status})`;
  }
}

/** Human text for a CLOSED reason. */
export function closeReasonText(reason: number): string {
  switch (reason) {
    case CloseReason.ClientRequest:
      return "closed at this client's request";
    case CloseReason.EndOfFile:
      return "the device reached end of file";
    case CloseReason.Removed:
      return "the stream was removed";
    case CloseReason.IOError:
      return "an I/O error occurred on the device";
    case CloseReason.FlowControl:
      return "flow-control violation";
    case CloseReason.NotOpen:
      return "the stream was not open";
    case CloseReason.Disabled:
      return "streams were disabled or the server is shutting down";
    case CloseReason.SlowReader:
      return "this client read too slowly and held back the stream's other readers";
    default:
      return `closed by the server (reason ${reason})`;
  }
}

// ---------------------------------------------------------------------------------------
// Client-to-server encoders (spec §3, §5). Each returns one complete message.

function u32Arg(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX)
    throw new RangeError(`${what} must be an integer from 0 to ${U32_MAX}, not ${value}`);
  return value;
}

function streamId(id: number): number {
  u32Arg(id, "a stream id");
  if (id === 0) throw new RangeError("stream id 0 means no stream (spec §3)");
  return id;
}

function streamsMessage(op: number, id: number, payloadLength: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(Streams.headerLength + payloadLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, Streams.messageType);
  view.setUint8(1, Streams.subtype);
  view.setUint16(2, op);
  view.setUint32(4, id);
  view.setUint32(8, payloadLength);
  return { bytes, view };
}

/** OPEN: `readWindow` is the initial server-to-client credit; `flags` are OpenFlag bits. */
export function encodeStreamOpen(id: number, readWindow: number, flags: number): Uint8Array {
  const { bytes, view } = streamsMessage(StreamsClientOp.Open, streamId(id), 8);
  view.setUint32(12, u32Arg(readWindow, "the read-window"));
  view.setUint32(16, u32Arg(flags, "the OPEN flags"));
  return bytes;
}

/** CLOSE: the server answers CLOSED reason 0. */
export function encodeStreamClose(id: number): Uint8Array {
  return streamsMessage(StreamsClientOp.Close, streamId(id), 0).bytes;
}

/** DATA: 1 to 65536 bytes (spec §5); this client itself sends at most 16384 (§3). */
export function encodeStreamData(id: number, data: Uint8Array): Uint8Array {
  if (data.length < 1 || data.length > Streams.maxPayload)
    throw new RangeError(`a DATA payload is 1 to ${Streams.maxPayload} bytes, not ${data.length}`);
  const { bytes } = streamsMessage(StreamsClientOp.Data, streamId(id), data.length);
  bytes.set(data, Streams.headerLength);
  return bytes;
}

/** WINDOW: `increment` more bytes of server-to-client credit. */
export function encodeStreamWindow(id: number, increment: number): Uint8Array {
  const { bytes, view } = streamsMessage(StreamsClientOp.Window, streamId(id), 4);
  view.setUint32(12, u32Arg(increment, "a WINDOW increment"));
  return bytes;
}

/** BREAK: a serial break of `milliseconds`; only for streams that announced flag bit 1. */
export function encodeStreamBreak(id: number, milliseconds: number): Uint8Array {
  const { bytes, view } = streamsMessage(StreamsClientOp.Break, streamId(id), 4);
  view.setUint32(12, u32Arg(milliseconds, "a BREAK duration"));
  return bytes;
}

// ---------------------------------------------------------------------------------------
// What the extension tells its owner.

export interface StreamInfo {
  readonly id: number;
  /** The device id, e.g. `serial0`. */
  readonly name: string;
  /** Human text, e.g. `Serial port 1`. */
  readonly label: string;
  /** A StreamKind, or whatever else the server sent. */
  readonly kind: string;
  readonly writable: boolean;
  readonly breakSupported: boolean;
  readonly historyAvailable: boolean;
  /** The raw STREAM_ADDED flags, bits this client does not know included. */
  readonly flags: number;
}

export interface StreamOpened {
  readonly status: typeof OpenStatus.Ok;
  /** The initial client-to-server credit (0 for a read-only open). */
  readonly writeWindow: number;
  /** Bytes of earlier output that arrive first, as `data(…, history = true)`. */
  readonly historyLength: number;
  /** Whether this session may write (asked for, and the stream is writable). */
  readonly write: boolean;
}

export interface StreamOpenFailed {
  readonly status: number;
  readonly text: string;
}

export interface StreamClosed {
  /** A CloseReason: the server's, or the one this client applied (see `local`). */
  readonly reason: number;
  /** Human text for `reason` (or for the local cause). */
  readonly text: string;
  /** The server's CLOSED message, "" when it gave none or the close was local. */
  readonly message: string;
  /**
   * True when no CLOSED from the server carried this: STREAM_REMOVED (reason 2), excess
   * DATA (4), disable() or the connection ending (6), a reopen before CLOSED arrived (0).
   */
  readonly local: boolean;
  /** Bytes write() had accepted that were never sent and now never will be. */
  readonly unsent: number;
}

/** What write() did with the bytes. */
export type StreamWriteResult =
  /** Sent, or queued to go as credit arrives. */
  | "accepted"
  /** Nothing was taken: the stream's queue would exceed StreamsLimits.maxQueuedWrite. */
  | "queue-full"
  /** Nothing was taken: the stream is not open (not yet, or no longer). */
  | "not-open";

export type StreamState = "idle" | "opening" | "open" | "closing";

/** All optional; every argument is the listener's to keep. */
export interface StreamsListener {
  /** The server acknowledged -262 with `version`; operations may be used from now on. */
  acknowledged?(version: number): void;
  streamAdded?(info: StreamInfo): void;
  /** The initial enumeration is over (once per connection). */
  listComplete?(): void;
  /** The stream is gone; its id is never used again on this connection. */
  streamRemoved?(id: number): void;
  opened?(id: number, info: StreamOpened): void;
  openFailed?(id: number, failure: StreamOpenFailed): void;
  /** Output of the device; `history` marks replayed earlier output (spec §4). Report it with consumed(). */
  data?(id: number, bytes: Uint8Array, history: boolean): void;
  /** Every open() ends in exactly one openFailed or one closed. */
  closed?(id: number, info: StreamClosed): void;
  /** The device's far side came (true) or went (false); the stream stays open. */
  backendState?(id: number, connected: boolean): void;
  /** The write queue, non-empty after a write() had to wait for credit, has all been sent. */
  writeDrained?(id: number): void;
  /** The connection ended: every session has had its `closed`; the list is gone. */
  detached?(): void;
}

/** A call the extension cannot honour in its state (a caller's mistake, not the server's). */
export class StreamsError extends Error {
  override name = "StreamsError";
}

export interface StreamOpenOptions {
  /** Ask for write access; defaults to whether the stream is writable. */
  readonly write?: boolean;
  /** Ask for history replay; defaults to whether the stream keeps history. */
  readonly history?: boolean;
  /** Initial server-to-client credit in bytes, 0 to 2³²−1 (default 65536). */
  readonly readWindow?: number;
}

// ---------------------------------------------------------------------------------------
// The extension.

type Phase =
  /** No connection. */
  | "detached"
  /** Connected (or re-enabled) and waiting for the -262 ack; nothing 255/2 may be sent. */
  | "awaiting-ack"
  | "active"
  /** disable() was called: the server has been told to stop; its stream messages are drained. */
  | "disabled";

/** An item of a stream's write queue: bytes, or a BREAK kept in order behind them. */
type Queued = { readonly data: Uint8Array } | { readonly breakMs: number };

/** The wire cost that a queued BREAK counts against the queue bound. */
const QUEUED_BREAK_COST = Streams.headerLength + 4;

/** The per-session fields of a StreamRecord, as they are before an OPEN. */
function freshSession() {
  return {
    wantWrite: false,
    canWrite: false,
    readWindow: 0,
    readCredit: 0,
    unconsumed: 0,
    toGrant: 0,
    historyRemaining: 0,
    writeCredit: 0,
    queue: [] as Queued[],
    queueOffset: 0,
    queued: 0,
    queuedData: 0,
    backendConnected: null as boolean | null,
  };
}

interface StreamRecord {
  info: StreamInfo;
  state: StreamState;
  /** OPENs sent whose OPEN_REPLY has not arrived; while > 0, other messages are stale. */
  opensDue: number;
  /** Whether the session being closed still owes the owner its `closed` event. */
  closeOwed: boolean;
  // The current session, reset by open():
  wantWrite: boolean;
  canWrite: boolean;
  readWindow: number;
  /** Bytes the server may still send before this client grants more. */
  readCredit: number;
  /** Bytes handed to the owner and not yet reported by consumed(). */
  unconsumed: number;
  /** Bytes consumed and not yet granted back by a WINDOW. */
  toGrant: number;
  historyRemaining: number;
  /** Bytes this client may still send. */
  writeCredit: number;
  queue: Queued[];
  /** Offset into the first queued data item already sent. */
  queueOffset: number;
  /** Queue size against StreamsLimits.maxQueuedWrite (data bytes plus BREAK costs). */
  queued: number;
  /** Data bytes in the queue (what `unsent` reports). */
  queuedData: number;
  backendConnected: boolean | null;
}

/** A parsed server operation; the payload has been fully read and the queue advanced. */
type ServerEvent =
  | { op: 0; id: number; flags: number; name: string; label: string; kind: string }
  | { op: 1; id: number }
  | { op: 2 }
  | { op: 3; id: number; status: number; writeWindow: number; historyLength: number }
  | { op: 4; id: number; data: Uint8Array }
  | { op: 5; id: number; increment: number }
  | { op: 6; id: number; reason: number; message: string }
  | { op: 7; id: number; state: number };

const OP_NAMES = [
  "STREAM_ADDED",
  "STREAM_REMOVED",
  "LIST_COMPLETE",
  "OPEN_REPLY",
  "DATA",
  "WINDOW",
  "CLOSED",
  "BACKEND_STATE",
];

/** Reads one payload; every shortfall is the protocol error spec §7 calls for. */
class PayloadReader {
  #at = 0;
  readonly #view: DataView;

  constructor(
    readonly payload: Uint8Array,
    readonly what: string,
  ) {
    this.#view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  }

  #need(n: number, field: string): number {
    if (this.#at + n > this.payload.length)
      throw new ProtocolError(
        "malformed",
        `the server's ${this.what} has a ${this.payload.length}-byte payload, too short for its ${field}`,
      );
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u32(field: string): number {
    return this.#view.getUint32(this.#need(4, field));
  }

  string(field: string): string {
    const len = this.#view.getUint16(this.#need(2, `${field} length`));
    if (len > Streams.maxString)
      throw new ProtocolError(
        "malformed",
        `the server's ${this.what} has a ${len}-byte ${field} (strings are at most ${Streams.maxString} bytes)`,
      );
    if (this.#at + len > this.payload.length)
      throw new ProtocolError(
        "malformed",
        `the server's ${this.what} has a ${len}-byte ${field} that runs past its ${this.payload.length}-byte payload`,
      );
    const at = this.#at;
    this.#at += len;
    // Only the length can be malformed (spec §7); bytes that are not UTF-8 show as U+FFFD.
    return new TextDecoder("utf-8").decode(this.payload.subarray(at, at + len));
  }
}

function parseServerOp(op: number, id: number, payload: Uint8Array): ServerEvent | null {
  const name = OP_NAMES[op];
  if (name === undefined) return null; // unknown: skipped by its length (spec §3)
  const r = new PayloadReader(payload, `${name} for stream ${id}`);
  switch (op) {
    case StreamsServerOp.StreamAdded:
      return {
        op,
        id,
        flags: r.u32("flags"),
        name: r.string("name"),
        label: r.string("label"),
        kind: r.string("kind"),
      };
    case StreamsServerOp.StreamRemoved:
      return { op, id };
    case StreamsServerOp.ListComplete:
      return { op };
    case StreamsServerOp.OpenReply:
      return {
        op,
        id,
        status: r.u32("status"),
        writeWindow: r.u32("write-window"),
        historyLength: r.u32("history-length"),
      };
    case StreamsServerOp.Data:
      return { op, id, data: payload.slice() };
    case StreamsServerOp.Window:
      return { op, id, increment: r.u32("increment") };
    case StreamsServerOp.Closed:
      return { op, id, reason: r.u32("reason"), message: r.string("message") };
    case StreamsServerOp.BackendState:
      return { op, id, state: r.u32("state") };
    default:
      return null;
  }
}

export class StreamsExtension implements Extension {
  readonly pseudoEncodings = [Streams.pseudoEncoding] as const;
  readonly qemuSubtypes = [Streams.subtype] as const;

  listener: StreamsListener;
  #host: ExtensionHost | null = null;
  #phase: Phase = "detached";
  #version: number | null = null;
  #listComplete = false;
  #streams = new Map<number, StreamRecord>();
  /** Every id announced on this connection, removed ones included: ids are never reused (§4). */
  #seen = new Set<number>();

  constructor(listener: StreamsListener = {}) {
    this.listener = listener;
  }

  // --- state the owner may query ---

  /** Whether operations may be used: the ack arrived and disable() was not called since. */
  get active(): boolean {
    return this.#phase === "active";
  }

  /** The version the server's ack carried, or null before any ack. */
  get serverVersion(): number | null {
    return this.#version;
  }

  get listComplete(): boolean {
    return this.#listComplete;
  }

  /** The streams currently listed, in announcement order. */
  streams(): StreamInfo[] {
    return Array.from(this.#streams.values(), (s) => s.info);
  }

  stream(id: number): StreamInfo | undefined {
    return this.#streams.get(id)?.info;
  }

  /** A listed stream's state as this client sees it; undefined for an unknown id. */
  state(id: number): StreamState | undefined {
    return this.#streams.get(id)?.state;
  }

  /** Bytes write() accepted for an open stream that still wait for credit. */
  queuedBytes(id: number): number {
    return this.#streams.get(id)?.queuedData ?? 0;
  }

  /** The client-to-server credit left on an open stream. */
  writeCredit(id: number): number {
    const s = this.#streams.get(id);
    return s?.state === "open" ? s.writeCredit : 0;
  }

  /** The last BACKEND_STATE of an open stream, null when none arrived in this session. */
  backendConnected(id: number): boolean | null {
    return this.#streams.get(id)?.backendConnected ?? null;
  }

  // --- Extension ---

  attach(host: ExtensionHost): void {
    this.#reset();
    this.#host = host;
    this.#phase = "awaiting-ack";
  }

  detach(): void {
    // Detached first, so that a listener reacting to `closed` cannot send any more.
    this.#phase = "detached";
    this.#endAll("the connection to the server ended");
    this.#reset();
    this.listener.detached?.();
  }

  rect(_q: ByteQueue, rect: Rect): boolean {
    // The ack has no payload; w, h and y mean nothing (spec §2.2).
    const version = rect.x;
    // Version 0 is no version of this document: such a server is not one this client can
    // talk to, so it stays silent rather than risk sending what the server cannot parse.
    if (version < 1) return true;
    if (this.#phase === "awaiting-ack") {
      this.#version = version;
      this.#phase = "active";
      this.listener.acknowledged?.(version);
    }
    // Active: a re-ack after a SetEncodings that still lists -262 changes nothing (§2.4).
    // Disabled: an ack already in flight when disable() was called; the server is stopping.
    return true;
  }

  message(q: ByteQueue): boolean {
    const header = Streams.headerLength;
    if (!q.has(header)) return false;
    const op = q.peekU16(2);
    const id = q.peekU32(4);
    const length = q.peekU32(8);
    if (length > Streams.maxPayload)
      throw new ProtocolError(
        "limit",
        `the server sent an RFB Streams message (operation ${op}, stream ${id}) with a ${length}-byte payload; the limit is ${Streams.maxPayload}`,
      );
    if (!q.has(header + length)) return false;
    // Parsed before the state is consulted, so the same bytes are well- or ill-formed
    // whatever this client was doing when they arrived.
    const event = parseServerOp(op, id, q.peekBytes(length, header));
    q.skip(header + length);
    // Before the ack nothing should arrive (§2.6); after disable() what arrives was in
    // flight before the server saw the SetEncodings (§2.5). Both are drained.
    if (event && this.#phase === "active") this.#apply(event);
    return true;
  }

  // --- operations ---

  /**
   * Re-enables streams after disable(): call it when sending a SetEncodings that lists
   * -262 again. Operations wait for the new ack, which the server sends without a new
   * enumeration (§2.4), so the list kept from before may have missed changes.
   */
  enable(): void {
    if (this.#phase === "disabled") this.#phase = "awaiting-ack";
  }

  /** The client's SetEncodings: -262 listed or not (spec §2.4–2.5). */
  encodingsSent(encodings: readonly number[]): void {
    if (encodings.includes(Streams.pseudoEncoding)) this.enable();
    else this.disable();
  }

  /**
   * Call when sending a SetEncodings without -262: the server closes every stream of this
   * client with reason 6 and sends no more (§2.5), so this client reports each open
   * stream closed (reason 6) now and drains what was already in flight.
   */
  disable(): void {
    if (this.#phase === "detached" || this.#phase === "disabled") return;
    const wasActive = this.#phase === "active";
    this.#phase = "disabled";
    if (wasActive) this.#endAll("streams were disabled by this client");
  }

  /** Opens a listed stream. Throws StreamsError before the ack or for a bad request. */
  open(id: number, options: StreamOpenOptions = {}): void {
    const s = this.#require(id, "open");
    if (s.state === "open" || s.state === "opening") throw new StreamsError(`stream ${id} is already open`);
    const write = options.write ?? s.info.writable;
    if (write && !s.info.writable) throw new StreamsError(`stream ${id} (${s.info.name}) is not writable`);
    const history = options.history ?? s.info.historyAvailable;
    if (history && !s.info.historyAvailable)
      throw new StreamsError(`stream ${id} (${s.info.name}) keeps no history to replay`);
    const readWindow = options.readWindow ?? Streams.defaultReadWindow;
    u32Arg(readWindow, "the read-window");

    // Reopening before the CLOSED of the last session arrived: that CLOSED will come while
    // this OPEN's reply is due and so be drained; report the old session's end now.
    const owed = s.state === "closing" && s.closeOwed ? this.#closedInfo(s, CloseReason.ClientRequest, "", true) : null;
    Object.assign(s, freshSession());
    s.state = "opening";
    s.closeOwed = true;
    s.wantWrite = write;
    s.readWindow = readWindow;
    s.readCredit = readWindow;
    s.opensDue++;
    this.#send(encodeStreamOpen(id, readWindow, (write ? OpenFlag.Write : 0) | (history ? OpenFlag.History : 0)));
    if (owed) this.listener.closed?.(id, owed);
  }

  /**
   * Asks the server to close the stream; `closed` follows when its CLOSED arrives (or
   * `openFailed`, if the OPEN this cancels fails). Unsent queued bytes are discarded and
   * reported then. False when there is nothing to close.
   */
  close(id: number): boolean {
    const s = this.#streams.get(id);
    if (this.#phase !== "active" || !s || (s.state !== "open" && s.state !== "opening")) return false;
    s.state = "closing";
    this.#send(encodeStreamClose(id));
    return true;
  }

  /**
   * Sends `bytes` as credit allows, in DATA of at most 16384 bytes, queueing the rest
   * (spec §6). All or nothing: "queue-full" and "not-open" take none of the bytes.
   */
  write(id: number, bytes: Uint8Array): StreamWriteResult {
    const s = this.#streams.get(id);
    if (this.#phase !== "active" || s?.state !== "open") return "not-open";
    if (!s.canWrite) throw new StreamsError(`stream ${id} was opened without write access`);
    if (bytes.length === 0) return "accepted";
    if (s.queued + bytes.length > StreamsLimits.maxQueuedWrite) return "queue-full";
    let rest = bytes;
    // Nothing queued (so no BREAK either): what the credit covers goes out at once,
    // encoded straight from the caller's bytes; only the rest is copied into the queue.
    while (s.queue.length === 0 && s.writeCredit > 0 && rest.length > 0) {
      const size = Math.min(Streams.dataChunk, s.writeCredit, rest.length);
      s.writeCredit -= size;
      this.#send(encodeStreamData(id, rest.subarray(0, size)));
      rest = rest.subarray(size);
    }
    if (rest.length === 0) return "accepted";
    s.queue.push({ data: rest.slice() });
    s.queued += rest.length;
    s.queuedData += rest.length;
    this.#flush(id, s, false);
    return "accepted";
  }

  /**
   * A serial BREAK of `milliseconds`, sent in order behind bytes still queued (a BREAK
   * overtaking typed bytes would change what the guest sees). Throws where the stream did
   * not announce BREAK support (§5).
   */
  sendBreak(id: number, milliseconds: number): StreamWriteResult {
    const s = this.#require(id, "send a BREAK to");
    if (!s.info.breakSupported) throw new StreamsError(`stream ${id} (${s.info.name}) does not support BREAK`);
    u32Arg(milliseconds, "a BREAK duration");
    if (s.state !== "open") return "not-open";
    if (s.queued + QUEUED_BREAK_COST > StreamsLimits.maxQueuedWrite) return "queue-full";
    s.queue.push({ breakMs: milliseconds });
    s.queued += QUEUED_BREAK_COST;
    this.#flush(id, s, false);
    return "accepted";
  }

  /**
   * The owner has handed `n` bytes of this stream's data on (to the terminal). Once half
   * the read-window is consumed, the consumed bytes are granted back in one WINDOW (§6).
   * A no-op unless the stream is open; never grants more than was delivered.
   */
  consumed(id: number, n: number): void {
    const s = this.#streams.get(id);
    if (this.#phase !== "active" || s?.state !== "open") return;
    const count = Number.isFinite(n) ? Math.min(Math.max(0, Math.floor(n)), s.unconsumed) : 0;
    if (count === 0) return;
    s.unconsumed -= count;
    s.toGrant += count;
    if (s.toGrant >= Math.max(1, Math.ceil(s.readWindow / 2))) {
      const increment = s.toGrant;
      s.toGrant = 0;
      s.readCredit += increment;
      this.#send(encodeStreamWindow(id, increment));
    }
  }

  /**
   * Grows the read-window of an open stream by `extra` bytes, granted at once (a WINDOW
   * is only an increment, so a receiver may give more than it consumed). The window stays
   * within 2³²−1 so that the server's counter cannot overflow.
   */
  growReadWindow(id: number, extra: number): void {
    const s = this.#require(id, "grow the window of");
    u32Arg(extra, "a window increment");
    if (s.state !== "open") throw new StreamsError(`stream ${id} is not open`);
    if (s.readWindow + extra > U32_MAX) throw new StreamsError(`a read-window over ${U32_MAX} bytes`);
    if (extra === 0) return;
    s.readWindow += extra;
    s.readCredit += extra;
    this.#send(encodeStreamWindow(id, extra));
  }

  // --- internals ---

  #reset(): void {
    this.#host = null;
    this.#phase = "detached";
    this.#version = null;
    this.#listComplete = false;
    this.#streams.clear();
    this.#seen.clear();
  }

  #send(data: Uint8Array): void {
    // §2.6: every send path goes through here, and operations reach it only when active.
    if (this.#phase !== "active" || !this.#host) throw new Error("RFB Streams: a message outside the active phase");
    this.#host.send(data);
  }

  #require(id: number, action: string): StreamRecord {
    switch (this.#phase) {
      case "detached":
        throw new StreamsError(`cannot ${action} stream ${id}: not connected`);
      case "awaiting-ack":
        throw new StreamsError(
          `cannot ${action} stream ${id}: the server has not acknowledged RFB Streams (nothing may be sent before its ack)`,
        );
      case "disabled":
        throw new StreamsError(`cannot ${action} stream ${id}: RFB Streams were disabled`);
      case "active":
        break;
    }
    const s = this.#streams.get(id);
    if (!s) throw new StreamsError(`cannot ${action} stream ${id}: the server lists no such stream`);
    return s;
  }

  #closedInfo(s: StreamRecord, reason: number, message: string, local: boolean, text?: string): StreamClosed {
    return { reason, text: text ?? closeReasonText(reason), message, local, unsent: s.queuedData };
  }

  /** Ends the session of a stream (if any) and reports the end it owes. */
  #finish(id: number, s: StreamRecord, info: StreamClosed | null): void {
    const owed = s.closeOwed && s.state !== "idle";
    s.state = "idle";
    s.closeOwed = false;
    s.canWrite = false;
    s.queue = [];
    s.queueOffset = 0;
    s.queued = 0;
    s.queuedData = 0;
    s.backendConnected = null;
    if (owed && info) this.listener.closed?.(id, info);
  }

  /** disable() or the connection ending: every session ends locally with reason 6. */
  #endAll(text: string): void {
    for (const [id, s] of this.#streams) {
      if (s.state === "idle") continue;
      const info = this.#closedInfo(s, CloseReason.Disabled, "", true, text);
      s.opensDue = 0;
      this.#finish(id, s, info);
    }
  }

  #apply(e: ServerEvent): void {
    switch (e.op) {
      case StreamsServerOp.StreamAdded:
        this.#added(e);
        return;
      case StreamsServerOp.StreamRemoved:
        this.#removed(e.id);
        return;
      case StreamsServerOp.ListComplete:
        // Sent once (§4); a second one is ignored.
        if (this.#listComplete) return;
        this.#listComplete = true;
        this.listener.listComplete?.();
        return;
      case StreamsServerOp.OpenReply:
        this.#openReply(e.id, e.status, e.writeWindow, e.historyLength);
        return;
      default:
        break;
    }
    // DATA, WINDOW, CLOSED, BACKEND_STATE: only for the current session (§7: drained for an
    // unknown or closed id, and while an OPEN's reply is due they belong to an older one).
    const s = this.#streams.get(e.id);
    if (!s || s.opensDue > 0 || s.state === "idle") return;
    switch (e.op) {
      case StreamsServerOp.Data:
        if (s.state === "open") this.#data(e.id, s, e.data);
        return;
      case StreamsServerOp.Window:
        if (s.state !== "open") return;
        s.writeCredit = Math.min(Number.MAX_SAFE_INTEGER, s.writeCredit + e.increment);
        this.#flush(e.id, s, true);
        return;
      case StreamsServerOp.Closed:
        this.#finish(e.id, s, this.#closedInfo(s, e.reason, e.message, false));
        return;
      case StreamsServerOp.BackendState:
        // Only 0 and 1 are defined; other values are left for a later version to define.
        if (s.state !== "open" || e.state > 1) return;
        s.backendConnected = e.state === 1;
        this.listener.backendState?.(e.id, e.state === 1);
        return;
    }
  }

  #added(e: { id: number; flags: number; name: string; label: string; kind: string }): void {
    // id 0 means "none" (§3) and ids are never reused (§4): such an announcement cannot be
    // told apart from an old stream's, so it is ignored rather than trusted.
    if (e.id === 0 || this.#seen.has(e.id) || this.#seen.size >= StreamsLimits.maxStreamIds) return;
    this.#seen.add(e.id);
    const info: StreamInfo = {
      id: e.id,
      name: e.name,
      label: e.label,
      kind: e.kind,
      writable: (e.flags & StreamFlag.Writable) !== 0,
      breakSupported: (e.flags & StreamFlag.Break) !== 0,
      historyAvailable: (e.flags & StreamFlag.History) !== 0,
      flags: e.flags,
    };
    this.#streams.set(e.id, { info, state: "idle", opensDue: 0, closeOwed: false, ...freshSession() });
    this.listener.streamAdded?.(info);
  }

  #removed(id: number): void {
    const s = this.#streams.get(id);
    if (!s) return;
    // STREAM_REMOVED implies CLOSED reason 2 (§4), also for an OPEN still awaiting its
    // reply: that reply, if it comes, is for an id that no longer exists and is drained.
    const info = this.#closedInfo(s, CloseReason.Removed, "", true);
    this.#finish(id, s, info);
    this.#streams.delete(id);
    this.listener.streamRemoved?.(id);
  }

  #openReply(id: number, status: number, writeWindow: number, historyLength: number): void {
    const s = this.#streams.get(id);
    // No OPEN outstanding: a reply nobody asked for is drained (§7).
    if (!s || s.opensDue === 0) return;
    s.opensDue--;
    // The reply to an OPEN that a CLOSE and a newer OPEN followed: the server will close
    // that session on our CLOSE, and all it says until then is drained.
    if (s.opensDue > 0) return;
    if (status !== OpenStatus.Ok) {
      const owed = s.closeOwed;
      this.#finish(id, s, null);
      if (owed) this.listener.openFailed?.(id, { status, text: openStatusText(status) });
      return;
    }
    // Closed by the owner before the reply: the server's CLOSED, answering our CLOSE, ends it.
    if (s.state !== "opening") return;
    s.state = "open";
    s.canWrite = s.wantWrite;
    s.writeCredit = writeWindow;
    s.historyRemaining = historyLength;
    this.listener.opened?.(id, { status: OpenStatus.Ok, writeWindow, historyLength, write: s.canWrite });
  }

  #data(id: number, s: StreamRecord, data: Uint8Array): void {
    if (data.length === 0) return;
    let deliver = data;
    let excess = 0;
    if (data.length > s.readCredit) {
      // More than the credit (§6): deliver what was granted, drop the rest, CLOSE.
      excess = data.length - s.readCredit;
      deliver = data.subarray(0, s.readCredit);
    }
    s.readCredit -= deliver.length;
    s.unconsumed += deliver.length;
    const history = Math.min(s.historyRemaining, deliver.length);
    s.historyRemaining -= history;
    let closedInfo: StreamClosed | null = null;
    if (excess > 0) {
      closedInfo = this.#closedInfo(
        s,
        CloseReason.FlowControl,
        "",
        true,
        `the server sent ${excess} bytes more than its credit; they were dropped`,
      );
      // The server's CLOSED, answering this CLOSE, then ends the session silently.
      s.state = "closing";
      s.closeOwed = false;
      s.queue = [];
      s.queueOffset = 0;
      s.queued = 0;
      s.queuedData = 0;
      this.#send(encodeStreamClose(id));
    }
    // `data` is this extension's own copy (parseServerOp): views of it are handed on.
    if (history > 0) this.listener.data?.(id, deliver.subarray(0, history), true);
    if (deliver.length > history) this.listener.data?.(id, history > 0 ? deliver.subarray(history) : deliver, false);
    if (closedInfo) this.listener.closed?.(id, closedInfo);
  }

  /** Sends queued bytes and BREAKs as far as credit allows. */
  #flush(id: number, s: StreamRecord, fromWindow: boolean): void {
    const hadQueue = s.queue.length > 0;
    while (s.state === "open") {
      const head = s.queue[0];
      if (!head) break;
      if ("breakMs" in head) {
        s.queue.shift();
        s.queued -= QUEUED_BREAK_COST;
        this.#send(encodeStreamBreak(id, head.breakMs));
        continue;
      }
      if (s.writeCredit <= 0) break;
      const size = Math.min(Streams.dataChunk, s.writeCredit, this.#queuedBeforeBreak(s));
      // The queued bytes are copied straight into the message.
      const { bytes } = streamsMessage(StreamsClientOp.Data, streamId(id), size);
      this.#takeQueued(s, bytes.subarray(Streams.headerLength));
      s.writeCredit -= size;
      this.#send(bytes);
    }
    if (fromWindow && hadQueue && s.queue.length === 0 && s.state === "open") this.listener.writeDrained?.(id);
  }

  /** Queued data bytes before the first queued BREAK, counted up to one DATA's worth. */
  #queuedBeforeBreak(s: StreamRecord): number {
    let n = -s.queueOffset;
    for (const item of s.queue) {
      if ("breakMs" in item) break;
      n += item.data.length;
      if (n >= Streams.dataChunk) break;
    }
    return n;
  }

  /** Fills `out` with consecutive queued data; there must be that much before any BREAK. */
  #takeQueued(s: StreamRecord, out: Uint8Array): void {
    const size = out.length;
    let filled = 0;
    while (filled < size) {
      const head = s.queue[0];
      if (!head || "breakMs" in head) break;
      const available = head.data.length - s.queueOffset;
      const n = Math.min(available, size - filled);
      out.set(head.data.subarray(s.queueOffset, s.queueOffset + n), filled);
      filled += n;
      if (n === available) {
        s.queue.shift();
        s.queueOffset = 0;
      } else {
        s.queueOffset += n;
      }
    }
    if (filled !== size) throw new Error(`internal error: ${size - filled} queued bytes missing before a BREAK`);
    s.queued -= filled;
    s.queuedData -= filled;
  }
}
