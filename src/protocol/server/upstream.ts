// A proxy's own handshake with the RFB server behind it, as a client (RFC 6143 §7.1–7.3):
// ProtocolVersion, security type None, ClientInit, ServerInit. Unlike RfbClient it stops
// there: it sends no SetPixelFormat, SetEncodings or update request of its own, because
// after ServerInit the proxy's client speaks to the server through the proxy. The
// ServerInit bytes are kept as they came, to be handed to that client unchanged.
//
// Only None is spoken: the gateway's upstream is QEMU's own VNC server on a unix socket or
// loopback, without authentication (the gateway is the security endpoint).

import { ByteQueue } from "../byte-queue.js";
import { Limits, SecurityType } from "../constants.js";
import { ProtocolError } from "../errors.js";
import { parsePixelFormat, type PixelFormat } from "../pixel-format.js";
import { securityName } from "../security.js";
import {
  formatVersion,
  negotiateVersion,
  parseVersion,
  type ProtocolVersion,
  VERSION_MESSAGE_LENGTH,
} from "../version.js";

export interface UpstreamInit {
  readonly version: ProtocolVersion;
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  readonly name: string;
  /** The ServerInit message exactly as the server sent it (a copy). */
  readonly serverInit: Uint8Array;
  /** Bytes the server sent after ServerInit (a copy; normally none). */
  readonly rest: Uint8Array;
}

type State = "version" | "security-types" | "security-33" | "security-result" | "reason" | "server-init" | "done";

const MAX_REASON = Limits.maxReasonLength;

export class UpstreamHandshake {
  #q = new ByteQueue();
  #state: State = "version";
  #version: ProtocolVersion = { major: 3, minor: 8 };
  /** What the failure reason will explain once read. */
  #reasonFor = "";

  /**
   * @param shared ClientInit's shared-flag (the proxy passes on its client's).
   * @param send writes bytes to the server.
   */
  constructor(
    readonly shared: boolean,
    readonly send: (bytes: Uint8Array) => void,
  ) {}

  get done(): boolean {
    return this.#state === "done";
  }

  /** Feeds the server's bytes; returns the result once ServerInit is complete. Throws ProtocolError. */
  receive(chunk: Uint8Array): UpstreamInit | null {
    if (this.#state === "done") throw new ProtocolError("invalid-argument", "the upstream handshake is already over");
    this.#q.push(chunk);
    for (;;) {
      const result = this.#step();
      if (result === false) return null;
      if (result !== true) return result;
    }
  }

  #step(): boolean | UpstreamInit {
    const q = this.#q;
    switch (this.#state) {
      case "version": {
        if (!q.has(VERSION_MESSAGE_LENGTH)) return false;
        this.#version = negotiateVersion(parseVersion(q.readBytes(VERSION_MESSAGE_LENGTH)));
        this.send(formatVersion(this.#version));
        this.#state = this.#version.minor >= 7 ? "security-types" : "security-33";
        return true;
      }
      case "security-types": {
        if (!q.has(1)) return false;
        const n = q.peekU8();
        if (n === 0) {
          q.skip(1);
          this.#reasonFor = "the server refused the connection";
          this.#state = "reason";
          return true;
        }
        if (!q.has(1 + n)) return false;
        q.skip(1);
        const offered = Array.from(q.readBytes(n));
        if (!offered.includes(SecurityType.None))
          throw new ProtocolError(
            "unsupported",
            `the VNC server asks for ${offered.map(securityName).join(" or ")}; the gateway needs one without authentication`,
          );
        this.send(Uint8Array.of(SecurityType.None));
        // RFC 6143 §7.1.3: 3.8 sends a SecurityResult for None too; 3.7 does not.
        if (this.#version.minor >= 8) this.#state = "security-result";
        else this.#clientInit();
        return true;
      }
      case "security-33": {
        if (!q.has(4)) return false;
        const type = q.readU32();
        if (type === SecurityType.Invalid) {
          this.#reasonFor = "the server refused the connection";
          this.#state = "reason";
          return true;
        }
        if (type !== SecurityType.None)
          throw new ProtocolError(
            "unsupported",
            `the VNC server asks for ${securityName(type)}; the gateway needs one without authentication`,
          );
        this.#clientInit();
        return true;
      }
      case "security-result": {
        if (!q.has(4)) return false;
        if (q.readU32() === 0) {
          this.#clientInit();
          return true;
        }
        this.#reasonFor = "the server refused the connection";
        this.#state = "reason";
        return true;
      }
      case "reason": {
        if (!q.has(4)) return false;
        const length = q.peekU32();
        if (length > MAX_REASON)
          throw new ProtocolError("limit", `the server's reason is ${length} bytes (limit ${MAX_REASON})`);
        if (!q.has(4 + length)) return false;
        q.skip(4);
        const reason = new TextDecoder("utf-8").decode(q.readBytes(length));
        throw new ProtocolError("unsupported", `${this.#reasonFor}: ${reason || "no reason given"}`);
      }
      case "server-init": {
        if (!q.has(24)) return false;
        const nameLength = q.peekU32(20);
        if (nameLength > Limits.maxDesktopName)
          throw new ProtocolError("limit", `the desktop name is ${nameLength} bytes (limit ${Limits.maxDesktopName})`);
        if (!q.has(24 + nameLength)) return false;
        const serverInit = q.takeBytes(24 + nameLength);
        const view = new DataView(serverInit.buffer);
        const width = view.getUint16(0);
        const height = view.getUint16(2);
        const pixelFormat = parsePixelFormat(serverInit, 4);
        const name = new TextDecoder("utf-8").decode(serverInit.subarray(24));
        const rest = q.length > 0 ? q.takeBytes(q.length) : new Uint8Array(0);
        this.#state = "done";
        return { version: this.#version, width, height, pixelFormat, name, serverInit, rest };
      }
      case "done":
        return false;
    }
  }

  #clientInit(): void {
    this.send(Uint8Array.of(this.shared ? 1 : 0));
    this.#state = "server-init";
  }
}
