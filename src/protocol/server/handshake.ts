// The server side of the RFB handshake (RFC 6143 §7.1–7.3), up to the client's
// ClientInit: what a proxy that is itself the security endpoint says to a viewer. The
// viewer's bytes are read by ClientMessageParser, which then goes on parsing the viewer's
// normal messages, so the owner keeps using `parser` after the handshake.
//
// - ProtocolVersion: the server offers 3.8; a viewer may answer 3.3, 3.7 or 3.8 (and
//   anything from 3.4 to 3.6 counts as 3.3, RFC 6143 §7.1.1).
// - Security: one type, None when no password is set, else VNC authentication (§7.2.2):
//   a 16-byte random challenge, which the viewer encrypts with DES keyed by the password.
//   The owner supplies the challenge (randomness is I/O). With a second, read-only
//   password, a response that matches it logs the viewer in read-only.
// - SecurityResult (§7.1.3): sent for VNC authentication in every version and for None in
//   3.8; a failure carries a reason string in 3.8 only.
// - ClientInit: the shared-flag, which the proxy passes on to the server behind it.

import { SecurityType } from "../constants.js";
import { ClientMessageParser } from "../client-messages.js";
import { vncAuthResponse } from "../des.js";
import { ProtocolError } from "../errors.js";
import { formatVersion, type ProtocolVersion } from "../version.js";

export const VNC_CHALLENGE_LENGTH = 16;

export interface ServerHandshakeOptions {
  /** The VNC password; null for security type None. Only its first 8 characters count (DES). */
  readonly password: string | null;
  /** A second password that logs in read-only (needs `password`). */
  readonly readOnlyPassword?: string | null;
  /** 16 unpredictable bytes for the VNC authentication challenge. */
  readonly challenge: () => Uint8Array;
  /** Writes bytes to the viewer. */
  readonly send: (bytes: Uint8Array) => void;
  /** Upper bound on the viewer's buffered, unparsed bytes (ClientMessageParser). */
  readonly maxBuffered?: number;
}

export interface HandshakeResult {
  readonly version: ProtocolVersion;
  readonly securityType: number;
  readonly shared: boolean;
  /** Logged in with the read-only password. */
  readonly readOnly: boolean;
}

export const AUTH_FAILED_REASON = "Authentication failed";

function u32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value);
  return b;
}

/** A SecurityResult failure, with the 3.8 reason string. */
function failure(version: ProtocolVersion, reason: string): Uint8Array {
  if (version.minor < 8) return u32(1);
  const text = new TextEncoder().encode(reason);
  const out = new Uint8Array(8 + text.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 1);
  view.setUint32(4, text.length);
  out.set(text, 8);
  return out;
}

/** Constant-time comparison, so response timing tells an attacker nothing. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export class ServerHandshake {
  readonly parser: ClientMessageParser;
  readonly #options: ServerHandshakeOptions;
  readonly #securityType: number;
  #version: ProtocolVersion = { major: 3, minor: 8 };
  #challenge: Uint8Array | null = null;
  #readOnly = false;
  #securityBegun = false;
  #result: HandshakeResult | null = null;

  constructor(options: ServerHandshakeOptions) {
    if (options.readOnlyPassword != null && options.password == null)
      throw new ProtocolError("invalid-argument", "a read-only password needs a full-access password too");
    this.#options = options;
    this.#securityType = options.password == null ? SecurityType.None : SecurityType.VncAuth;
    this.parser = new ClientMessageParser(
      options.maxBuffered === undefined ? {} : { maxBuffered: options.maxBuffered },
    );
    options.send(formatVersion({ major: 3, minor: 8 }));
  }

  /** The security type this server offers. */
  get securityType(): number {
    return this.#securityType;
  }

  get result(): HandshakeResult | null {
    return this.#result;
  }

  /**
   * Feeds the viewer's bytes. Returns the result once ClientInit has arrived; bytes after
   * it stay in `parser`. Throws ProtocolError, "auth-failed" for a wrong password (after
   * telling the viewer so).
   */
  receive(chunk: Uint8Array): HandshakeResult | null {
    if (this.#result) throw new ProtocolError("invalid-argument", "the handshake is already over");
    this.parser.push(chunk);
    for (;;) {
      let m;
      try {
        m = this.parser.next();
      } catch (e) {
        // A security type the parser does not follow is one this server did not offer.
        if (e instanceof ProtocolError && !this.#securityBegun && this.parser.securityType !== null)
          this.#options.send(failure(this.#version, "Security type not offered"));
        throw e;
      }
      if (m === null) return null;
      switch (m.type) {
        case "protocol-version":
          this.#version =
            m.version.minor >= 8 ? { major: 3, minor: 8 } : m.version.minor >= 7 ? m.version : { major: 3, minor: 3 };
          if (this.#version.minor >= 7) {
            this.#options.send(Uint8Array.of(1, this.#securityType));
          } else {
            // RFB 3.3: the server decides (RFC 6143 appendix A).
            this.#options.send(u32(this.#securityType));
            this.parser.serverSecurityType(this.#securityType);
            this.#beginSecurity();
          }
          break;
        case "security-type":
          if (m.securityType !== this.#securityType) {
            this.#options.send(failure(this.#version, "Security type not offered"));
            throw new ProtocolError(
              "unsupported",
              `the viewer chose security type ${m.securityType}, which was not offered`,
            );
          }
          this.#beginSecurity();
          break;
        case "vnc-auth-response":
          this.#checkResponse(m.response);
          break;
        case "client-init":
          this.#result = {
            version: this.#version,
            securityType: this.#securityType,
            shared: m.shared,
            readOnly: this.#readOnly,
          };
          return this.#result;
        default:
          // The parser moves to messages only after ClientInit.
          throw new ProtocolError("malformed", `unexpected ${m.type} during the handshake`);
      }
    }
  }

  #beginSecurity(): void {
    this.#securityBegun = true;
    if (this.#securityType === SecurityType.None) {
      // RFC 6143 §7.1.3: a SecurityResult for None only from 3.8 on.
      if (this.#version.minor >= 8) this.#options.send(u32(0));
      return;
    }
    const challenge = this.#options.challenge();
    if (challenge.length !== VNC_CHALLENGE_LENGTH)
      throw new ProtocolError("invalid-argument", `a VNC challenge is ${VNC_CHALLENGE_LENGTH} bytes`);
    this.#challenge = challenge.slice();
    this.#options.send(this.#challenge);
  }

  #checkResponse(response: Uint8Array): void {
    const challenge = this.#challenge;
    const password = this.#options.password;
    if (challenge === null || password == null) throw new ProtocolError("malformed", "an unexpected VNC response");
    const full = sameBytes(response, vncAuthResponse(password, challenge));
    const readOnlyPassword = this.#options.readOnlyPassword;
    const readOnly =
      !full && readOnlyPassword != null && sameBytes(response, vncAuthResponse(readOnlyPassword, challenge));
    if (!full && !readOnly) {
      this.#options.send(failure(this.#version, AUTH_FAILED_REASON));
      throw new ProtocolError("auth-failed", "the viewer's VNC password is wrong");
    }
    this.#readOnly = readOnly;
    this.#options.send(u32(0));
  }
}
