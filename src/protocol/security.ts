// Security types as sub-machines of the client's handshake (RFC 6143 §7.2). Once the
// client has chosen a type, it hands incoming bytes to that type's handshake until the
// handshake reports "done", after which the SecurityResult follows (or, for None before
// 3.8, ClientInit). A handshake may pause for the user's credentials or for the transport
// to switch to TLS; the client resumes it when those arrive.

import type { ByteQueue } from "./byte-queue.js";
import { SecurityType } from "./constants.js";
import { vncAuthResponse } from "./des.js";
import type { ProtocolVersion } from "./version.js";

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

export interface CredentialsNeeded {
  readonly username: boolean;
  readonly password: boolean;
}

export interface SecurityContext {
  readonly version: ProtocolVersion;
  send(data: Uint8Array): void;
  /** What the user gave so far (setCredentials), or null. */
  readonly credentials: Credentials | null;
  /** Whether the transport can start TLS (the platform provides it). */
  readonly tlsAvailable: boolean;
}

/**
 * "more": needs more bytes. "done": the type's own exchange is over. A pause asks the
 * client to wait for credentials or for TLS, then call `step` again.
 */
export type SecurityStep =
  | { readonly kind: "more" }
  | { readonly kind: "done"; readonly securityResult: boolean }
  | { readonly kind: "need-credentials"; readonly needed: CredentialsNeeded }
  | { readonly kind: "start-tls"; readonly anonymous: boolean };

export const MORE: SecurityStep = { kind: "more" };

export interface SecurityHandshake {
  step(q: ByteQueue, ctx: SecurityContext): SecurityStep;
}

/** VNC authentication (§7.2.2): a 16-byte challenge encrypted with the password. */
export class VncAuthHandshake implements SecurityHandshake {
  #challenge: Uint8Array | null = null;

  step(q: ByteQueue, ctx: SecurityContext): SecurityStep {
    if (this.#challenge === null) {
      if (!q.has(16)) return MORE;
      this.#challenge = q.takeBytes(16);
    }
    const password = ctx.credentials?.password;
    if (password === undefined) return { kind: "need-credentials", needed: { username: false, password: true } };
    ctx.send(vncAuthResponse(password, this.#challenge));
    return { kind: "done", securityResult: true };
  }
}

/** None (§7.2.1): nothing to exchange; before 3.8 not even a SecurityResult. */
export class NoneHandshake implements SecurityHandshake {
  step(_q: ByteQueue, ctx: SecurityContext): SecurityStep {
    return { kind: "done", securityResult: ctx.version.minor >= 8 };
  }
}

export function securityName(type: number): string {
  switch (type) {
    case SecurityType.None:
      return "None";
    case SecurityType.VncAuth:
      return "VNC authentication";
    case SecurityType.VeNCrypt:
      return "VeNCrypt";
    default:
      return `security type ${type}`;
  }
}
