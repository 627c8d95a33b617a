// The server side of RFB Streams conversations, written out byte by byte from the wire
// contract (not from src/protocol/streams.ts, so that the specs check the client against
// the document rather than against itself), and a harness around a real RfbClient.

import { type ClientHandler, RfbClient } from "../../src/protocol/client.js";
import { Encoding, SecurityType } from "../../src/protocol/constants.js";
import type { ProtocolError } from "../../src/protocol/errors.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat } from "../../src/protocol/pixel-format.js";
import { StreamsExtension, type StreamsListener } from "../../src/protocol/streams.js";
import { ascii, splits } from "./helpers.js";

export const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
export const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const s32 = (n: number) => u32(n >>> 0);
export const utf8 = (s: string) => [...new TextEncoder().encode(s)];
/** A Streams string: U16 byte length, UTF-8, no NUL. */
export const str16 = (s: string) => [...u16(utf8(s).length), ...utf8(s)];

/** Up to ServerInit of a 16×8 desktop, security None, RFB 3.8. */
export const CONNECTED = [
  ...ascii("RFB 003.008\n"),
  1,
  SecurityType.None,
  ...u32(0),
  ...u16(16),
  ...u16(8),
  ...encodePixelFormat(DEFAULT_PIXEL_FORMAT),
  ...u32(1),
  ...ascii("g"),
];

/** A FramebufferUpdate whose one rectangle is the -262 ack carrying `version` in x. */
export const ack = (version = 1) => [0, 0, ...u16(1), ...u16(version), ...u16(0), ...u16(0), ...u16(0), ...s32(-262)];

/** Any server stream message: 255, 2, U16 op, U32 id, U32 length, payload. */
export const sop = (op: number, id: number, payload: number[] = []) => [
  255,
  2,
  ...u16(op),
  ...u32(id),
  ...u32(payload.length),
  ...payload,
];

export const S = {
  added: (id: number, flags: number, name: string, label: string, kind: string) =>
    sop(0, id, [...u32(flags), ...str16(name), ...str16(label), ...str16(kind)]),
  removed: (id: number) => sop(1, id),
  listComplete: () => sop(2, 0),
  openReply: (id: number, status: number, writeWindow: number, historyLength: number) =>
    sop(3, id, [...u32(status), ...u32(writeWindow), ...u32(historyLength)]),
  data: (id: number, bytes: number[] | string) => sop(4, id, typeof bytes === "string" ? utf8(bytes) : bytes),
  window: (id: number, increment: number) => sop(5, id, u32(increment)),
  closed: (id: number, reason: number, message = "") => sop(6, id, [...u32(reason), ...str16(message)]),
  backend: (id: number, state: number) => sop(7, id, u32(state)),
};

/** Client stream messages, as the document spells them (spec §5). */
export const C = {
  open: (id: number, readWindow: number, flags: number) => sop(0, id, [...u32(readWindow), ...u32(flags)]),
  close: (id: number) => sop(1, id),
  data: (id: number, bytes: number[] | string) => sop(2, id, typeof bytes === "string" ? utf8(bytes) : bytes),
  window: (id: number, increment: number) => sop(3, id, u32(increment)),
  break: (id: number, ms: number) => sop(4, id, u32(ms)),
};

export interface Harness {
  client: RfbClient;
  ext: StreamsExtension;
  /** Everything the client sent, with how many server bytes it had consumed at the time. */
  sent: { bytes: number[]; consumedAt: number }[];
  events: string[];
  error: ProtocolError | null;
  /** Errors the reactions threw (StreamsError and the like), as text. */
  thrown: string[];
}

type Reactions = {
  [K in keyof StreamsListener]?: (h: Harness, ...args: Parameters<NonNullable<StreamsListener[K]>>) => void;
};

function show(bytes: Uint8Array): string {
  return bytes.length <= 40 ? JSON.stringify(new TextDecoder().decode(bytes)) : `${bytes.length} bytes`;
}

/** A connected-to-be client with the extension, logging every event, reacting as told. */
export function makeStreamsClient(react: Reactions = {}): Harness {
  const h = {} as Harness;
  const guard = (f: () => void) => {
    try {
      f();
    } catch (e) {
      h.thrown.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    }
  };
  const listener: StreamsListener = {
    acknowledged: (v) => {
      h.events.push(`ack ${v}`);
      guard(() => react.acknowledged?.(h, v));
    },
    streamAdded: (info) => {
      const flags = [info.writable && "w", info.breakSupported && "b", info.historyAvailable && "h"].filter(Boolean);
      h.events.push(`added ${info.id} ${info.name} ${JSON.stringify(info.label)} ${info.kind} ${flags.join("")}`);
      guard(() => react.streamAdded?.(h, info));
    },
    listComplete: () => {
      h.events.push("list-complete");
      guard(() => react.listComplete?.(h));
    },
    streamRemoved: (id) => {
      h.events.push(`removed ${id}`);
      guard(() => react.streamRemoved?.(h, id));
    },
    opened: (id, info) => {
      h.events.push(`opened ${id} ww=${info.writeWindow} hist=${info.historyLength}${info.write ? " write" : ""}`);
      guard(() => react.opened?.(h, id, info));
    },
    openFailed: (id, f) => {
      h.events.push(`open-failed ${id} ${f.status} ${f.text}`);
      guard(() => react.openFailed?.(h, id, f));
    },
    data: (id, bytes, history) => {
      h.events.push(`data ${id} ${history ? "history" : "live"} ${show(bytes)}`);
      guard(() => react.data?.(h, id, bytes, history));
    },
    closed: (id, c) => {
      h.events.push(
        `closed ${id} ${c.reason}${c.local ? " local" : ""}${c.unsent ? ` unsent=${c.unsent}` : ""}` +
          (c.message ? ` ${JSON.stringify(c.message)}` : ""),
      );
      guard(() => react.closed?.(h, id, c));
    },
    backendState: (id, up) => {
      h.events.push(`backend ${id} ${up ? "up" : "down"}`);
      guard(() => react.backendState?.(h, id, up));
    },
    writeDrained: (id) => {
      h.events.push(`drained ${id}`);
      guard(() => react.writeDrained?.(h, id));
    },
  };
  const ext = new StreamsExtension(listener);
  const handler: ClientHandler = {
    send: (d) => h.sent.push({ bytes: Array.from(d), consumedAt: h.client.bytesConsumed }),
    failed: (e) => {
      if (h.error) throw new Error("failed twice");
      h.error = e;
    },
  };
  Object.assign(h, { ext, sent: [], events: [], error: null, thrown: [] });
  h.client = new RfbClient(
    {
      framebuffer: new MemoryFramebuffer(),
      encodings: [Encoding.Raw, Encoding.Streams],
      extensions: [ext],
    },
    handler,
  );
  return h;
}

/** The stream messages (255/2) the client sent, each as an array of bytes. */
export function streamsSent(h: Harness): number[][] {
  return h.sent.filter((m) => m.bytes[0] === 255 && m.bytes[1] === 2).map((m) => m.bytes);
}

/** Feeds `bytes` in every two-piece cut and one byte at a time; `check` sees each outcome. */
export function everySplit(bytes: number[], react: Reactions, check: (h: Harness) => void): void {
  for (const chunks of splits(Uint8Array.from(bytes))) {
    const h = makeStreamsClient(react);
    for (const c of chunks) h.client.receive(c);
    check(h);
  }
}

/** A client that has the ack, streams 1 (`serial0`, writable+BREAK+history) and 2 (read-only). */
export function listed(react: Reactions = {}): Harness {
  const h = makeStreamsClient(react);
  h.client.receive(
    Uint8Array.from([
      ...CONNECTED,
      ...ack(),
      ...S.added(1, 0b111, "serial0", "Serial port 1", "serial"),
      ...S.added(2, 0, "console0", "Text console", "console"),
      ...S.listComplete(),
    ]),
  );
  h.events.length = 0;
  return h;
}

export function feed(h: Harness, ...messages: number[][]): void {
  h.client.receive(Uint8Array.from(messages.flat()));
}

/** A client with stream 1 open: read-window `readWindow`, write credit `writeWindow`. */
export function opened(readWindow: number, writeWindow: number, historyLength = 0, react: Reactions = {}): Harness {
  const h = listed(react);
  h.ext.open(1, { readWindow, history: historyLength > 0 });
  feed(h, S.openReply(1, 0, writeWindow, historyLength));
  h.events.length = 0;
  h.sent.length = 0;
  return h;
}
