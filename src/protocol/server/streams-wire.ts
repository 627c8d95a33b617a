// RFB Streams, the server's half of the wire (the project's "RFB Streams" contract, cited
// as "spec §N"; docs/streams.md records the server-side choices): encoders for the
// server-to-client operations (§4) and the -262 acknowledgement (§2.2), and the checked
// reading of the client-to-server operations (§5). The numbers live in ../streams.ts, the
// client side, so that both ends use one set.
//
// A client operation arrives from ClientMessageParser as (operation, stream-id, payload),
// its 12-byte header and the 65536-byte payload limit already checked (§3). Here the
// payload is held against its operation's fixed fields: a payload shorter than them is a
// protocol error (the reader cannot tell what was meant), bytes after them are ignored
// (a later revision may add fields), and an operation this server does not know is
// skipped (§3: "Unknown operations are never fatal").

import { Encoding, ServerMessage } from "../constants.js";
import { ProtocolError } from "../errors.js";
import { Streams, StreamsClientOp, StreamsServerOp } from "../streams.js";

/** A client operation, its payload read. */
export type ClientStreamOp =
  | {
      readonly op: typeof StreamsClientOp.Open;
      readonly id: number;
      readonly readWindow: number;
      readonly flags: number;
    }
  | { readonly op: typeof StreamsClientOp.Close; readonly id: number }
  | { readonly op: typeof StreamsClientOp.Data; readonly id: number; readonly data: Uint8Array }
  | { readonly op: typeof StreamsClientOp.Window; readonly id: number; readonly increment: number }
  | { readonly op: typeof StreamsClientOp.Break; readonly id: number; readonly milliseconds: number };

const CLIENT_OP_NAMES = ["OPEN", "CLOSE", "DATA", "WINDOW", "BREAK"];

function u32At(payload: Uint8Array, at: number, what: string, id: number, field: string): number {
  if (payload.length < at + 4)
    throw new ProtocolError(
      "malformed",
      `the client's ${what} for stream ${id} has a ${payload.length}-byte payload, too short for its ${field}`,
    );
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(at);
}

/**
 * Reads one client operation; null for an operation this server does not know (skipped).
 * `data` of DATA is a copy. Throws ProtocolError("malformed") for a payload too short.
 */
export function parseClientStreamOp(op: number, id: number, payload: Uint8Array): ClientStreamOp | null {
  const what = CLIENT_OP_NAMES[op];
  if (what === undefined) return null;
  switch (op) {
    case StreamsClientOp.Open:
      return {
        op,
        id,
        readWindow: u32At(payload, 0, what, id, "read-window"),
        flags: u32At(payload, 4, what, id, "flags"),
      };
    case StreamsClientOp.Close:
      return { op, id };
    case StreamsClientOp.Data:
      return { op, id, data: payload.slice() };
    case StreamsClientOp.Window:
      return { op, id, increment: u32At(payload, 0, what, id, "increment") };
    case StreamsClientOp.Break:
      return { op, id, milliseconds: u32At(payload, 0, what, id, "duration") };
    default:
      return null;
  }
}

function header(op: number, id: number, payloadLength: number): { bytes: Uint8Array; view: DataView } {
  if (payloadLength > Streams.maxPayload) throw new RangeError(`a ${payloadLength}-byte RFB Streams payload`);
  const bytes = new Uint8Array(Streams.headerLength + payloadLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, Streams.messageType);
  view.setUint8(1, Streams.subtype);
  view.setUint16(2, op);
  view.setUint32(4, id);
  view.setUint32(8, payloadLength);
  return { bytes, view };
}

function utf8(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > Streams.maxString)
    throw new RangeError(`an RFB Streams string is at most ${Streams.maxString} bytes, not ${bytes.length}`);
  return bytes;
}

/** The -262 acknowledgement (§2.2) as a FramebufferUpdate of its own: x = version, y = w = h = 0. */
export function encodeStreamsAck(version: number = Streams.version): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, ServerMessage.FramebufferUpdate);
  view.setUint16(2, 1);
  view.setUint16(4, version);
  view.setInt32(12, Encoding.Streams);
  return bytes;
}

/** STREAM_ADDED: U32 flags, then name, label and kind as U16-length strings (§4). */
export function encodeStreamAdded(id: number, flags: number, name: string, label: string, kind: string): Uint8Array {
  const strings = [utf8(name), utf8(label), utf8(kind)];
  const { bytes, view } = header(StreamsServerOp.StreamAdded, id, 4 + strings.reduce((n, s) => n + 2 + s.length, 0));
  view.setUint32(12, flags);
  let at = 16;
  for (const s of strings) {
    view.setUint16(at, s.length);
    bytes.set(s, at + 2);
    at += 2 + s.length;
  }
  return bytes;
}

export function encodeStreamRemoved(id: number): Uint8Array {
  return header(StreamsServerOp.StreamRemoved, id, 0).bytes;
}

export function encodeListComplete(): Uint8Array {
  return header(StreamsServerOp.ListComplete, 0, 0).bytes;
}

export function encodeOpenReply(id: number, status: number, writeWindow: number, historyLength: number): Uint8Array {
  const { bytes, view } = header(StreamsServerOp.OpenReply, id, 12);
  view.setUint32(12, status);
  view.setUint32(16, writeWindow);
  view.setUint32(20, historyLength);
  return bytes;
}

/** DATA: 1 to 65536 bytes of the device's output (§4). */
export function encodeServerData(id: number, data: Uint8Array): Uint8Array {
  if (data.length < 1) throw new RangeError("a DATA payload is at least 1 byte");
  const { bytes } = header(StreamsServerOp.Data, id, data.length);
  bytes.set(data, Streams.headerLength);
  return bytes;
}

export function encodeServerWindow(id: number, increment: number): Uint8Array {
  const { bytes, view } = header(StreamsServerOp.Window, id, 4);
  view.setUint32(12, increment);
  return bytes;
}

export function encodeClosed(id: number, reason: number, message = ""): Uint8Array {
  const text = utf8(message);
  const { bytes, view } = header(StreamsServerOp.Closed, id, 6 + text.length);
  view.setUint32(12, reason);
  view.setUint16(16, text.length);
  bytes.set(text, 18);
  return bytes;
}

export function encodeBackendState(id: number, connected: boolean): Uint8Array {
  const { bytes, view } = header(StreamsServerOp.BackendState, id, 4);
  view.setUint32(12, connected ? 1 : 0);
  return bytes;
}
