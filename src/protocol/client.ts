// The RFB client state machine (RFC 6143 with the rfbproto extensions Porthole speaks),
// sans-IO: bytes come in through `receive()`, bytes to send leave through
// `handler.send()`, everything else the client learns is a handler callback. A step of the
// machine runs only when all the bytes it needs are buffered, so any chunking of the input
// gives the same result. Any failure — malformed input, a limit, a refused login — ends
// the connection through exactly one `handler.failed()` call and leaves the client closed.

import { ByteQueue } from "./byte-queue.js";
import { Encoding, ENCODINGS_BY_NAME, Limits, SecurityType, ServerMessage } from "./constants.js";
import { CopyRectDecoder } from "./decoders/copyrect.js";
import { CoRREDecoder } from "./decoders/corre.js";
import type { DecoderContext, ImageDecoder, Rect, RectDecoder } from "./decoders/decoder.js";
import { HextileDecoder } from "./decoders/hextile.js";
import { RawDecoder } from "./decoders/raw.js";
import { RREDecoder } from "./decoders/rre.js";
import { TightPNGDecoder } from "./decoders/tight-png.js";
import { TightDecoder } from "./decoders/tight.js";
import { ZlibDecoder } from "./decoders/zlib.js";
import { ZRLEDecoder } from "./decoders/zrle.js";
import { ProtocolError } from "./errors.js";
import {
  type Credentials,
  type CredentialsNeeded,
  NoneHandshake,
  type SecurityHandshake,
  securityName,
  VncAuthHandshake,
} from "./security.js";
import type { Extension, ExtensionHost } from "./extension.js";
import type { Framebuffer } from "./framebuffer.js";
import { InflateStream } from "./inflate.js";
import * as msg from "./messages.js";
import {
  DEFAULT_PIXEL_FORMAT,
  PIXEL_FORMAT_LENGTH,
  parsePixelFormat,
  PixelConverter,
  type PixelFormat,
} from "./pixel-format.js";
import {
  formatVersion,
  negotiateVersion,
  parseVersion,
  type ProtocolVersion,
  VERSION_MESSAGE_LENGTH,
} from "./version.js";

/** The encodings offered by default, best first, then the pseudo-encodings. */
export const DEFAULT_ENCODINGS: readonly number[] = [
  Encoding.Tight,
  Encoding.TightPNG,
  Encoding.ZRLE,
  Encoding.Hextile,
  Encoding.Zlib,
  Encoding.CoRRE,
  Encoding.RRE,
  Encoding.CopyRect,
  Encoding.Raw,
  Encoding.JPEGQualityLevel0 + 8,
  Encoding.CompressLevel0 + 2,
  Encoding.DesktopSize,
  Encoding.ExtendedDesktopSize,
  Encoding.LastRect,
  Encoding.ExtendedMouseButtons,
  Encoding.CursorWithAlpha,
  Encoding.Cursor,
  Encoding.DesktopName,
];

export interface ServerInfo {
  readonly version: ProtocolVersion;
  readonly width: number;
  readonly height: number;
  readonly name: string;
  /** The format the server announced; rectangles use the client's (`pixelFormat`). */
  readonly serverPixelFormat: PixelFormat;
}

export interface DesktopLayout {
  readonly reason: "server" | "client" | "other-client";
  readonly status: number;
  readonly width: number;
  readonly height: number;
  readonly screens: readonly msg.Screen[];
}

/** Human text for a SetDesktopSize status (rfbproto ExtendedDesktopSize). */
export const DESKTOP_SIZE_STATUS: Readonly<Record<number, string>> = {
  0: "the desktop was resized",
  1: "the server does not allow this client to resize the desktop",
  2: "the server has no resources to resize the desktop",
  3: "the server rejected the screen layout",
  4: "the server passed the request on to the guest, which may or may not resize",
};

export interface CursorShape {
  readonly width: number;
  readonly height: number;
  readonly hotX: number;
  readonly hotY: number;
  /** 0xAARRGGBB, not premultiplied; A is 0 or 255 for -239 cursors, any value for -314. */
  readonly pixels: Uint32Array;
}

/** What the client tells its owner. Only `send` and `failed` are required. */
export type { Credentials, CredentialsNeeded } from "./security.js";

export interface ClientHandler {
  send(data: Uint8Array): void;
  /** The connection is over: `error` says why, in words for a person. */
  failed(error: ProtocolError): void;
  /** The server asks for credentials; answer with `client.setCredentials()`. */
  credentialsRequired?(needed: CredentialsNeeded): void;
  /**
   * The security handshake needs TLS now: wrap the connection (anonymous: no certificate,
   * TLSNone/TLSVnc) and call `client.tlsEstablished()`, or close it.
   */
  startTls?(anonymous: boolean): void;
  /** ServerInit arrived; the framebuffer has its size. */
  connected?(info: ServerInfo): void;
  /** A rectangle of a FramebufferUpdate has been applied. */
  rectDecoded?(rect: Rect): void;
  /** A FramebufferUpdate is complete; the framebuffer is consistent again. */
  updateComplete?(): void;
  resized?(width: number, height: number): void;
  /**
   * ExtendedDesktopSize: the server's screen layout, and for the answer to our own
   * SetDesktopSize (`reason` "client") its status: 0 done, 1 prohibited, 2 out of resources,
   * 3 invalid layout (rfbproto).
   */
  desktopLayout?(layout: DesktopLayout): void;
  desktopName?(name: string): void;
  bell?(): void;
  serverCutText?(text: string): void;
  cursor?(shape: CursorShape): void;
}

export interface ClientOptions {
  readonly framebuffer: Framebuffer;
  readonly pixelFormat?: PixelFormat;
  readonly encodings?: readonly number[];
  readonly shared?: boolean;
  /** Security types this client may use, most preferred first. */
  readonly securityTypes?: readonly number[];
  /** Handshakes for security types beyond the built-in None and VNC authentication. */
  readonly security?: Readonly<Record<number, () => SecurityHandshake>>;
  readonly images?: ImageDecoder | null;
  /** Ask for incremental updates after each one (off when replaying a recording). */
  readonly requestUpdates?: boolean;
  /** Extensions (QEMU messages, Streams, clipboard…); their pseudo-encodings are listed for them. */
  readonly extensions?: readonly Extension[];
}

type State =
  | "version"
  | "security-types"
  | "security-type-33"
  | "security-failure-reason"
  | "security"
  | "security-paused"
  | "security-result"
  | "security-result-reason"
  | "server-init"
  | "normal"
  | "closed";

interface UpdateState {
  /** Rectangles still to come, or -1 when the server announced 0xFFFF and ends with LastRect. */
  remaining: number;
  rect: Rect | null;
}

const MAX_REASON = Limits.maxReasonLength;

export class RfbClient implements DecoderContext {
  readonly framebuffer: Framebuffer;
  readonly images: ImageDecoder | null;
  #handler: ClientHandler;
  #options: ClientOptions;
  #q = new ByteQueue();
  #state: State = "version";
  #version: ProtocolVersion = { major: 3, minor: 8 };
  #pixelFormat: PixelFormat;
  #converter: PixelConverter;
  #credentials: Credentials | null = null;
  #handshake: SecurityHandshake | null = null;
  #update: UpdateState | null = null;
  #decoders = new Map<number, RectDecoder>();
  #inflaters = new Map<number, InflateStream>();
  #scratch = new Uint32Array(64 * 64);
  #serverPixelFormat: PixelFormat = DEFAULT_PIXEL_FORMAT;
  #serverInitName = "";
  #acknowledged = new Set<number>();
  #extendedDesktopSize = false;
  #byPseudoEncoding = new Map<number, Extension>();
  #byMessageType = new Map<number, Extension>();
  #byQemuSubtype = new Map<number, Extension>();

  constructor(options: ClientOptions, handler: ClientHandler) {
    this.framebuffer = options.framebuffer;
    this.images = options.images ?? null;
    this.#options = options;
    this.#handler = handler;
    this.#pixelFormat = options.pixelFormat ?? DEFAULT_PIXEL_FORMAT;
    this.#converter = new PixelConverter(this.#pixelFormat);
    for (const ext of options.extensions ?? []) {
      for (const e of ext.pseudoEncodings ?? []) this.#claim(this.#byPseudoEncoding, e, ext, "pseudo-encoding");
      for (const t of ext.messageTypes ?? []) this.#claim(this.#byMessageType, t, ext, "message type");
      for (const t of ext.qemuSubtypes ?? []) this.#claim(this.#byQemuSubtype, t, ext, "QEMU sub-type");
    }
  }

  #claim(map: Map<number, Extension>, key: number, ext: Extension, what: string): void {
    if (map.has(key)) throw new Error(`two extensions handle ${what} ${key}`);
    map.set(key, ext);
  }

  /** Whether the server has sent a rectangle of pseudo-encoding `encoding` (its ack). */
  acknowledged(encoding: number): boolean {
    return this.#acknowledged.has(encoding);
  }

  get state(): State {
    return this.#state;
  }

  get pixels(): PixelConverter {
    return this.#converter;
  }

  /** How many of the server's bytes have been fully processed. */
  get bytesConsumed(): number {
    return this.#q.consumed;
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  inflater(encoding: number, index: number): InflateStream {
    const key = encoding * 8 + index;
    let s = this.#inflaters.get(key);
    if (!s) {
      s = new InflateStream(`${encodingName(encoding)} stream ${index}`);
      this.#inflaters.set(key, s);
    }
    return s;
  }

  scratch(n: number): Uint32Array {
    if (this.#scratch.length < n) this.#scratch = new Uint32Array(Math.max(n, this.#scratch.length * 2));
    return this.#scratch;
  }

  /** Feeds bytes from the server. Never throws: failures go to `handler.failed()`. */
  receive(bytes: Uint8Array): void {
    if (this.#state === "closed") return;
    try {
      this.#q.push(bytes);
      this.#pump();
    } catch (e) {
      this.#fail(e);
    }
  }

  /** The credentials the server asked for through `credentialsRequired`. */
  setCredentials(credentials: Credentials): void {
    this.#credentials = { ...this.#credentials, ...credentials };
    this.#resumeSecurity();
  }

  /** The transport finished the TLS handshake that `handler.startTls` asked for. */
  tlsEstablished(): void {
    this.#resumeSecurity();
  }

  /** True once connected (ServerInit done) and until the connection ends. */
  get connected(): boolean {
    return this.#state === "normal";
  }

  /** Whether the server announced ExtendedDesktopSize, so SetDesktopSize may be sent. */
  get canResizeDesktop(): boolean {
    return this.#extendedDesktopSize;
  }

  #sendConnected(data: Uint8Array): boolean {
    if (this.#state !== "normal") return false;
    this.#send(data);
    return true;
  }

  /** KeyEvent (RFC 6143 §7.5.4). False when not connected. */
  sendKey(down: boolean, keysym: number): boolean {
    return this.#sendConnected(msg.keyEvent(down, keysym));
  }

  /**
   * PointerEvent with button n at bit n − 1, clamped to the desktop. Buttons 8–9 need the
   * server's ExtendedMouseButtons ack; without it button 9 cannot be sent (false).
   */
  sendPointer(x: number, y: number, buttons: number): boolean {
    const fb = this.framebuffer;
    const cx = Math.max(0, Math.min(Math.max(0, fb.width - 1), Math.round(x)));
    const cy = Math.max(0, Math.min(Math.max(0, fb.height - 1), Math.round(y)));
    const extended = this.#acknowledged.has(Encoding.ExtendedMouseButtons);
    if (!extended && buttons > 0xff) return false;
    return this.#sendConnected(msg.pointerEvent(cx, cy, buttons, extended));
  }

  /** ClientCutText in Latin-1 (§7.5.6); ExtendedClipboard sends UTF-8 itself. */
  sendCutText(text: string): boolean {
    return this.#sendConnected(msg.clientCutText(text));
  }

  /**
   * Sends SetEncodings again, e.g. to change quality or drop an extension: `encodings`, then
   * the extensions' pseudo-encodings unless `withExtensions` is false. Each extension hears
   * the final list (Streams closes its streams when -262 is gone).
   */
  setEncodings(encodings: readonly number[], withExtensions = true): boolean {
    const list = this.#encodings(encodings, withExtensions);
    if (!this.#sendConnected(msg.setEncodings(list))) return false;
    for (const ext of this.#options.extensions ?? []) ext.encodingsSent?.(list);
    return true;
  }

  /** FramebufferUpdateRequest for the whole desktop, or the given rectangle. */
  requestUpdate(incremental: boolean, rect?: { x: number; y: number; width: number; height: number }): boolean {
    const fb = this.framebuffer;
    const r = rect ?? { x: 0, y: 0, width: fb.width, height: fb.height };
    return this.#sendConnected(msg.framebufferUpdateRequest(incremental, r.x, r.y, r.width, r.height));
  }

  /**
   * SetDesktopSize (rfbproto): asks the server for a new size with one screen covering it
   * (or the given layout). False unless the server announced ExtendedDesktopSize; the
   * answer arrives as `desktopLayout` with reason "client".
   */
  setDesktopSize(width: number, height: number, screens?: readonly msg.Screen[]): boolean {
    if (!this.#extendedDesktopSize) return false;
    const max = Limits.maxFramebufferSide;
    if (!(width >= 1 && height >= 1 && width <= max && height <= max))
      throw new ProtocolError("invalid-argument", `a desktop of ${width}×${height} is outside 1–${max} pixels a side`);
    const layout = screens ?? [{ id: 0, x: 0, y: 0, width, height, flags: 0 }];
    return this.#sendConnected(msg.setDesktopSize(width, height, layout));
  }

  #resumeSecurity(): void {
    if (this.#state !== "security-paused") return;
    this.#state = "security";
    try {
      this.#pump();
    } catch (e) {
      this.#fail(e);
    }
  }

  #pump(): void {
    while (this.#state !== "closed" && this.#step());
  }

  /** The transport closed: fails with `reason` unless the client already finished. */
  transportClosed(reason: string): void {
    if (this.#state === "closed") return;
    this.#fail(new ProtocolError("closed", reason));
  }

  /** Stops processing without reporting (the owner closed the connection itself). */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#detachExtensions();
  }

  #detachExtensions(): void {
    for (const ext of this.#options.extensions ?? []) ext.detach?.();
  }

  #fail(e: unknown): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#detachExtensions();
    const error =
      e instanceof ProtocolError
        ? e
        : new ProtocolError("malformed", `internal error while reading the server's data: ${String(e)}`);
    this.#handler.failed(error);
  }

  #send(data: Uint8Array): void {
    this.#handler.send(data);
  }

  /** One step of the machine; false when it needs more bytes. */
  #step(): boolean {
    const q = this.#q;
    switch (this.#state) {
      case "version": {
        if (!q.has(VERSION_MESSAGE_LENGTH)) return false;
        const server = parseVersion(q.readBytes(VERSION_MESSAGE_LENGTH));
        this.#version = negotiateVersion(server);
        this.#send(formatVersion(this.#version));
        this.#state = this.#version.minor >= 7 ? "security-types" : "security-type-33";
        return true;
      }
      case "security-types": {
        if (!q.has(1)) return false;
        const n = q.peekU8();
        if (n === 0) {
          q.skip(1);
          this.#state = "security-failure-reason";
          return true;
        }
        if (!q.has(1 + n)) return false;
        q.skip(1);
        const offered = Array.from(q.readBytes(n));
        this.#chooseSecurity(offered);
        return true;
      }
      case "security-type-33": {
        if (!q.has(4)) return false;
        const type = q.readU32();
        if (type === SecurityType.Invalid) {
          this.#state = "security-failure-reason";
          return true;
        }
        if (!this.#allowedSecurity().includes(type))
          throw new ProtocolError(
            "unsupported",
            `the server requires security type ${securityName(type)}, which is not enabled`,
          );
        this.#beginSecurity(type);
        return true;
      }
      case "security-failure-reason": {
        const reason = this.#readString(MAX_REASON);
        if (reason === null) return false;
        throw new ProtocolError("unsupported", `the server refused the connection: ${reason || "no reason given"}`);
      }
      case "security":
        return this.#securityStep();
      case "security-paused":
        return false;
      case "security-result": {
        if (!q.has(4)) return false;
        const result = q.readU32();
        if (result === 0) {
          this.#sendClientInit();
          return true;
        }
        // Only 3.8 servers explain a failure (RFC 6143 §7.1.3).
        if (this.#version.minor >= 8) {
          this.#state = "security-result-reason";
          return true;
        }
        throw new ProtocolError("auth-failed", "authentication failed");
      }
      case "security-result-reason": {
        const reason = this.#readString(MAX_REASON);
        if (reason === null) return false;
        throw new ProtocolError("auth-failed", reason ? `authentication failed: ${reason}` : "authentication failed");
      }
      case "server-init":
        return this.#serverInit();
      case "normal":
        return this.#normal();
      case "closed":
        return false;
    }
  }

  #allowedSecurity(): readonly number[] {
    return this.#options.securityTypes ?? [SecurityType.VncAuth, SecurityType.None];
  }

  #chooseSecurity(offered: number[]): void {
    const choice = this.#allowedSecurity().find((t) => offered.includes(t));
    if (choice === undefined)
      throw new ProtocolError(
        "unsupported",
        `the server offers no security type this client can use (it offers ${offered.map(securityName).join(", ")})`,
      );
    this.#send(Uint8Array.of(choice));
    this.#beginSecurity(choice);
  }

  #beginSecurity(type: number): void {
    const make = this.#options.security?.[type] ?? BUILTIN_SECURITY[type];
    if (!make) throw new ProtocolError("unsupported", `${securityName(type)} is not supported`);
    this.#handshake = make();
    this.#state = "security";
  }

  #securityStep(): boolean {
    const handshake = this.#handshake;
    if (!handshake) return false;
    const step = handshake.step(this.#q, {
      version: this.#version,
      send: (data) => {
        this.#send(data);
      },
      credentials: this.#credentials,
      tlsAvailable: this.#handler.startTls !== undefined,
    });
    switch (step.kind) {
      case "more":
        return false;
      case "done":
        this.#handshake = null;
        if (step.securityResult) this.#state = "security-result";
        else this.#sendClientInit();
        return true;
      case "need-credentials":
        this.#state = "security-paused";
        this.#handler.credentialsRequired?.(step.needed);
        return false;
      case "start-tls":
        if (!this.#handler.startTls)
          throw new ProtocolError("unsupported", "the server requires TLS, which this connection cannot provide");
        this.#state = "security-paused";
        this.#handler.startTls(step.anonymous);
        return false;
    }
  }

  #sendClientInit(): void {
    this.#send(Uint8Array.of(this.#options.shared === false ? 0 : 1));
    this.#state = "server-init";
  }

  /** A U32-length-prefixed string, or null if not all there. Over `max` is an error. */
  #readString(max: number): string | null {
    const q = this.#q;
    if (!q.has(4)) return null;
    const len = q.peekU32();
    if (len > max) throw new ProtocolError("limit", `the server sent a ${len}-byte message text (limit ${max})`);
    if (!q.has(4 + len)) return null;
    q.skip(4);
    return new TextDecoder("utf-8").decode(q.readBytes(len));
  }

  #serverInit(): boolean {
    const q = this.#q;
    if (!q.has(24)) return false;
    const nameLength = q.peekU32(20);
    if (nameLength > Limits.maxDesktopName)
      throw new ProtocolError("limit", `the desktop name is ${nameLength} bytes (limit ${Limits.maxDesktopName})`);
    if (!q.has(24 + nameLength)) return false;
    const width = q.readU16();
    const height = q.readU16();
    this.#checkSize(width, height);
    this.#serverPixelFormat = parsePixelFormat(q.readBytes(PIXEL_FORMAT_LENGTH));
    q.skip(4);
    this.#serverInitName = new TextDecoder("utf-8").decode(q.readBytes(nameLength));
    this.framebuffer.resize(width, height);
    this.#state = "normal";

    this.#send(msg.setPixelFormat(this.#pixelFormat));
    const encodings = this.#encodings(this.#options.encodings ?? DEFAULT_ENCODINGS, true);
    this.#send(msg.setEncodings(encodings));
    this.#send(msg.framebufferUpdateRequest(false, 0, 0, width, height));
    const host: ExtensionHost = {
      send: (data) => {
        if (this.#state !== "closed") this.#send(data);
      },
      framebuffer: this.framebuffer,
      acknowledged: (encoding) => this.#acknowledged.has(encoding),
    };
    for (const ext of this.#options.extensions ?? []) {
      ext.attach?.(host);
      ext.encodingsSent?.(encodings);
    }
    this.#handler.connected?.({
      version: this.#version,
      width,
      height,
      name: this.#serverInitName,
      serverPixelFormat: this.#serverPixelFormat,
    });
    return true;
  }

  /** `base`, then (if asked) every extension's pseudo-encodings not listed yet. */
  #encodings(base: readonly number[], withExtensions: boolean): number[] {
    const list = [...base];
    if (!withExtensions) return list;
    for (const ext of this.#options.extensions ?? [])
      for (const e of [...(ext.pseudoEncodings ?? []), ...(ext.advertisedEncodings ?? [])])
        if (!list.includes(e)) list.push(e);
    return list;
  }

  #checkSize(width: number, height: number): void {
    const max = Limits.maxFramebufferSide;
    if (width > max || height > max)
      throw new ProtocolError("limit", `the server's desktop is ${width}×${height}, larger than ${max}×${max}`);
  }

  #normal(): boolean {
    if (this.#update) return this.#continueUpdate();
    const q = this.#q;
    if (!q.has(1)) return false;
    const type = q.peekU8();
    // An extension may take over a built-in message (ExtendedClipboard extends ServerCutText).
    const claimed = type !== ServerMessage.FramebufferUpdate ? this.#byMessageType.get(type) : undefined;
    if (claimed?.message) return claimed.message(q);
    switch (type) {
      case ServerMessage.FramebufferUpdate: {
        if (!q.has(4)) return false;
        q.skip(2);
        const n = q.readU16();
        // 0xFFFF with LastRect means "until a LastRect rectangle" (rfbproto LastRect).
        this.#update = { remaining: n === 0xffff ? -1 : n, rect: null };
        return true;
      }
      case ServerMessage.SetColourMapEntries: {
        if (!q.has(6)) return false;
        const first = q.peekU16(2);
        const count = q.peekU16(4);
        if (first + count > 256)
          throw new ProtocolError("malformed", `colour map entries ${first}–${first + count - 1} are beyond 255`);
        if (!q.has(6 + count * 6)) return false;
        q.skip(6);
        const rgb = new Uint16Array(count * 3);
        for (let i = 0; i < rgb.length; i++) rgb[i] = q.readU16();
        this.#converter.setColourMapEntries(first, rgb);
        return true;
      }
      case ServerMessage.Bell:
        q.skip(1);
        this.#handler.bell?.();
        return true;
      case ServerMessage.ServerCutText: {
        if (!q.has(8)) return false;
        const len = q.peekS32(4);
        if (len < 0)
          throw new ProtocolError("malformed", "the server sent extended clipboard data without negotiating it");
        if (len > Limits.maxCutText)
          throw new ProtocolError("limit", `the server's clipboard text is ${len} bytes (limit ${Limits.maxCutText})`);
        if (!q.has(8 + len)) return false;
        q.skip(8);
        // RFC 6143 §7.6.4: ISO 8859-1 with "\n" line ends.
        this.#handler.serverCutText?.(latin1(q.readBytes(len)));
        return true;
      }
      case ServerMessage.QEMU: {
        if (!q.has(2)) return false;
        const subtype = q.peekU8(1);
        const ext = this.#byQemuSubtype.get(subtype);
        if (!ext?.message)
          throw new ProtocolError(
            "malformed",
            `the server sent QEMU message sub-type ${subtype}, which this client did not enable`,
          );
        return ext.message(q);
      }
      default: {
        const ext = this.#byMessageType.get(type);
        if (!ext?.message)
          throw new ProtocolError("malformed", `the server sent message type ${type}, which this client does not know`);
        return ext.message(q);
      }
    }
  }

  #continueUpdate(): boolean {
    const update = this.#update;
    if (!update) return false;
    const q = this.#q;
    if (!update.rect) {
      if (update.remaining === 0) return this.#finishUpdate();
      if (!q.has(12)) return false;
      const rect: Rect = {
        x: q.readU16(),
        y: q.readU16(),
        width: q.readU16(),
        height: q.readU16(),
        encoding: q.readS32(),
      };
      if (update.remaining > 0) update.remaining--;
      if (rect.encoding === Encoding.LastRect) return this.#finishUpdate();
      update.rect = rect;
    }
    const rect = update.rect;
    if (!this.#rect(rect)) return false;
    update.rect = null;
    this.#handler.rectDecoded?.(rect);
    return true;
  }

  #finishUpdate(): boolean {
    this.#update = null;
    this.#handler.updateComplete?.();
    const paused = (this.#options.extensions ?? []).some((ext) => ext.pausesUpdateRequests?.() === true);
    if (this.#options.requestUpdates !== false && !paused) {
      const fb = this.framebuffer;
      this.#send(msg.framebufferUpdateRequest(true, 0, 0, fb.width, fb.height));
    }
    return true;
  }

  /** Decodes (or continues) one rectangle; false when more bytes are needed. */
  #rect(rect: Rect): boolean {
    const q = this.#q;
    switch (rect.encoding) {
      case Encoding.DesktopSize:
        this.#resize(rect.width, rect.height);
        return true;
      case Encoding.ExtendedDesktopSize: {
        if (!q.has(4)) return false;
        const count = q.peekU8();
        if (!q.has(4 + 16 * count)) return false;
        q.skip(4);
        const screens: msg.Screen[] = [];
        for (let i = 0; i < count; i++)
          screens.push({
            id: q.readU32(),
            x: q.readU16(),
            y: q.readU16(),
            width: q.readU16(),
            height: q.readU16(),
            flags: q.readU32(),
          });
        this.#extendedDesktopSize = true;
        // x is the reason (0 server, 1 this client, 2 another client) and y the status of
        // a client's request; a failed request changes nothing.
        const reason = rect.x === 1 ? "client" : rect.x === 2 ? "other-client" : "server";
        if (!(reason === "client" && rect.y !== 0)) this.#resize(rect.width, rect.height);
        this.#handler.desktopLayout?.({ reason, status: rect.y, width: rect.width, height: rect.height, screens });
        return true;
      }
      case Encoding.DesktopName: {
        const name = this.#readString(Limits.maxDesktopName);
        if (name === null) return false;
        this.#handler.desktopName?.(name);
        return true;
      }
      case Encoding.Cursor:
        return this.#cursor(rect);
      case Encoding.CursorWithAlpha:
        return this.#cursorWithAlpha(rect);
      case Encoding.ExtendedMouseButtons:
        // An empty rectangle: the server takes the extended PointerEvent from now on.
        this.#acknowledged.add(rect.encoding);
        return true;
      case Encoding.VMwareDisplayModeChange: {
        // QEMU's WMVi: from now on rectangles come in the pixel format that follows (QEMU
        // switches to its own), at the size given. Decoding in that format is exact and
        // race-free; asking for ours back with SetPixelFormat would race updates in flight.
        if (!q.has(PIXEL_FORMAT_LENGTH)) return false;
        const pf = parsePixelFormat(q.readBytes(PIXEL_FORMAT_LENGTH));
        this.#pixelFormat = pf;
        this.#converter = new PixelConverter(pf);
        if (rect.width !== this.framebuffer.width || rect.height !== this.framebuffer.height)
          this.#resize(rect.width, rect.height);
        return true;
      }
      default: {
        const ext = this.#byPseudoEncoding.get(rect.encoding);
        if (ext?.rect) {
          if (!ext.rect(q, rect)) return false;
          this.#acknowledged.add(rect.encoding);
          return true;
        }
      }
    }
    const decoder = this.#decoderFor(rect.encoding);
    const fb = this.framebuffer;
    if (rect.x + rect.width > fb.width || rect.y + rect.height > fb.height)
      throw new ProtocolError(
        "malformed",
        `a ${rect.width}×${rect.height} rectangle at ${rect.x},${rect.y} lies outside the ${fb.width}×${fb.height} desktop`,
      );
    return decoder.decode(q, rect, this);
  }

  #resize(width: number, height: number): void {
    this.#checkSize(width, height);
    // Servers announce their size again unchanged (TigerVNC after SetEncodings): keep the
    // picture rather than blacking it out until the next update.
    if (width === this.framebuffer.width && height === this.framebuffer.height) return;
    this.framebuffer.resize(width, height);
    this.#handler.resized?.(width, height);
  }

  /** The size and hot spot checks both cursor pseudo-encodings need before any read. */
  #checkCursor(rect: Rect): void {
    const { width: w, height: h } = rect;
    const max = Limits.maxCursorSide;
    if (w > max || h > max) throw new ProtocolError("limit", `the cursor is ${w}×${h}, larger than ${max}×${max}`);
    if (rect.x >= Math.max(w, 1) || rect.y >= Math.max(h, 1))
      throw new ProtocolError(
        "malformed",
        `the cursor's hot spot ${rect.x},${rect.y} lies outside its ${w}×${h} image`,
      );
  }

  #cursor(rect: Rect): boolean {
    this.#checkCursor(rect);
    const { width: w, height: h } = rect;
    const bpp = this.#converter.bytesPerPixel;
    const maskStride = (w + 7) >> 3;
    const size = w * h * bpp + maskStride * h;
    const q = this.#q;
    if (!q.has(size)) return false;
    const data = q.readBytes(size);
    const pixels = new Uint32Array(w * h);
    this.#converter.convert(data, 0, pixels, 0, w * h);
    const mask = w * h * bpp;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const bit = ((data[mask + y * maskStride + (x >> 3)] ?? 0) >> (7 - (x & 7))) & 1;
        if (!bit) pixels[y * w + x] = 0;
      }
    this.#handler.cursor?.({ width: w, height: h, hotX: rect.x, hotY: rect.y, pixels });
    return true;
  }

  /**
   * Cursor With Alpha (rfbproto): S32 encoding, then the pixels in that encoding as bytes
   * R, G, B, A with premultiplied alpha. TigerVNC and QEMU send Raw, the one inner encoding
   * supported here (another would need decoders that keep the alpha channel).
   */
  #cursorWithAlpha(rect: Rect): boolean {
    this.#checkCursor(rect);
    const { width: w, height: h } = rect;
    const q = this.#q;
    if (!q.has(4)) return false;
    const encoding = q.peekS32();
    if (encoding !== Encoding.Raw)
      throw new ProtocolError("unsupported", `the server sent an alpha cursor in ${encodingName(encoding)}, not raw`);
    if (!q.has(4 + w * h * 4)) return false;
    q.skip(4);
    const data = q.readBytes(w * h * 4);
    const pixels = new Uint32Array(w * h);
    for (let i = 0, o = 0; i < pixels.length; i++, o += 4) {
      const a = data[o + 3] ?? 0;
      if (a === 0) continue;
      // Undo the premultiplication, clamping channels a broken server made larger than alpha.
      const un = (c: number) => Math.min(255, Math.round((c * 255) / a));
      pixels[i] = ((a << 24) | (un(data[o] ?? 0) << 16) | (un(data[o + 1] ?? 0) << 8) | un(data[o + 2] ?? 0)) >>> 0;
    }
    this.#handler.cursor?.({ width: w, height: h, hotX: rect.x, hotY: rect.y, pixels });
    return true;
  }

  #decoderFor(encoding: number): RectDecoder {
    const existing = this.#decoders.get(encoding);
    if (existing) return existing;
    const created = createDecoder(encoding);
    if (!created)
      throw new ProtocolError("malformed", `the server used encoding ${encoding}, which this client cannot decode`);
    this.#decoders.set(encoding, created);
    return created;
  }
}

function createDecoder(encoding: number): RectDecoder | null {
  switch (encoding) {
    case Encoding.Raw:
      return new RawDecoder();
    case Encoding.CopyRect:
      return new CopyRectDecoder();
    case Encoding.RRE:
      return new RREDecoder();
    case Encoding.CoRRE:
      return new CoRREDecoder();
    case Encoding.Hextile:
      return new HextileDecoder();
    case Encoding.Zlib:
      return new ZlibDecoder();
    case Encoding.ZRLE:
      return new ZRLEDecoder();
    case Encoding.Tight:
      return new TightDecoder();
    case Encoding.TightPNG:
      return new TightPNGDecoder();
    default:
      return null;
  }
}

/** ISO 8859-1 bytes as a string, in slices: spreading 16 MiB into one call overflows the stack. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}

const BUILTIN_SECURITY: Readonly<Record<number, () => SecurityHandshake>> = {
  [SecurityType.None]: () => new NoneHandshake(),
  [SecurityType.VncAuth]: () => new VncAuthHandshake(),
};

/** The lower-case name of a real encoding (as porthole-capture takes it), else its number. */
export function encodingName(encoding: number): string {
  return Object.keys(ENCODINGS_BY_NAME).find((name) => ENCODINGS_BY_NAME[name] === encoding) ?? String(encoding);
}
