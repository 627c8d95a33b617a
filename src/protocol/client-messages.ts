// The client-to-server half of RFB, parsed: what a viewer sends, message by message. A
// proxy that must understand a viewer's stream uses it (porthole-bench display learns the
// viewer's pixel format and encodings from it; a gateway will vet what viewers send).
// Sans-IO like the client: bytes go in with `push()`, `next()` returns one whole message
// or null when more bytes are needed, consuming nothing until a message is complete, so
// any chunking of the stream gives the same messages.
//
// Wire facts (RFC 6143 §7.1–7.5 and rfbproto):
// - Handshake: ProtocolVersion, 12 bytes "RFB 003.00x\n". From 3.7 on the client picks a
//   security type with one byte; under 3.3 the server dictates it (a U32 the client never
//   echoes), so the owner, who sees the server's side, passes it in with
//   `serverSecurityType()`. None (1) has no further client bytes; VNC authentication (2) a
//   16-byte DES response; VeNCrypt (19, rfbproto §7.2.8) the client's version (U8 major,
//   U8 minor) and its chosen sub-type (U32), after which TLS starts and the parser waits
//   until the owner, with TLS up, says which inner authentication follows (`beginInner()`):
//   none, a VNC response, or Plain's U32 ulen, U32 plen, user name, password. Then
//   ClientInit: one byte, the shared flag.
// - Messages, by their first byte: SetPixelFormat (0) 20 bytes; SetEncodings (2) 4 + 4n;
//   FramebufferUpdateRequest (3) 10; KeyEvent (4) 8; PointerEvent (5) 6, or 7 when the
//   server acknowledged ExtendedMouseButtons (-316) and bit 7 of the mask is set (buttons
//   8–9 follow in a trailing byte); ClientCutText (6) 8 + length, where a negative S32
//   length is ExtendedClipboard's |length| bytes of flags and payload;
//   EnableContinuousUpdates (150) 10; ClientFence (248) 9 + a payload of at most 64 bytes;
//   xvp (250) 4; SetDesktopSize (251) 8 + 16 per screen; QEMU (255) by sub-type: 0
//   extended key event 12, 1 audio 4 (enable, disable) or 10 (set-format), 2 RFB Streams
//   a 12-byte header with a U32 payload length (docs/streams.md).
// Anything else is refused: its length is unknown, so nothing after it could be trusted.

import { ByteQueue } from "./byte-queue.js";
import { ClientMessage, Limits, QEMUClientMessage, SecurityType } from "./constants.js";
import { ProtocolError } from "./errors.js";
import { MAX_FENCE_PAYLOAD } from "./extensions/fence.js";
import { PIXEL_FORMAT_LENGTH, type PixelFormat, parsePixelFormat } from "./pixel-format.js";
import { securityName } from "./security.js";
import { Streams } from "./streams.js";
import { VERSION_MESSAGE_LENGTH, type ProtocolVersion } from "./version.js";

export interface ScreenLayout {
  readonly id: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly flags: number;
}

/** One message of the client's stream; `length` is its size on the wire. */
export type ParsedClientMessage = { readonly length: number } & (
  | { readonly type: "protocol-version"; readonly version: ProtocolVersion }
  | { readonly type: "security-type"; readonly securityType: number }
  | { readonly type: "vnc-auth-response"; readonly response: Uint8Array }
  | { readonly type: "vencrypt-version"; readonly major: number; readonly minor: number }
  | { readonly type: "vencrypt-subtype"; readonly subtype: number }
  | { readonly type: "plain-auth"; readonly username: string; readonly password: string }
  | { readonly type: "client-init"; readonly shared: boolean }
  | { readonly type: "set-pixel-format"; readonly pixelFormat: PixelFormat }
  | { readonly type: "set-encodings"; readonly encodings: readonly number[] }
  | {
      readonly type: "framebuffer-update-request";
      readonly incremental: boolean;
      readonly x: number;
      readonly y: number;
      readonly width: number;
      readonly height: number;
    }
  | { readonly type: "key-event"; readonly down: boolean; readonly keysym: number }
  /** `buttons` has button n at bit n − 1, from either wire form. */
  | { readonly type: "pointer-event"; readonly x: number; readonly y: number; readonly buttons: number }
  /** Classic ClientCutText: ISO 8859-1 text. */
  | { readonly type: "client-cut-text"; readonly text: string }
  /** ClientCutText with a negative length: an ExtendedClipboard message. */
  | { readonly type: "extended-clipboard"; readonly flags: number; readonly payload: Uint8Array }
  | {
      readonly type: "qemu-extended-key-event";
      readonly down: boolean;
      readonly keysym: number;
      readonly scancode: number;
    }
  /** QEMU audio: operation 0 enable, 1 disable, 2 set-format (with `format`). */
  | {
      readonly type: "qemu-audio";
      readonly operation: number;
      readonly format?: { readonly sampleFormat: number; readonly channels: number; readonly frequency: number };
    }
  | {
      readonly type: "qemu-streams";
      readonly operation: number;
      readonly id: number;
      readonly payload: Uint8Array;
    }
  | {
      readonly type: "enable-continuous-updates";
      readonly enable: boolean;
      readonly x: number;
      readonly y: number;
      readonly width: number;
      readonly height: number;
    }
  | { readonly type: "client-fence"; readonly flags: number; readonly payload: Uint8Array }
  | { readonly type: "xvp"; readonly version: number; readonly code: number }
  | {
      readonly type: "set-desktop-size";
      readonly width: number;
      readonly height: number;
      readonly screens: readonly ScreenLayout[];
    }
);

export interface ClientMessageParserOptions {
  /**
   * Whether the stream starts with the handshake (ProtocolVersion, security, ClientInit);
   * false for a stream already past ClientInit.
   */
  readonly handshake?: boolean;
  /** Upper bound on buffered, unparsed bytes. */
  readonly maxBuffered?: number;
}

export type ClientStreamPhase =
  | "version"
  | "security-type"
  | "awaiting-server-security-type"
  | "vnc-auth"
  | "vencrypt-version"
  | "vencrypt-subtype"
  | "tls"
  | "plain-auth"
  | "client-init"
  | "messages"
  | "failed";

/** What follows VeNCrypt's TLS handshake (the sub-type's second half). */
export type InnerAuthentication = "none" | "vnc" | "plain";

/** Plain's user name and password are each at most this long (rfbproto sets no bound). */
export const MAX_PLAIN_FIELD = 4096;

const VERSION_RE = /^RFB (\d{3})\.(\d{3})\n$/;
const VNC_AUTH_RESPONSE_LENGTH = 16;
/** The audio operations that carry a format (QEMU ui/vnc.h VNC_MSG_CLIENT_QEMU_AUDIO_SET_FORMAT). */
const AUDIO_SET_FORMAT = 2;
/** rfbproto ExtendedMouseButtons: bit 7 of the first mask byte marks the 7-byte form. */
const EXTENDED_BUTTONS_MARKER = 0x80;

/** Bytes as a quoted string, for the error text of a malformed ProtocolVersion. */
function printable(bytes: Uint8Array): string {
  return JSON.stringify(String.fromCharCode(...bytes));
}

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}

export class ClientMessageParser {
  #q: ByteQueue;
  #phase: ClientStreamPhase;
  #version: ProtocolVersion | null = null;
  #securityType: number | null = null;
  #failure: ProtocolError | null = null;
  /** Set by the owner once the server acknowledged ExtendedMouseButtons (-316). */
  extendedMouseButtons = false;

  constructor(options: ClientMessageParserOptions = {}) {
    this.#q = new ByteQueue(options.maxBuffered);
    this.#phase = options.handshake === false ? "messages" : "version";
  }

  get phase(): ClientStreamPhase {
    return this.#phase;
  }

  /** The version the client answered with, once its ProtocolVersion is parsed. */
  get version(): ProtocolVersion | null {
    return this.#version;
  }

  /** The security type in force: the client's choice (3.7+) or the server's (3.3). */
  get securityType(): number | null {
    return this.#securityType;
  }

  /** Bytes consumed as whole messages so far. */
  get consumed(): number {
    return this.#q.consumed;
  }

  /** Bytes pushed and not yet returned as messages. */
  get buffered(): number {
    return this.#q.length;
  }

  push(chunk: Uint8Array): void {
    this.#guard(() => {
      this.#q.push(chunk);
    });
  }

  /** RFB 3.3: the security type the server dictated (its U32 after ProtocolVersion). */
  serverSecurityType(type: number): void {
    if (this.#phase !== "awaiting-server-security-type")
      throw new ProtocolError("invalid-argument", "the server's security type only matters to an RFB 3.3 client");
    this.#guard(() => {
      this.#beginSecurity(type);
    });
  }

  /**
   * VeNCrypt: TLS is up, and `inner` is what the client sends next. Bytes that arrived
   * before (where the TLS handshake belonged) are refused.
   */
  beginInner(inner: InnerAuthentication): void {
    if (this.#phase !== "tls")
      throw new ProtocolError("invalid-argument", "the inner authentication follows VeNCrypt's sub-type");
    this.#guard(() => {
      if (this.#q.length > 0)
        throw new ProtocolError("malformed", "the client sent unencrypted data where the TLS handshake belongs");
      this.#phase = inner === "none" ? "client-init" : inner === "vnc" ? "vnc-auth" : "plain-auth";
    });
  }

  /** The next whole message, or null until more bytes arrive. Throws once malformed. */
  next(): ParsedClientMessage | null {
    return this.#guard(() => this.#step());
  }

  /**
   * The next whole message with its wire bytes, or null until more bytes arrive. `bytes`
   * is a view of the parser's buffer, valid until the next `push()`: a proxy that passes
   * the message on unchanged sends it from there (or copies it to keep it).
   */
  nextWithBytes(): { readonly message: ParsedClientMessage; readonly bytes: Uint8Array } | null {
    return this.#guard(() => {
      const q = this.#q;
      // Consuming only moves the queue's start; the bytes stay in place until a push.
      const all = q.length > 0 ? q.peekBytes(q.length) : null;
      const message = this.#step();
      if (message === null || all === null) return null;
      return { message, bytes: all.subarray(0, message.length) };
    });
  }

  /**
   * Pushes `chunk` and returns every message it completes. On malformed input it throws,
   * and the messages before the fault in this chunk are lost: `push()` and `next()` keep them.
   */
  receive(chunk: Uint8Array): ParsedClientMessage[] {
    this.push(chunk);
    const out: ParsedClientMessage[] = [];
    for (let m = this.next(); m !== null; m = this.next()) out.push(m);
    return out;
  }

  /** Runs one operation; a failure sticks, so later calls report the same error. */
  #guard<T>(op: () => T): T {
    if (this.#failure) throw this.#failure;
    try {
      return op();
    } catch (e) {
      this.#phase = "failed";
      this.#failure =
        e instanceof ProtocolError
          ? e
          : new ProtocolError("malformed", `internal error while reading the client's data: ${String(e)}`);
      throw this.#failure;
    }
  }

  #beginSecurity(type: number): void {
    this.#securityType = type;
    switch (type) {
      case SecurityType.None:
        this.#phase = "client-init";
        return;
      case SecurityType.VncAuth:
        this.#phase = "vnc-auth";
        return;
      case SecurityType.VeNCrypt:
        this.#phase = "vencrypt-version";
        return;
      default:
        throw new ProtocolError(
          "unsupported",
          `the client chose ${securityName(type)}, whose handshake this parser does not follow`,
        );
    }
  }

  #step(): ParsedClientMessage | null {
    const q = this.#q;
    switch (this.#phase) {
      case "version": {
        if (!q.has(VERSION_MESSAGE_LENGTH)) return null;
        const bytes = q.peekBytes(VERSION_MESSAGE_LENGTH);
        const m = VERSION_RE.exec(String.fromCharCode(...bytes));
        if (!m) throw new ProtocolError("malformed", `the client's ProtocolVersion is ${printable(bytes)}`);
        const version = { major: Number(m[1]), minor: Number(m[2]) };
        if (version.major !== 3 || version.minor < 3)
          throw new ProtocolError("unsupported", `the client speaks RFB ${version.major}.${version.minor}`);
        q.skip(VERSION_MESSAGE_LENGTH);
        this.#version = version;
        // RFC 6143 §7.1.1: 3.3 semantics below 3.7; the security type is the server's call.
        this.#phase = version.minor >= 7 ? "security-type" : "awaiting-server-security-type";
        return { type: "protocol-version", version, length: VERSION_MESSAGE_LENGTH };
      }
      case "security-type": {
        if (!q.has(1)) return null;
        const securityType = q.readU8();
        this.#beginSecurity(securityType);
        return { type: "security-type", securityType, length: 1 };
      }
      case "awaiting-server-security-type":
        return null;
      case "vnc-auth": {
        if (!q.has(VNC_AUTH_RESPONSE_LENGTH)) return null;
        const response = q.takeBytes(VNC_AUTH_RESPONSE_LENGTH);
        this.#phase = "client-init";
        return { type: "vnc-auth-response", response, length: VNC_AUTH_RESPONSE_LENGTH };
      }
      case "vencrypt-version": {
        if (!q.has(2)) return null;
        const major = q.readU8();
        const minor = q.readU8();
        this.#phase = "vencrypt-subtype";
        return { type: "vencrypt-version", major, minor, length: 2 };
      }
      case "vencrypt-subtype": {
        if (!q.has(4)) return null;
        const subtype = q.readU32();
        this.#phase = "tls";
        return { type: "vencrypt-subtype", subtype, length: 4 };
      }
      case "tls":
        // Nothing is read in the clear until the owner has TLS up (beginInner).
        return null;
      case "plain-auth": {
        if (!q.has(8)) return null;
        const ulen = q.peekU32(0);
        const plen = q.peekU32(4);
        if (ulen > MAX_PLAIN_FIELD || plen > MAX_PLAIN_FIELD)
          throw new ProtocolError(
            "malformed",
            `the client's Plain user name or password is ${Math.max(ulen, plen)} bytes (at most ${MAX_PLAIN_FIELD})`,
          );
        if (!q.has(8 + ulen + plen)) return null;
        q.skip(8);
        const decoder = new TextDecoder("utf-8", { fatal: false });
        const username = decoder.decode(q.takeBytes(ulen));
        const password = decoder.decode(q.takeBytes(plen));
        this.#phase = "client-init";
        return { type: "plain-auth", username, password, length: 8 + ulen + plen };
      }
      case "client-init": {
        if (!q.has(1)) return null;
        const shared = q.readU8() !== 0;
        this.#phase = "messages";
        return { type: "client-init", shared, length: 1 };
      }
      case "messages":
        return this.#message();
      case "failed":
        return null;
    }
  }

  #message(): ParsedClientMessage | null {
    const q = this.#q;
    if (!q.has(1)) return null;
    const type = q.peekU8();
    switch (type) {
      case ClientMessage.SetPixelFormat: {
        const length = 4 + PIXEL_FORMAT_LENGTH;
        if (!q.has(length)) return null;
        const pixelFormat = parsePixelFormat(q.peekBytes(PIXEL_FORMAT_LENGTH, 4));
        q.skip(length);
        return { type: "set-pixel-format", pixelFormat, length };
      }
      case ClientMessage.SetEncodings: {
        if (!q.has(4)) return null;
        const count = q.peekU16(2);
        const length = 4 + 4 * count;
        if (!q.has(length)) return null;
        q.skip(4);
        const encodings: number[] = [];
        for (let i = 0; i < count; i++) encodings.push(q.readS32());
        return { type: "set-encodings", encodings, length };
      }
      case ClientMessage.FramebufferUpdateRequest:
      case ClientMessage.EnableContinuousUpdates: {
        if (!q.has(10)) return null;
        q.skip(1);
        const flag = q.readU8() !== 0;
        const area = { x: q.readU16(), y: q.readU16(), width: q.readU16(), height: q.readU16() };
        return type === ClientMessage.FramebufferUpdateRequest
          ? { type: "framebuffer-update-request", incremental: flag, ...area, length: 10 }
          : { type: "enable-continuous-updates", enable: flag, ...area, length: 10 };
      }
      case ClientMessage.KeyEvent: {
        if (!q.has(8)) return null;
        q.skip(1);
        const down = q.readU8() !== 0;
        q.skip(2);
        return { type: "key-event", down, keysym: q.readU32(), length: 8 };
      }
      case ClientMessage.PointerEvent: {
        if (!q.has(6)) return null;
        const mask = q.peekU8(1);
        const extended = this.extendedMouseButtons && (mask & EXTENDED_BUTTONS_MARKER) !== 0;
        const length = extended ? 7 : 6;
        if (!q.has(length)) return null;
        q.skip(2);
        const x = q.readU16();
        const y = q.readU16();
        const buttons = extended ? (mask & 0x7f) | (q.readU8() << 7) : mask;
        return { type: "pointer-event", x, y, buttons, length };
      }
      case ClientMessage.ClientCutText:
        return this.#cutText();
      case ClientMessage.ClientFence: {
        if (!q.has(9)) return null;
        const size = q.peekU8(8);
        if (size > MAX_FENCE_PAYLOAD)
          throw new ProtocolError(
            "malformed",
            `the client sent a fence with ${size} bytes of payload (rfbproto allows ${MAX_FENCE_PAYLOAD})`,
          );
        const length = 9 + size;
        if (!q.has(length)) return null;
        q.skip(4);
        const flags = q.readU32();
        q.skip(1);
        return { type: "client-fence", flags, payload: q.takeBytes(size), length };
      }
      case ClientMessage.Xvp: {
        if (!q.has(4)) return null;
        q.skip(2);
        const version = q.readU8();
        return { type: "xvp", version, code: q.readU8(), length: 4 };
      }
      case ClientMessage.SetDesktopSize: {
        if (!q.has(8)) return null;
        const count = q.peekU8(6);
        const length = 8 + 16 * count;
        if (!q.has(length)) return null;
        q.skip(2);
        const width = q.readU16();
        const height = q.readU16();
        q.skip(2);
        const screens: ScreenLayout[] = [];
        for (let i = 0; i < count; i++)
          screens.push({
            id: q.readU32(),
            x: q.readU16(),
            y: q.readU16(),
            width: q.readU16(),
            height: q.readU16(),
            flags: q.readU32(),
          });
        return { type: "set-desktop-size", width, height, screens, length };
      }
      case ClientMessage.QEMU:
        return this.#qemu();
      default:
        throw new ProtocolError(
          "unsupported",
          `the client sent message type ${type}, which this parser does not know (its length is unknown)`,
        );
    }
  }

  #cutText(): ParsedClientMessage | null {
    const q = this.#q;
    if (!q.has(8)) return null;
    const declared = q.peekS32(4);
    // rfbproto ExtendedClipboard: a negative length is |length| bytes of flags and payload.
    const size = Math.abs(declared);
    if (size > Limits.maxCutText)
      throw new ProtocolError("limit", `the client's clipboard message is ${size} bytes (limit ${Limits.maxCutText})`);
    if (declared < 0 && size < 4)
      throw new ProtocolError("malformed", `an extended clipboard message of ${size} bytes has no room for its flags`);
    const length = 8 + size;
    if (!q.has(length)) return null;
    q.skip(8);
    if (declared >= 0) return { type: "client-cut-text", text: latin1(q.readBytes(size)), length };
    const flags = q.readU32();
    return { type: "extended-clipboard", flags, payload: q.takeBytes(size - 4), length };
  }

  #qemu(): ParsedClientMessage | null {
    const q = this.#q;
    if (!q.has(2)) return null;
    const subtype = q.peekU8(1);
    switch (subtype) {
      case QEMUClientMessage.ExtendedKeyEvent: {
        if (!q.has(12)) return null;
        q.skip(2);
        const down = q.readU16() !== 0;
        const keysym = q.readU32();
        return { type: "qemu-extended-key-event", down, keysym, scancode: q.readU32(), length: 12 };
      }
      case QEMUClientMessage.Audio: {
        if (!q.has(4)) return null;
        const operation = q.peekU16(2);
        if (operation > AUDIO_SET_FORMAT)
          throw new ProtocolError(
            "malformed",
            `the client sent QEMU audio operation ${operation}, which does not exist`,
          );
        if (operation !== AUDIO_SET_FORMAT) {
          q.skip(4);
          return { type: "qemu-audio", operation, length: 4 };
        }
        if (!q.has(10)) return null;
        q.skip(4);
        const sampleFormat = q.readU8();
        const channels = q.readU8();
        return {
          type: "qemu-audio",
          operation,
          format: { sampleFormat, channels, frequency: q.readU32() },
          length: 10,
        };
      }
      case QEMUClientMessage.Streams: {
        const header = Streams.headerLength;
        if (!q.has(header)) return null;
        const size = q.peekU32(8);
        if (size > Streams.maxPayload)
          throw new ProtocolError(
            "limit",
            `the client sent an RFB Streams message with a ${size}-byte payload; the limit is ${Streams.maxPayload}`,
          );
        if (!q.has(header + size)) return null;
        q.skip(2);
        const operation = q.readU16();
        const id = q.readU32();
        q.skip(4);
        return { type: "qemu-streams", operation, id, payload: q.takeBytes(size), length: header + size };
      }
      default:
        throw new ProtocolError(
          "unsupported",
          `the client sent QEMU message sub-type ${subtype}, which this parser does not know`,
        );
    }
  }
}
