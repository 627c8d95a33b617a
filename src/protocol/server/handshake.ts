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
// - VeNCrypt (type 19, rfbproto §7.2.8), offered alone when the owner has a certificate:
//   the server sends version 0.2, the viewer answers with the version it speaks (only 0.2
//   is accepted: status 0, else 255 and the end), the server lists its sub-types (U8 count,
//   U32 each: X509Vnc and X509Plain with a password, X509None without), the viewer picks
//   one (U32) and the server acknowledges it with U8 1 (0 for one it did not offer, and the
//   end). The TLS handshake follows at once; the owner runs it and calls `tlsEstablished()`,
//   then the inner authentication runs inside TLS: nothing (X509None), VNC authentication
//   (X509Vnc), or Plain's user name and password (X509Plain), checked against the same
//   passwords (the user name is recorded, not checked). VeNCrypt needs RFB 3.7 or later.
// - SecurityResult (§7.1.3): sent for VNC authentication and VeNCrypt in every version and
//   for None in 3.8; a failure carries a reason string in 3.8 only.
// - ClientInit: the shared-flag, which the proxy passes on to the server behind it.

import { SecurityType, VeNCryptSubtype } from "../constants.js";
import { ClientMessageParser, type InnerAuthentication } from "../client-messages.js";
import { vncAuthResponse } from "../des.js";
import { ProtocolError } from "../errors.js";
import { veNCryptSubtypeName } from "../vencrypt.js";
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
  /**
   * Offer VeNCrypt X509 sub-types only; `startTls` is called once the viewer's sub-type is
   * acknowledged: the owner must write what was sent so far, read nothing more in the
   * clear, run the TLS server handshake and then call `tlsEstablished()`.
   */
  readonly startTls?: () => void;
}

export interface HandshakeResult {
  readonly version: ProtocolVersion;
  readonly securityType: number;
  readonly shared: boolean;
  /** Logged in with the read-only password. */
  readonly readOnly: boolean;
  /** The VeNCrypt sub-type, or null for None and VNC authentication. */
  readonly subtype: number | null;
  /** The user name a VeNCrypt Plain login gave, or null. */
  readonly username: string | null;
}

/** How a login went, in words for a log line, e.g. "VeNCrypt X509Plain as alice, read-only". */
export function describeLogin(result: HandshakeResult): string {
  const how =
    result.subtype !== null
      ? `VeNCrypt ${veNCryptSubtypeName(result.subtype)}${result.username !== null ? ` as ${JSON.stringify(result.username)}` : ""}`
      : result.securityType === SecurityType.VncAuth
        ? "VNC password"
        : "no authentication";
  return `${how}${result.readOnly ? ", read-only" : ""}, RFB 3.${result.version.minor}`;
}

export const AUTH_FAILED_REASON = "Authentication failed";

const VENCRYPT_MAJOR = 0;
const VENCRYPT_MINOR = 2;

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
  /** VeNCrypt: the sub-types offered, and the one the viewer took (0 before). */
  readonly #subtypes: readonly number[];
  #subtype = 0;
  #username: string | null = null;

  constructor(options: ServerHandshakeOptions) {
    if (options.readOnlyPassword != null && options.password == null)
      throw new ProtocolError("invalid-argument", "a read-only password needs a full-access password too");
    this.#options = options;
    if (options.startTls) {
      this.#securityType = SecurityType.VeNCrypt;
      this.#subtypes =
        options.password == null ? [VeNCryptSubtype.X509None] : [VeNCryptSubtype.X509Vnc, VeNCryptSubtype.X509Plain];
    } else {
      this.#securityType = options.password == null ? SecurityType.None : SecurityType.VncAuth;
      this.#subtypes = [];
    }
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
          if (this.#version.minor < 7 && this.#securityType === SecurityType.VeNCrypt) {
            // RFB 3.3 has no way to say why (a U32 0 then a reason string would be 3.3's
            // "connection failed"): it is the one failure 3.3 can carry.
            const reason = new TextEncoder().encode(
              "This server requires TLS (VeNCrypt), which needs RFB 3.7 or later",
            );
            const out = new Uint8Array(8 + reason.length);
            new DataView(out.buffer).setUint32(4, reason.length);
            out.set(reason, 8);
            this.#options.send(out);
            throw new ProtocolError("unsupported", "the viewer speaks RFB 3.3, which has no VeNCrypt");
          }
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
        case "vencrypt-version":
          if (m.major !== VENCRYPT_MAJOR || m.minor !== VENCRYPT_MINOR) {
            this.#options.send(Uint8Array.of(255));
            throw new ProtocolError(
              "unsupported",
              `the viewer speaks VeNCrypt ${m.major}.${m.minor}; this server speaks ${VENCRYPT_MAJOR}.${VENCRYPT_MINOR}`,
            );
          }
          this.#sendSubtypes();
          break;
        case "vencrypt-subtype":
          if (!this.#subtypes.includes(m.subtype)) {
            this.#options.send(Uint8Array.of(0));
            throw new ProtocolError(
              "unsupported",
              `the viewer chose VeNCrypt ${veNCryptSubtypeName(m.subtype)}, which was not offered`,
            );
          }
          this.#subtype = m.subtype;
          this.#options.send(Uint8Array.of(1));
          this.#options.startTls?.();
          return null;
        case "plain-auth":
          this.#checkPassword(m.password);
          this.#username = m.username;
          break;
        case "client-init":
          this.#result = {
            version: this.#version,
            securityType: this.#securityType,
            shared: m.shared,
            readOnly: this.#readOnly,
            subtype: this.#subtype === 0 ? null : this.#subtype,
            username: this.#username,
          };
          return this.#result;
        default:
          // The parser moves to messages only after ClientInit.
          throw new ProtocolError("malformed", `unexpected ${m.type} during the handshake`);
      }
    }
  }

  /**
   * VeNCrypt: TLS is up. The inner authentication starts (a challenge for X509Vnc, the
   * SecurityResult for X509None), and the viewer's next bytes, now decrypted, go on
   * through `receive()`.
   */
  tlsEstablished(): HandshakeResult | null {
    if (this.#subtype === 0 || this.parser.phase !== "tls")
      throw new ProtocolError("invalid-argument", "TLS was not asked for");
    const inner: InnerAuthentication =
      this.#subtype === VeNCryptSubtype.X509Vnc
        ? "vnc"
        : this.#subtype === VeNCryptSubtype.X509Plain
          ? "plain"
          : "none";
    this.parser.beginInner(inner);
    if (inner === "vnc") this.#sendChallenge();
    else if (inner === "none") this.#options.send(u32(0));
    return this.receive(new Uint8Array(0));
  }

  #sendSubtypes(): void {
    const out = new Uint8Array(2 + 4 * this.#subtypes.length);
    const view = new DataView(out.buffer);
    out[0] = 0; // version accepted
    out[1] = this.#subtypes.length;
    this.#subtypes.forEach((t, i) => {
      view.setUint32(2 + 4 * i, t);
    });
    this.#options.send(out);
  }

  #beginSecurity(): void {
    this.#securityBegun = true;
    if (this.#securityType === SecurityType.VeNCrypt) {
      this.#options.send(Uint8Array.of(VENCRYPT_MAJOR, VENCRYPT_MINOR));
      return;
    }
    if (this.#securityType === SecurityType.None) {
      // RFC 6143 §7.1.3: a SecurityResult for None only from 3.8 on.
      if (this.#version.minor >= 8) this.#options.send(u32(0));
      return;
    }
    this.#sendChallenge();
  }

  #sendChallenge(): void {
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
    this.#settle(full, readOnly, "VNC password");
  }

  /** Plain: the password itself, compared in full (no DES truncation to 8 characters). */
  #checkPassword(given: string): void {
    const password = this.#options.password;
    if (password == null) throw new ProtocolError("malformed", "an unexpected Plain login");
    const encode = (t: string) => new TextEncoder().encode(t);
    const full = sameBytes(encode(given), encode(password));
    const readOnlyPassword = this.#options.readOnlyPassword;
    const readOnly = !full && readOnlyPassword != null && sameBytes(encode(given), encode(readOnlyPassword));
    this.#settle(full, readOnly, "password");
  }

  #settle(full: boolean, readOnly: boolean, what: string): void {
    if (!full && !readOnly) {
      this.#options.send(failure(this.#version, AUTH_FAILED_REASON));
      throw new ProtocolError("auth-failed", `the viewer's ${what} is wrong`);
    }
    this.#readOnly = readOnly;
    this.#options.send(u32(0));
  }
}
