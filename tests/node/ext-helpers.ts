// Helpers for the extension specs: byte builders for the server's side, a connected
// RfbClient with extensions, and a runner that feeds a conversation at every split point.

import { type ClientOptions, RfbClient } from "../../src/protocol/client.js";
import { SecurityType } from "../../src/protocol/constants.js";
import type { ProtocolError } from "../../src/protocol/errors.js";
import type { Extension } from "../../src/protocol/extension.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat } from "../../src/protocol/pixel-format.js";
import { ascii, splits } from "./helpers.js";

export const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
export const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
export const s32 = (n: number) => u32(n >>> 0);

export const rectHeader = (x: number, y: number, w: number, h: number, enc: number) => [
  ...u16(x),
  ...u16(y),
  ...u16(w),
  ...u16(h),
  ...s32(enc),
];

/** A FramebufferUpdate of the given rectangles (each its header and payload). */
export const update = (...rects: number[][]) => [0, 0, ...u16(rects.length), ...rects.flat()];

export const WIDTH = 64;
export const HEIGHT = 48;

/** A 3.8 server with security None up to ServerInit of a WIDTH×HEIGHT desktop. */
export const HANDSHAKE: readonly number[] = [
  ...ascii("RFB 003.008\n"),
  1,
  SecurityType.None,
  ...u32(0),
  ...u16(WIDTH),
  ...u16(HEIGHT),
  ...encodePixelFormat(DEFAULT_PIXEL_FORMAT),
  ...u32(4),
  ...ascii("test"),
];

export interface Session<E> {
  readonly client: RfbClient;
  readonly ext: E;
  /** Events the extension's listener and the client reported, in order. */
  readonly events: string[];
  /** What the client sent after ServerInit (SetPixelFormat, SetEncodings and the first request excluded). */
  readonly sent: number[][];
  error: ProtocolError | null;
}

/**
 * A client with one extension, listing `encodings`. `make` builds the extension with a
 * listener that pushes to `events`. Updates are not re-requested, so `sent` holds only
 * what the extension sent.
 */
export function session<E extends Extension>(
  make: (events: string[]) => E,
  encodings: readonly number[],
  options: Partial<ClientOptions> = {},
): Session<E> {
  const events: string[] = [];
  const ext = make(events);
  const all: number[][] = [];
  let connectedAt = -1;
  const s: Session<E> = {
    client: new RfbClient(
      { framebuffer: new MemoryFramebuffer(), encodings, requestUpdates: false, extensions: [ext], ...options },
      {
        send: (d) => all.push(Array.from(d)),
        failed: (e) => {
          if (s.error) throw new Error("failed twice");
          s.error = e;
        },
        connected: () => {
          connectedAt = all.length;
        },
        serverCutText: (t) => events.push(`client cut "${t}"`),
      },
    ),
    ext,
    events,
    get sent() {
      return connectedAt < 0 ? [] : all.slice(connectedAt);
    },
    error: null,
  };
  return s;
}

/**
 * Feeds HANDSHAKE + `bytes` in every two-piece split and one byte at a time, each time to
 * a fresh session, and runs `check` on the outcome.
 */
export function everySplit<E extends Extension>(
  make: (events: string[]) => E,
  encodings: readonly number[],
  bytes: readonly number[],
  check: (s: Session<E>) => void,
): void {
  for (const chunks of splits(Uint8Array.from([...HANDSHAKE, ...bytes]))) {
    const s = session(make, encodings);
    for (const c of chunks) s.client.receive(c);
    check(s);
  }
}

/** A session already past ServerInit. */
export function connected<E extends Extension>(make: (events: string[]) => E, encodings: readonly number[]) {
  const s = session(make, encodings);
  s.client.receive(Uint8Array.from(HANDSHAKE));
  return s;
}

export function feed(s: Session<Extension>, bytes: readonly number[]): void {
  s.client.receive(Uint8Array.from(bytes));
}

/**
 * Connects, feeds `prefix` whole, runs `setup` (the owner's calls), then feeds `tail` in
 * every two-piece split and one byte at a time, each time to a fresh session.
 */
export function everySplitAfter<E extends Extension>(
  make: (events: string[]) => E,
  encodings: readonly number[],
  prefix: readonly number[],
  setup: (s: Session<E>) => void,
  tail: readonly number[],
  check: (s: Session<E>) => void,
): void {
  for (const chunks of splits(Uint8Array.from(tail))) {
    const s = connected(make, encodings);
    feed(s, prefix);
    setup(s);
    for (const c of chunks) s.client.receive(c);
    check(s);
  }
}
