// VeNCrypt (security type 19, rfbproto §7.2.8 "VeNCrypt"): a version exchange, a list of
// sub-types, then either TLS followed by an inner authentication, or "Plain" (user name
// and password in the clear). Conversation after the client chose type 19:
//
//   server  U8 major, U8 minor           highest version it speaks (0.2 today)
//   client  U8 0, U8 2                   the version this client speaks
//   server  U8 status                    0 = accepted, anything else = refused
//   server  U8 count, count × U32        the sub-types it offers
//   client  U32 sub-type                 our choice
//   server  U8 1 (TLS/X509 only)         it is ready: the TLS handshake starts now
//   … TLS …                              TLS*: anonymous Diffie-Hellman, X509*: certificates
//   then *None: nothing; *Vnc: VNC authentication (§7.2.2); *Plain/Plain:
//   client  U32 ulen, U32 plen, username, password (UTF-8)
//
// A SecurityResult follows in every case (rfbproto: VeNCrypt needs 3.7 or later, where
// the result is always sent for a type other than None).

import type { ByteQueue } from "./byte-queue.js";
import { VeNCryptSubtype } from "./constants.js";
import { ProtocolError } from "./errors.js";
import { MORE, type SecurityContext, type SecurityHandshake, type SecurityStep, VncAuthHandshake } from "./security.js";

export interface VeNCryptOptions {
  /** The sub-types this client may choose (default: all of them). The order does not matter. */
  readonly allowedSubtypes?: readonly number[];
  /**
   * Whether "Plain" may send the user name and password over an unencrypted connection
   * (default false: anyone on the path could read them).
   */
  readonly allowPlainWithoutTls?: boolean;
  /**
   * Whether the platform can do anonymous TLS (TLSNone, TLSVnc, TLSPlain). Gio's GnuTLS
   * backend only does certificate-based TLS, so this is false by default.
   */
  readonly anonymousTls?: boolean;
}

/** Most preferred first: certificate-checked TLS, then anonymous TLS, then no TLS at all. */
const PREFERENCE: readonly number[] = [
  VeNCryptSubtype.X509Vnc,
  VeNCryptSubtype.X509Plain,
  VeNCryptSubtype.X509None,
  VeNCryptSubtype.TLSVnc,
  VeNCryptSubtype.TLSPlain,
  VeNCryptSubtype.TLSNone,
  VeNCryptSubtype.Plain,
];

const X509 = new Set<number>([VeNCryptSubtype.X509None, VeNCryptSubtype.X509Vnc, VeNCryptSubtype.X509Plain]);
const ANONYMOUS_TLS = new Set<number>([VeNCryptSubtype.TLSNone, VeNCryptSubtype.TLSVnc, VeNCryptSubtype.TLSPlain]);

export function veNCryptSubtypeName(subtype: number): string {
  const name = Object.keys(VeNCryptSubtype).find((k) => VeNCryptSubtype[k as keyof typeof VeNCryptSubtype] === subtype);
  return name ?? `sub-type ${subtype}`;
}

type Inner = "none" | "vnc" | "plain";

function innerOf(subtype: number): Inner {
  switch (subtype) {
    case VeNCryptSubtype.TLSVnc:
    case VeNCryptSubtype.X509Vnc:
      return "vnc";
    case VeNCryptSubtype.Plain:
    case VeNCryptSubtype.TLSPlain:
    case VeNCryptSubtype.X509Plain:
      return "plain";
    default:
      return "none";
  }
}

type State = "version" | "status" | "subtypes" | "accept" | "tls" | "inner";

export class VeNCryptHandshake implements SecurityHandshake {
  #options: VeNCryptOptions;
  #state: State = "version";
  #subtype = 0;
  #vncAuth: VncAuthHandshake | null = null;

  constructor(options: VeNCryptOptions = {}) {
    this.#options = options;
  }

  /** The sub-type chosen, once the server's list has been read (0 before). */
  get subtype(): number {
    return this.#subtype;
  }

  step(q: ByteQueue, ctx: SecurityContext): SecurityStep {
    for (;;) {
      switch (this.#state) {
        case "version": {
          if (!q.has(2)) return MORE;
          const major = q.readU8();
          const minor = q.readU8();
          // Version 0.1 sent the sub-types as U8s and had no status byte; nothing current
          // speaks it. A newer server must still accept 0.2, which its status byte tells.
          if (major === 0 && minor < 2)
            throw new ProtocolError(
              "unsupported",
              `the server speaks VeNCrypt ${major}.${minor}, older than the 0.2 this client needs`,
            );
          ctx.send(Uint8Array.of(0, 2));
          this.#state = "status";
          break;
        }
        case "status": {
          if (!q.has(1)) return MORE;
          const status = q.readU8();
          if (status !== 0) throw new ProtocolError("unsupported", "the server refused VeNCrypt version 0.2");
          this.#state = "subtypes";
          break;
        }
        case "subtypes": {
          if (!q.has(1)) return MORE;
          // The count is a U8, so at most 255 sub-types (1 KiB) are ever buffered here.
          const count = q.peekU8();
          if (!q.has(1 + 4 * count)) return MORE;
          q.skip(1);
          const offered: number[] = [];
          for (let i = 0; i < count; i++) offered.push(q.readU32());
          this.#subtype = this.#choose(offered, ctx);
          const choice = new Uint8Array(4);
          new DataView(choice.buffer).setUint32(0, this.#subtype);
          ctx.send(choice);
          // Only the TLS sub-types have an accept byte; Plain goes straight to its message.
          this.#state = this.#subtype === VeNCryptSubtype.Plain ? "inner" : "accept";
          break;
        }
        case "accept": {
          if (!q.has(1)) return MORE;
          const accept = q.readU8();
          if (accept !== 1)
            throw new ProtocolError(
              "unsupported",
              `the server rejected VeNCrypt sub-type ${veNCryptSubtypeName(this.#subtype)} (it could not start TLS)`,
            );
          // The server says nothing more until our ClientHello: anything already here was
          // sent in the clear where TLS records belong, and must not be read as TLS data.
          if (q.length > 0)
            throw new ProtocolError("malformed", "the server sent unencrypted data where the TLS handshake belongs");
          this.#state = "tls";
          return { kind: "start-tls", anonymous: !X509.has(this.#subtype) };
        }
        case "tls":
          // The client calls step() again once TLS is up: the rest runs inside it. Bytes
          // already queued arrived during the pause, i.e. unencrypted (the transport reads
          // nothing more until TLS is established).
          if (q.length > 0)
            throw new ProtocolError("malformed", "the server sent unencrypted data where the TLS handshake belongs");
          this.#state = "inner";
          break;
        case "inner":
          return this.#inner(q, ctx);
      }
    }
  }

  #choose(offered: readonly number[], ctx: SecurityContext): number {
    if (offered.length === 0) throw new ProtocolError("unsupported", "the server offers no VeNCrypt sub-types");
    const allowed = this.#options.allowedSubtypes;
    const refusals: string[] = [];
    for (const subtype of PREFERENCE) {
      if (!offered.includes(subtype)) continue;
      const name = veNCryptSubtypeName(subtype);
      if (allowed && !allowed.includes(subtype)) {
        refusals.push(`${name} is not enabled`);
        continue;
      }
      if (ANONYMOUS_TLS.has(subtype) && !this.#options.anonymousTls) {
        refusals.push(`${name} (anonymous TLS) is unsupported`);
        continue;
      }
      if (subtype !== VeNCryptSubtype.Plain && !ctx.tlsAvailable) {
        refusals.push(`${name} needs TLS, which this connection cannot provide`);
        continue;
      }
      if (subtype === VeNCryptSubtype.Plain && !this.#options.allowPlainWithoutTls) {
        refusals.push(`${name} would send the password unencrypted, which is not allowed`);
        continue;
      }
      return subtype;
    }
    const unknown = offered.filter((t) => !PREFERENCE.includes(t));
    if (unknown.length > 0)
      refusals.push(`${unknown.map(veNCryptSubtypeName).join(", ")} ${unknown.length > 1 ? "are" : "is"} unknown`);
    throw new ProtocolError("unsupported", `the server offers no usable VeNCrypt sub-type: ${refusals.join("; ")}`);
  }

  #inner(q: ByteQueue, ctx: SecurityContext): SecurityStep {
    switch (innerOf(this.#subtype)) {
      case "none":
        return { kind: "done", securityResult: true };
      case "vnc":
        this.#vncAuth ??= new VncAuthHandshake();
        return this.#vncAuth.step(q, ctx);
      case "plain": {
        const username = ctx.credentials?.username;
        const password = ctx.credentials?.password;
        if (username === undefined || password === undefined)
          return { kind: "need-credentials", needed: { username: true, password: true } };
        const encoder = new TextEncoder();
        const user = encoder.encode(username);
        const pass = encoder.encode(password);
        const message = new Uint8Array(8 + user.length + pass.length);
        const view = new DataView(message.buffer);
        view.setUint32(0, user.length);
        view.setUint32(4, pass.length);
        message.set(user, 8);
        message.set(pass, 8 + user.length);
        ctx.send(message);
        return { kind: "done", securityResult: true };
      }
    }
  }
}
