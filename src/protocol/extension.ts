// How protocol extensions plug into the RFB client. An extension owns some
// pseudo-encodings (rectangles in a FramebufferUpdate), some server message types (for
// the QEMU message 255, some sub-types), and what the client sends for them. The client
// routes bytes to it and gives it a way to send; the extension tells its own listener
// what happened. Like every parser here, a step consumes bytes only once the whole unit
// is queued and returns false ("need more") otherwise.

import type { ByteQueue } from "./byte-queue.js";
import type { Rect } from "./decoders/decoder.js";
import type { Framebuffer } from "./framebuffer.js";

export interface ExtensionHost {
  /** Sends one complete client message. */
  send(data: Uint8Array): void;
  readonly framebuffer: Framebuffer;
  /** Whether the server acknowledged pseudo-encoding `encoding` (by sending its rectangle). */
  acknowledged(encoding: number): boolean;
}

export interface Extension {
  /** Pseudo-encodings whose rectangles this extension parses (listed in SetEncodings). */
  readonly pseudoEncodings?: readonly number[];
  /**
   * Further pseudo-encodings to list in SetEncodings that announce support without
   * rectangles of their own (xvp, Fence, ContinuousUpdates, ExtendedClipboard).
   */
  readonly advertisedEncodings?: readonly number[];
  /**
   * Server message types (the first byte) this extension parses; 255 is never listed. It
   * may take over a built-in type other than FramebufferUpdate (ExtendedClipboard takes
   * ServerCutText, whose negative lengths carry its messages).
   */
  readonly messageTypes?: readonly number[];
  /** Sub-types of the QEMU server message (255) this extension parses. */
  readonly qemuSubtypes?: readonly number[];

  /** Called once the client is connected (after ServerInit). */
  attach?(host: ExtensionHost): void;
  /**
   * The client sent SetEncodings with this list (at connection and on every change); an
   * extension whose pseudo-encoding is missing must behave as disabled (Streams §2.5).
   */
  encodingsSent?(encodings: readonly number[]): void;
  /**
   * One pseudo-rectangle: its 12-byte header is already consumed and passed as `rect`;
   * `q` starts at its payload. Returns false if the payload is not all there yet.
   */
  rect?(q: ByteQueue, rect: Rect): boolean;
  /**
   * One server message: `q` starts at its type byte (for 255, then the sub-type byte).
   * Returns false, consuming nothing, if the message is not all there yet.
   */
  message?(q: ByteQueue): boolean;
  /**
   * True while the client must not send its own FramebufferUpdateRequests after each
   * update (continuous updates are on: the server sends updates unasked).
   */
  pausesUpdateRequests?(): boolean;
  /** The connection ended; drop any state tied to it. */
  detach?(): void;
}
