// Extended Clipboard (rfbproto "Extended Clipboard Pseudo-Encoding", 0xC0A1E5CE): UTF-8
// clipboard text in both directions, announced before it is transferred.
//
// The extension takes over ServerCutText (3), whose U32 length becomes an S32: a positive
// length is the classic message (Latin-1 text, LF line ends), a negative one means |length|
// bytes of extended message — a U32 of flags, then what the action needs:
//   bits 0–15  formats (0 text; rtf, html, dib, files are not used here)
//   bit 24 caps     followed by a U32 maximum unsolicited size per format bit set
//   bit 25 request  "provide these formats"            (nothing follows)
//   bit 26 peek     "notify me what you have"          (nothing follows)
//   bit 27 notify   "these formats are available"      (nothing follows)
//   bit 28 provide  followed by a zlib stream holding, per format bit in ascending order,
//                   a U32 size and that many bytes; text is UTF-8 with CRLF line ends and
//                   a terminating NUL counted in the size.
// The server sends caps whenever SetEncodings lists the pseudo-encoding; the client may send
// its own back. Each provide is a complete zlib stream of its own: QEMU ui/vnc-clipboard.c
// deflates every message with a fresh deflateInit()/Z_FINISH and inflates each one alike.
//
// How this client plays it, as QEMU and noVNC do: our caps accept text with request, peek,
// notify and provide, and advertise an unsolicited text size of 0 by default (rfbproto
// recommends 0 so that every change arrives as a notify); a notify of text is answered with
// a request, whose provide is then reported. Our own clipboard goes out as a notify when the
// server takes notifies (QEMU's caps: text, size 0, caps|request|notify|provide), and its
// text as a provide when the server requests it — QEMU accepts a provide only after our
// notify made us the clipboard's owner. A server without the extension gets a classic
// Latin-1 ClientCutText.

import type { ByteQueue } from "../byte-queue.js";
import { ClientMessage, Encoding, Limits, ServerMessage } from "../constants.js";
import { ProtocolError } from "../errors.js";
import type { Extension, ExtensionHost } from "../extension.js";
import { InflateStream } from "../inflate.js";
import * as msg from "../messages.js";

export const ClipboardFlag = {
  Text: 1 << 0,
  Caps: 1 << 24,
  Request: 1 << 25,
  Peek: 1 << 26,
  Notify: 1 << 27,
  Provide: 1 << 28,
} as const;

const FORMAT_BITS = 0xffff;
const OUR_ACTIONS = ClipboardFlag.Request | ClipboardFlag.Peek | ClipboardFlag.Notify | ClipboardFlag.Provide;

/** The most clipboard text accepted, compressed or inflated (as for classic cut text). */
export const MAX_CLIPBOARD_BYTES = Limits.maxCutText;
/**
 * The largest client cut text message payload sent: QEMU ui/vnc.c drops a client whose
 * ClientCutText announces more than 1 MiB ("exceeds our limit of 1MB"), classic or extended.
 */
export const MAX_OUTGOING_BYTES = 1024 * 1024;

export type ClipboardEncoding = "utf-8" | "latin-1";

/** What the clipboard extension tells its owner. */
export interface ExtendedClipboardListener {
  /** The server sent its extended clipboard caps: UTF-8 text works in both directions. */
  extendedClipboardAvailable?(): void;
  /** The server's clipboard text, line ends as "\n". */
  clipboardText?(text: string, encoding: ClipboardEncoding): void;
}

export interface ExtendedClipboardOptions {
  /**
   * The text size the server may send without being asked, in our caps. rfbproto recommends
   * 0 (every change then comes as a notify, which this client answers with a request).
   */
  readonly maxUnsolicitedText?: number;
}

interface ServerCaps {
  readonly actions: number;
  readonly formats: number;
  /** The largest text the server takes unsolicited (0 when it lists no text). */
  readonly textLimit: number;
}

/** One extended ClientCutText: type 6, 3 padding, S32 −(4 + body), U32 flags, body. */
function extendedCutText(flags: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(12 + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, ClientMessage.ClientCutText);
  view.setInt32(4, -(4 + body.length));
  view.setUint32(8, flags >>> 0);
  bytes.set(body, 12);
  return bytes;
}

/** Our caps: text with the given unsolicited size, and every action we handle. */
export function clipboardCaps(maxUnsolicitedText: number): Uint8Array {
  const size = new Uint8Array(4);
  new DataView(size.buffer).setUint32(0, maxUnsolicitedText);
  return extendedCutText(ClipboardFlag.Caps | OUR_ACTIONS | ClipboardFlag.Text, size);
}

export function clipboardRequestText(): Uint8Array {
  return extendedCutText(ClipboardFlag.Request | ClipboardFlag.Text);
}

export function clipboardNotify(hasText: boolean): Uint8Array {
  return extendedCutText(ClipboardFlag.Notify | (hasText ? ClipboardFlag.Text : 0));
}

/** A provide of text already encoded by `encodeClipboardText`. */
export function clipboardProvideText(encoded: Uint8Array): Uint8Array {
  const plain = new Uint8Array(4 + encoded.length);
  new DataView(plain.buffer).setUint32(0, encoded.length);
  plain.set(encoded, 4);
  return extendedCutText(ClipboardFlag.Provide | ClipboardFlag.Text, zlibStored(plain));
}

/** rfbproto's text format: UTF-8, CRLF line ends, a terminating NUL. */
export function encodeClipboardText(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text.replace(/\r\n/g, "\n").replace(/\n/g, "\r\n"));
  const out = new Uint8Array(utf8.length + 1);
  out.set(utf8);
  return out;
}

/** The inverse: up to the first NUL (rfbproto's terminator), CRLF to LF, bad UTF-8 replaced. */
export function decodeClipboardText(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  const text = new TextDecoder("utf-8").decode(nul < 0 ? bytes : bytes.subarray(0, nul));
  return text.replace(/\r\n/g, "\n");
}

/** ISO 8859-1 is the first 256 code points; chunked so huge texts do not overflow the stack. */
function decodeLatin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text.replace(/\r\n/g, "\n");
}

/**
 * A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4): no compressor is
 * needed for a message that goes out once, and every inflater reads stored blocks.
 */
export function zlibStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 0xffff));
  const out = new Uint8Array(2 + 5 * blocks + data.length + 4);
  const view = new DataView(out.buffer);
  // CMF 0x78: deflate with a 32 KiB window; FLG 0x01 makes CMF·256 + FLG a multiple of 31.
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const chunk = data.subarray(b * 0xffff, (b + 1) * 0xffff);
    // BFINAL on the last block, BTYPE 00 (stored); the rest of the byte pads to a boundary.
    out[at] = b === blocks - 1 ? 1 : 0;
    view.setUint16(at + 1, chunk.length, true);
    view.setUint16(at + 3, ~chunk.length & 0xffff, true);
    out.set(chunk, at + 5);
    at += 5 + chunk.length;
  }
  let a = 1;
  let s = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    s = (s + a) % 65521;
  }
  view.setUint32(at, ((s << 16) | a) >>> 0);
  return out;
}

/** Bits set in `n` (for the caps' size array). */
function bitCount(n: number): number {
  let count = 0;
  for (let v = n; v !== 0; v &= v - 1) count++;
  return count;
}

export class ExtendedClipboardExtension implements Extension {
  /** ServerCutText, whose negative lengths carry this extension's messages. */
  readonly advertisedEncodings: readonly number[] = [Encoding.ExtendedClipboard];
  readonly messageTypes: readonly number[] = [ServerMessage.ServerCutText];
  readonly #listener: ExtendedClipboardListener;
  readonly #maxUnsolicitedText: number;
  #host: ExtensionHost | null = null;
  #server: ServerCaps | null = null;
  /** Our clipboard, encoded for a provide, or null when we have announced nothing. */
  #ours: Uint8Array | null = null;

  constructor(listener: ExtendedClipboardListener = {}, options: ExtendedClipboardOptions = {}) {
    this.#listener = listener;
    const max = options.maxUnsolicitedText ?? 0;
    if (!Number.isInteger(max) || max < 0 || max > MAX_CLIPBOARD_BYTES)
      throw new ProtocolError("invalid-argument", `an unsolicited clipboard size of ${max} bytes is not allowed`);
    this.#maxUnsolicitedText = max;
  }

  /** Whether the server sent extended clipboard caps. */
  get available(): boolean {
    return this.#server !== null;
  }

  attach(host: ExtensionHost): void {
    this.#host = host;
  }

  detach(): void {
    this.#host = null;
    this.#server = null;
    this.#ours = null;
  }

  message(q: ByteQueue): boolean {
    if (!q.has(8)) return false;
    const length = q.peekS32(4);
    return length >= 0 ? this.#classic(q, length) : this.#extended(q, -length);
  }

  #classic(q: ByteQueue, length: number): boolean {
    if (length > MAX_CLIPBOARD_BYTES)
      throw new ProtocolError("limit", `the server's clipboard text is ${length} bytes (limit ${MAX_CLIPBOARD_BYTES})`);
    if (!q.has(8 + length)) return false;
    q.skip(8);
    // RFC 6143 §7.6.4: ISO 8859-1 with "\n" line ends.
    this.#listener.clipboardText?.(decodeLatin1(q.readBytes(length)), "latin-1");
    return true;
  }

  #extended(q: ByteQueue, length: number): boolean {
    if (length < 4)
      throw new ProtocolError(
        "malformed",
        `an extended clipboard message of ${length} bytes has no room for its flags`,
      );
    if (length > MAX_CLIPBOARD_BYTES)
      throw new ProtocolError(
        "limit",
        `the server's extended clipboard message is ${length} bytes (limit ${MAX_CLIPBOARD_BYTES})`,
      );
    if (!q.has(8 + length)) return false;
    q.skip(8);
    const flags = q.readU32();
    // Parsed before this call returns, so the queue's view needs no copy.
    const body = q.readBytes(length - 4);
    if (flags & ClipboardFlag.Caps) this.#caps(flags, body);
    else {
      // rfbproto allows one action per message; QEMU, reading several, goes in this order.
      if (flags & ClipboardFlag.Notify) this.#notified(flags);
      if (flags & ClipboardFlag.Provide) this.#provided(flags, body);
      if (flags & ClipboardFlag.Request) this.#requested(flags);
      if (flags & ClipboardFlag.Peek) this.#peeked();
    }
    return true;
  }

  #caps(flags: number, body: Uint8Array): void {
    const formats = flags & FORMAT_BITS;
    const count = bitCount(formats);
    if (body.length < 4 * count)
      throw new ProtocolError(
        "malformed",
        `the server's clipboard caps list ${count} formats but carry ${body.length} bytes of sizes`,
      );
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    // Text is bit 0, so when listed its size comes first.
    const textLimit = formats & ClipboardFlag.Text ? view.getUint32(0) : 0;
    const first = this.#server === null;
    this.#server = { actions: flags & ~FORMAT_BITS, formats, textLimit };
    this.#host?.send(clipboardCaps(this.#maxUnsolicitedText));
    if (first) this.#listener.extendedClipboardAvailable?.();
  }

  #serverTakes(action: number): boolean {
    const server = this.#server;
    return server !== null && (server.actions & action) !== 0 && (server.formats & ClipboardFlag.Text) !== 0;
  }

  #notified(flags: number): void {
    if (flags & ClipboardFlag.Text && this.#serverTakes(ClipboardFlag.Request))
      this.#host?.send(clipboardRequestText());
  }

  #provided(flags: number, body: Uint8Array): void {
    if (!(flags & ClipboardFlag.Text)) return;
    // A fresh stream per message, as the server compressed it (see the header).
    const data = new InflateStream("extended clipboard").inflateAll(body, MAX_CLIPBOARD_BYTES);
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    // Text is the lowest format bit, so its pair comes first.
    if (data.length < 4) throw new ProtocolError("malformed", "the server's clipboard data ends before its text size");
    const size = view.getUint32(0);
    if (size > data.length - 4)
      throw new ProtocolError(
        "malformed",
        `the server's clipboard text claims ${size} bytes but only ${data.length - 4} follow`,
      );
    this.#listener.clipboardText?.(decodeClipboardText(data.subarray(4, 4 + size)), "utf-8");
  }

  #requested(flags: number): void {
    if (flags & ClipboardFlag.Text && this.#ours && this.#serverTakes(ClipboardFlag.Provide))
      this.#host?.send(clipboardProvideText(this.#ours));
  }

  #peeked(): void {
    if (this.#serverTakes(ClipboardFlag.Notify)) this.#host?.send(clipboardNotify(this.#ours !== null));
  }

  /**
   * Offers our clipboard text to the server: a notify (the text follows when the server
   * asks), a provide when the server takes this much unsolicited, or classic Latin-1 cut
   * text (characters outside it become "?") when the server has no extended clipboard.
   * Returns false when not connected. Throws ProtocolError("limit") for text that would
   * make a message over 1 MiB, which QEMU disconnects for.
   */
  setClipboard(text: string): boolean {
    const host = this.#host;
    if (!host) return false;
    if (this.#server) {
      const encoded = encodeClipboardText(text);
      // The provide's zlib stream adds 5 bytes per 64 KiB block, 2 + 4 around, and the size.
      const provided = 4 + 6 + 4 + encoded.length + 5 * Math.ceil((encoded.length + 4) / 0xffff);
      if (provided > MAX_OUTGOING_BYTES)
        throw new ProtocolError(
          "limit",
          `the clipboard text is ${encoded.length} bytes, over the ${MAX_OUTGOING_BYTES} a server is sent`,
        );
      if (this.#serverTakes(ClipboardFlag.Notify)) {
        this.#ours = encoded;
        host.send(clipboardNotify(true));
        return true;
      }
      if (this.#serverTakes(ClipboardFlag.Provide) && encoded.length <= this.#server.textLimit) {
        this.#ours = encoded;
        host.send(clipboardProvideText(encoded));
        return true;
      }
    }
    const message = msg.clientCutText(text);
    if (message.length - 8 > MAX_OUTGOING_BYTES)
      throw new ProtocolError(
        "limit",
        `the clipboard text is ${message.length - 8} bytes, over the ${MAX_OUTGOING_BYTES} a server is sent`,
      );
    host.send(message);
    return true;
  }
}
