// Typed errors raised inside the protocol layer. Every failure leaves the layer through one
// of these; the widgets turn them into a single `error`/`disconnected` signal with
// `message` as the human text, and use `code` to decide what to offer (retry, password...).

export type ProtocolErrorCode =
  /** The peer sent bytes that violate the protocol (bad length, unknown message...). */
  | "malformed"
  /** A well-formed request for something this implementation does not do. */
  | "unsupported"
  /** A peer-supplied size is over one of our caps (framebuffer, cut text, payloads). */
  | "limit"
  /** The server rejected our credentials; `message` carries its reason when it gave one. */
  | "auth-failed"
  /** Bad user input such as an unparsable server address. */
  | "invalid-argument"
  /** The connection ended underneath the protocol (the server went away). */
  | "closed";

export class ProtocolError extends Error {
  override name = "ProtocolError";

  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}
