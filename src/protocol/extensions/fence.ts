// Fence and ContinuousUpdates (rfbproto "Fence Pseudo-encoding", "ServerFence",
// "ClientFence", "ContinuousUpdates Pseudo-encoding", "EnableContinuousUpdates",
// "EndOfContinuousUpdates"). Neither has a pseudo-rectangle: the client lists -312 and -313
// in SetEncodings, and the server shows support with a message — a ServerFence (248) for
// fences, an EndOfContinuousUpdates (150) for continuous updates, which rfbproto makes the
// server send the first time it sees -313.
//
// ServerFence: U8 248, 3 padding, U32 flags, U8 length, length bytes of payload. rfbproto
// caps the payload at 64 bytes. Flags: bit 0 BlockBefore, 1 BlockAfter, 2 SyncNext, 31
// Request. A request is answered with a ClientFence echoing the payload and the flags with
// Request cleared and every flag we do not honour cleared, so the server learns what we
// support. This client handles messages strictly in order and answers within the same
// step, so BlockBefore (everything before is done) and BlockAfter (nothing after starts)
// hold trivially; SyncNext is not claimed — the same choice TigerVNC's viewer makes
// (vncviewer CConn::fence()).
//
// EnableContinuousUpdates: U8 150, U8 enable, U16 x, y, width, height. The server then pushes
// updates for that area and ignores incremental FramebufferUpdateRequests; disabling makes it
// answer with EndOfContinuousUpdates, which also arrives when the server stops on its own.

import type { ByteQueue } from "../byte-queue.js";
import { Encoding, ServerMessage } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { Extension, ExtensionHost } from "../extension.js";
import * as msg from "../messages.js";

export const FenceFlag = {
  BlockBefore: 1 << 0,
  BlockAfter: 1 << 1,
  SyncNext: 1 << 2,
  Request: 0x80000000,
} as const;

/** What this client honours in the server's requests (see the header). */
const SUPPORTED_FLAGS = FenceFlag.BlockBefore | FenceFlag.BlockAfter;
/** Flags a client request may carry (rfbproto defines no others). */
const DEFINED_FLAGS = FenceFlag.BlockBefore | FenceFlag.BlockAfter | FenceFlag.SyncNext;
/** rfbproto: "The size of this data is limited to 64 bytes". */
export const MAX_FENCE_PAYLOAD = 64;

export interface UpdateArea {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** What the fence and continuous-updates extension tells its owner. */
export interface FenceListener {
  /** The first ServerFence arrived: the server speaks fences (its requests are answered here). */
  fencesSupported?(): void;
  /** The answer to a fence this client sent: `flags` are what the server honoured. */
  fenceResponse?(flags: number, payload: Uint8Array): void;
  /** The first EndOfContinuousUpdates arrived: `enableContinuousUpdates` may be used. */
  continuousUpdatesSupported?(): void;
  /** The server stopped continuous updates (or confirms they are off); request updates again. */
  endOfContinuousUpdates?(): void;
}

export class FenceExtension implements Extension {
  readonly advertisedEncodings: readonly number[] = [Encoding.Fence, Encoding.ContinuousUpdates];
  readonly messageTypes: readonly number[] = [ServerMessage.ServerFence, ServerMessage.EndOfContinuousUpdates];
  readonly #listener: FenceListener;
  #host: ExtensionHost | null = null;
  #fences = false;
  #continuousUpdates = false;
  #active = false;

  constructor(listener: FenceListener = {}) {
    this.#listener = listener;
  }

  get fencesSupported(): boolean {
    return this.#fences;
  }

  get continuousUpdatesSupported(): boolean {
    return this.#continuousUpdates;
  }

  /** Whether continuous updates are on (enabled, and the server has not ended them). */
  get continuousUpdatesActive(): boolean {
    return this.#active;
  }

  attach(host: ExtensionHost): void {
    this.#host = host;
  }

  pausesUpdateRequests(): boolean {
    return this.continuousUpdatesActive;
  }

  detach(): void {
    this.#host = null;
    this.#fences = false;
    this.#continuousUpdates = false;
    this.#active = false;
  }

  message(q: ByteQueue): boolean {
    if (!q.has(1)) return false;
    return q.peekU8() === ServerMessage.ServerFence ? this.#serverFence(q) : this.#endOfContinuousUpdates(q);
  }

  #serverFence(q: ByteQueue): boolean {
    if (!q.has(9)) return false;
    const length = q.peekU8(8);
    if (length > MAX_FENCE_PAYLOAD)
      throw new ProtocolError(
        "malformed",
        `the server sent a fence with ${length} bytes of payload (rfbproto allows ${MAX_FENCE_PAYLOAD})`,
      );
    if (!q.has(9 + length)) return false;
    q.skip(4);
    const flags = q.readU32();
    q.skip(1);
    const payload = q.takeBytes(length);
    if (!this.#fences) {
      this.#fences = true;
      this.#listener.fencesSupported?.();
    }
    if (flags & FenceFlag.Request) this.#host?.send(msg.clientFence(flags & SUPPORTED_FLAGS, payload));
    else this.#listener.fenceResponse?.(flags, payload);
    return true;
  }

  #endOfContinuousUpdates(q: ByteQueue): boolean {
    q.skip(1);
    this.#active = false;
    if (!this.#continuousUpdates) {
      this.#continuousUpdates = true;
      this.#listener.continuousUpdatesSupported?.();
    }
    this.#listener.endOfContinuousUpdates?.();
    return true;
  }

  /**
   * Turns continuous updates on for `area` (or off). False, sending nothing, until the
   * server has shown support with an EndOfContinuousUpdates.
   */
  enableContinuousUpdates(on: boolean, area: UpdateArea): boolean {
    const host = this.#host;
    if (!host || !this.#continuousUpdates) return false;
    for (const [name, v] of Object.entries(area))
      if (!Number.isInteger(v) || v < 0 || v > 0xffff)
        throw new ProtocolError("invalid-argument", `the continuous update area's ${name} ${v} is not a U16`);
    host.send(msg.enableContinuousUpdates(on, area.x, area.y, area.width, area.height));
    // Off takes effect at the server's EndOfContinuousUpdates; on takes effect at once.
    if (on) this.#active = true;
    return true;
  }

  /**
   * Sends a fence request with `flags` (BlockBefore, BlockAfter, SyncNext) and up to 64
   * bytes the server echoes. False, sending nothing, until the server has sent a fence.
   */
  requestFence(flags: number, payload: Uint8Array = new Uint8Array(0)): boolean {
    if (flags & ~DEFINED_FLAGS)
      throw new ProtocolError("invalid-argument", `fence flags 0x${(flags >>> 0).toString(16)} include undefined bits`);
    if (payload.length > MAX_FENCE_PAYLOAD)
      throw new ProtocolError(
        "invalid-argument",
        `a fence payload of ${payload.length} bytes is over rfbproto's ${MAX_FENCE_PAYLOAD}`,
      );
    const host = this.#host;
    if (!host || !this.#fences) return false;
    host.send(msg.clientFence((flags | FenceFlag.Request) >>> 0, payload));
    return true;
  }
}
