// The server-to-client half of RFB, framed but not decoded: where each message ends, and
// nothing else. A proxy that must place messages of its own between the server's (the
// gateway puts RFB Streams messages there, spec §6: "RFB messages are atomic") needs to
// know every boundary, which RFB does not mark: a FramebufferUpdate's length follows only
// from its rectangles' encodings. Decoding them into a throwaway framebuffer would tell
// the length too, at the cost of inflating and drawing every pixel; this framer instead
// reads only the headers each encoding defines and skips the rest by count:
//
//   Raw         width × height × bytes-per-pixel                     (RFC 6143 §7.7.1)
//   CopyRect    4                                                    (§7.7.2)
//   RRE, CoRRE  U32 count, a pixel, count × (pixel + 4 U16 or U8)    (§7.7.3, rfbproto)
//   Hextile     per 16×16 tile: a mask byte; raw pixels, or optional background and
//               foreground pixels and optional U8 count of subrectangles (§7.7.4)
//   Zlib, ZRLE  U32 length, then that many bytes (rfbproto; §7.7.6); ZYWRLE is ZRLE's
//               framing with lossy pixels
//   Tight       control byte; fill: a TPIXEL; JPEG (and PNG in Tight PNG): a compact
//               length and the file; basic: optional filter byte, palette, then the data
//               as is under 12 bytes, else a compact length and zlib data (rfbproto)
//   pseudo      DesktopSize, LastRect, QEMU's acks: nothing; Cursor: pixels and a mask;
//               XCursor: two colours and two masks; Cursor With Alpha: S32 encoding (Raw)
//               and RGBA pixels; DesktopName: U32 length and text; ExtendedDesktopSize:
//               U8 count, 3 padding, 16 per screen; QEMU LED state: 1; WMVi: a pixel
//               format that rectangles use from then on
//
// and the other messages: SetColourMapEntries 6 + 6n, Bell 1, ServerCutText 8 + |length|
// (negative for ExtendedClipboard), EndOfContinuousUpdates 1, ServerFence 9 + length (at
// most 64), xvp 4, QEMU audio (255/1) 4, or 8 + length for data.
//
// Sans-IO like the client: `feed()` takes whatever chunk the socket gave and returns the
// bytes it accepted with the offsets at which messages ended. Bulk data (pixels, zlib
// streams) is accepted as it arrives, so a proxy forwards a multi-megabyte update without
// holding it; only headers wait in the queue until they are whole (at most a Tight
// palette, 1 KiB). Bytes are accepted only once checked, so nothing the framer rejects
// (an encoding it does not know, an RFB Streams message from the upstream server) is
// ever handed on. Anything it cannot frame exactly is a ProtocolError, never a guess.

import { ByteQueue } from "../byte-queue.js";
import { Encoding, ServerMessage } from "../constants.js";
import { compactLengthSize, peekCompactLength } from "../decoders/tight.js";
import { ProtocolError } from "../errors.js";
import { PIXEL_FORMAT_LENGTH, parsePixelFormat, type PixelFormat } from "../pixel-format.js";

/** The XCursor pseudo-encoding (rfbproto): two RGB colours and two bitmasks. */
export const XCURSOR_ENCODING = -240;
/** ZYWRLE (rfbproto, number 17): ZRLE's framing over wavelet-filtered pixels; QEMU offers it. */
export const ZYWRLE_ENCODING = 17;
/** The QEMU audio server message's sub-type (255/1). */
const QEMU_AUDIO = 1;
/** QEMU audio server operations: 0 end, 1 begin, 2 data with a U32 length (ui/vnc.h). */
const AUDIO_DATA = 2;
/** rfbproto caps a fence's payload at 64 bytes. */
const MAX_FENCE_PAYLOAD = 64;
const HEXTILE_RAW = 1;
const HEXTILE_BACKGROUND = 2;
const HEXTILE_FOREGROUND = 4;
const HEXTILE_ANY_SUBRECTS = 8;
const HEXTILE_COLOURED = 16;
const TIGHT_FILL = 8;
const TIGHT_JPEG = 9;
const TIGHT_PNG = 10;
const TIGHT_EXPLICIT_FILTER = 0x40;
const TIGHT_FILTER_COPY = 0;
const TIGHT_FILTER_PALETTE = 1;
const TIGHT_FILTER_GRADIENT = 2;
/** Tight basic data shorter than this is sent as is (rfbproto). */
const TIGHT_MIN_TO_COMPRESS = 12;

/**
 * The encodings (real and pseudo) whose rectangles this framer can frame. A proxy lists
 * only these upstream, so that the server never sends a rectangle whose length is unknown.
 * Pseudo-encodings that never come as rectangles (quality and compression levels, Fence,
 * ContinuousUpdates, xvp, ExtendedClipboard) are in `framingNeutralEncodings`.
 */
export const FRAMED_ENCODINGS: ReadonlySet<number> = new Set<number>([
  Encoding.Raw,
  Encoding.CopyRect,
  Encoding.RRE,
  Encoding.CoRRE,
  Encoding.Hextile,
  Encoding.Zlib,
  Encoding.Tight,
  Encoding.ZRLE,
  ZYWRLE_ENCODING,
  Encoding.TightPNG,
  Encoding.DesktopSize,
  Encoding.LastRect,
  Encoding.Cursor,
  XCURSOR_ENCODING,
  Encoding.CursorWithAlpha,
  Encoding.DesktopName,
  Encoding.ExtendedDesktopSize,
  Encoding.ExtendedMouseButtons,
  Encoding.QEMUPointerMotionChange,
  Encoding.QEMUExtendedKeyEvent,
  Encoding.QEMUAudio,
  Encoding.QEMULedState,
  Encoding.VMwareDisplayModeChange,
]);

/** Whether listing `encoding` upstream can never bring a rectangle this framer cannot frame. */
export function isFramingSafe(encoding: number): boolean {
  if (FRAMED_ENCODINGS.has(encoding)) return true;
  // Announcements without rectangles of their own.
  if (encoding >= Encoding.JPEGQualityLevel0 && encoding <= Encoding.JPEGQualityLevel0 + 9) return true;
  if (encoding >= Encoding.CompressLevel0 && encoding <= Encoding.CompressLevel0 + 9) return true;
  return (
    encoding === Encoding.Fence ||
    encoding === Encoding.ContinuousUpdates ||
    encoding === Encoding.Xvp ||
    encoding === Encoding.ExtendedClipboard
  );
}

/** One complete server message: its type byte and where it ends in `FramedBytes.bytes`. */
export interface FramedMessage {
  readonly type: number;
  readonly end: number;
}

export interface FramedBytes {
  /** The accepted bytes, in order; a view valid until the next `feed()`. */
  readonly bytes: Uint8Array;
  /** The messages that ended within `bytes`, in order. */
  readonly messages: readonly FramedMessage[];
}

type State =
  /** Between messages: the next byte is a message type. */
  | "message"
  /** A message's last bytes were skipped: it is complete. */
  | "message-end"
  /** In a FramebufferUpdate, before a rectangle header (or its end). */
  | "rect-header"
  /** A rectangle's last bytes were skipped. */
  | "rect-end"
  | "length32"
  | "rre"
  | "hextile"
  | "tight"
  | "extended-desktop-size"
  | "alpha-cursor"
  | "wmvi";

const EMPTY = new Uint8Array(0);

export class ServerMessageFramer {
  #q = new ByteQueue();
  #state: State = "message";
  #failure: ProtocolError | null = null;
  #pf: PixelFormat;
  #bpp: number;
  #tpx: number;
  /** Bytes still to accept without looking at them, then `#afterSkip`. */
  #skip = 0;
  #afterSkip: State = "message";
  #type = 0;
  /** Rectangles left in the current update; -1 when it ends with a LastRect (0xFFFF). */
  #rects = 0;
  #rectWidth = 0;
  #rectHeight = 0;
  #encoding = 0;
  /** RRE (2) or CoRRE (1) coordinate size. */
  #coordBytes = 2;
  /** The next Hextile tile's corner within its rectangle. */
  #tileX = 0;
  #tileY = 0;
  #messages: FramedMessage[] = [];
  #start = 0;
  #extendedMouseButtons = false;
  #updates = 0;

  /** @param pixelFormat the format rectangles arrive in: ServerInit's, until the client sets its own. */
  constructor(pixelFormat: PixelFormat) {
    this.#pf = pixelFormat;
    this.#bpp = pixelFormat.bitsPerPixel / 8;
    this.#tpx = tpixelSize(pixelFormat);
  }

  /** The pixel format the next rectangles are framed in. */
  get pixelFormat(): PixelFormat {
    return this.#pf;
  }

  /**
   * True when the bytes accepted so far end with a whole message: what is inserted now
   * lands between two messages. (The start of the next one may be held back meanwhile.)
   */
  get atBoundary(): boolean {
    return this.#state === "message" && this.#skip === 0 && this.#failure === null;
  }

  /** Whether the server acknowledged ExtendedMouseButtons (-316): PointerEvents may be 7 bytes. */
  get extendedMouseButtons(): boolean {
    return this.#extendedMouseButtons;
  }

  /** FramebufferUpdates begun so far. */
  get updates(): number {
    return this.#updates;
  }

  /** Bytes accepted since the start. */
  get consumed(): number {
    return this.#q.consumed;
  }

  /** Bytes received and held back until a header is whole. */
  get held(): number {
    return this.#q.length;
  }

  /**
   * The client's SetPixelFormat, as it is passed on to the server: rectangles that follow
   * use it (RFC 6143 §7.5.1), which is also when a client starts decoding in it.
   */
  setPixelFormat(pf: PixelFormat): void {
    this.#pf = pf;
    this.#bpp = pf.bitsPerPixel / 8;
    this.#tpx = tpixelSize(pf);
  }

  /**
   * Takes the next chunk of the server's stream; returns the bytes now known to belong to
   * well-formed messages, and where messages ended among them. Throws a ProtocolError on
   * anything it cannot frame; the error sticks.
   */
  feed(chunk: Uint8Array): FramedBytes {
    if (this.#failure) throw this.#failure;
    try {
      this.#q.push(chunk);
      const q = this.#q;
      // A view of everything queued: consuming moves the queue's start but overwrites
      // nothing, so the accepted bytes are a prefix of it until the next push.
      const all = q.length > 0 ? q.peekBytes(q.length) : EMPTY;
      this.#start = q.consumed;
      this.#messages = [];
      this.#run();
      return { bytes: all.subarray(0, q.consumed - this.#start), messages: this.#messages };
    } catch (e) {
      this.#failure =
        e instanceof ProtocolError
          ? e
          : new ProtocolError("malformed", `internal error while framing the server's data: ${String(e)}`);
      throw this.#failure;
    }
  }

  #run(): void {
    const q = this.#q;
    for (;;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, q.length);
        if (n === 0) return;
        q.skip(n);
        this.#skip -= n;
        if (this.#skip > 0) return;
        this.#state = this.#afterSkip;
      }
      if (!this.#step()) return;
    }
  }

  /** Accepts `n` more bytes of the current unit, then continues in `next`. */
  #skipThen(n: number, next: State): true {
    this.#skip = n;
    this.#afterSkip = next;
    if (n === 0) this.#state = next;
    return true;
  }

  #endMessage(): void {
    this.#messages.push({ type: this.#type, end: this.#q.consumed - this.#start });
    this.#state = "message";
  }

  /** One step; false when it needs more bytes. */
  #step(): boolean {
    const q = this.#q;
    switch (this.#state) {
      case "message":
        return this.#message();
      case "message-end":
        this.#endMessage();
        return true;
      case "rect-header":
        return this.#rectHeader();
      case "rect-end":
        this.#state = "rect-header";
        return true;
      case "length32":
        if (!q.has(4)) return false;
        return this.#skipThen(4 + q.peekU32(), "rect-end");
      case "rre": {
        if (!q.has(4)) return false;
        const count = q.peekU32();
        return this.#skipThen(4 + this.#bpp + count * (this.#bpp + 4 * this.#coordBytes), "rect-end");
      }
      case "hextile":
        return this.#hextile();
      case "tight":
        return this.#tight();
      case "extended-desktop-size":
        if (!q.has(1)) return false;
        return this.#skipThen(4 + 16 * q.peekU8(), "rect-end");
      case "alpha-cursor": {
        if (!q.has(4)) return false;
        const inner = q.peekS32();
        // rfbproto lets the pixels come in any encoding; servers (QEMU, TigerVNC) send Raw,
        // the one Porthole's client decodes, and the one framed here.
        if (inner !== Encoding.Raw)
          throw new ProtocolError(
            "unsupported",
            `the server sent an alpha cursor in encoding ${inner}; only raw ones can be framed`,
          );
        return this.#skipThen(4 + this.#rectWidth * this.#rectHeight * 4, "rect-end");
      }
      case "wmvi": {
        if (!q.has(PIXEL_FORMAT_LENGTH)) return false;
        // QEMU's WMVi: the rectangles after it come in this format.
        this.setPixelFormat(parsePixelFormat(q.peekBytes(PIXEL_FORMAT_LENGTH)));
        q.skip(PIXEL_FORMAT_LENGTH);
        this.#state = "rect-header";
        return true;
      }
    }
  }

  #message(): boolean {
    const q = this.#q;
    if (!q.has(1)) return false;
    const type = q.peekU8();
    this.#type = type;
    switch (type) {
      case ServerMessage.FramebufferUpdate: {
        if (!q.has(4)) return false;
        const n = q.peekU16(2);
        q.skip(4);
        // 0xFFFF: as many rectangles as come before a LastRect (rfbproto LastRect).
        this.#rects = n === 0xffff ? -1 : n;
        this.#updates++;
        this.#state = "rect-header";
        return true;
      }
      case ServerMessage.SetColourMapEntries:
        if (!q.has(6)) return false;
        return this.#skipThen(6 + 6 * q.peekU16(4), "message-end");
      case ServerMessage.Bell:
      case ServerMessage.EndOfContinuousUpdates:
        return this.#skipThen(1, "message-end");
      case ServerMessage.ServerCutText:
        if (!q.has(8)) return false;
        // A negative length is ExtendedClipboard's: |length| bytes of flags and data.
        return this.#skipThen(8 + Math.abs(q.peekS32(4)), "message-end");
      case ServerMessage.ServerFence: {
        if (!q.has(9)) return false;
        const length = q.peekU8(8);
        if (length > MAX_FENCE_PAYLOAD)
          throw new ProtocolError("malformed", `the server sent a fence with ${length} bytes of payload (at most 64)`);
        return this.#skipThen(9 + length, "message-end");
      }
      case ServerMessage.Xvp:
        return this.#skipThen(4, "message-end");
      case ServerMessage.QEMU: {
        if (!q.has(2)) return false;
        const subtype = q.peekU8(1);
        if (subtype !== QEMU_AUDIO)
          throw new ProtocolError(
            subtype === 2 ? "malformed" : "unsupported",
            subtype === 2
              ? "the server sent an RFB Streams message, although it was never offered -262"
              : `the server sent QEMU message sub-type ${subtype}, which cannot be framed`,
          );
        if (!q.has(4)) return false;
        const op = q.peekU16(2);
        if (op < AUDIO_DATA) return this.#skipThen(4, "message-end");
        if (op > AUDIO_DATA) throw new ProtocolError("malformed", `the server sent QEMU audio operation ${op}`);
        if (!q.has(8)) return false;
        return this.#skipThen(8 + q.peekU32(4), "message-end");
      }
      default:
        throw new ProtocolError("unsupported", `the server sent message type ${type}, which cannot be framed`);
    }
  }

  #rectHeader(): boolean {
    const q = this.#q;
    if (this.#rects === 0) {
      this.#endMessage();
      return true;
    }
    if (!q.has(12)) return false;
    const w = q.peekU16(4);
    const h = q.peekU16(6);
    const encoding = q.peekS32(8);
    if (encoding === Encoding.Streams)
      throw new ProtocolError("malformed", "the server acknowledged RFB Streams, although it was never offered -262");
    if (!FRAMED_ENCODINGS.has(encoding))
      throw new ProtocolError(
        "unsupported",
        `the server sent a rectangle in encoding ${encoding}, which cannot be framed`,
      );
    q.skip(12);
    if (this.#rects > 0) this.#rects--;
    this.#rectWidth = w;
    this.#rectHeight = h;
    this.#encoding = encoding;
    const bpp = this.#bpp;
    switch (encoding) {
      case Encoding.LastRect:
        // The update ends here, whatever its count said (as the client reads it).
        this.#endMessage();
        return true;
      case Encoding.Raw:
        return this.#skipThen(w * h * bpp, "rect-end");
      case Encoding.CopyRect:
        return this.#skipThen(4, "rect-end");
      case Encoding.RRE:
      case Encoding.CoRRE:
        this.#coordBytes = encoding === Encoding.RRE ? 2 : 1;
        this.#state = "rre";
        return true;
      case Encoding.Hextile:
        this.#tileX = 0;
        this.#tileY = 0;
        this.#state = w === 0 || h === 0 ? "rect-header" : "hextile";
        return true;
      case Encoding.Zlib:
      case Encoding.ZRLE:
      case ZYWRLE_ENCODING:
      case Encoding.DesktopName:
        this.#state = "length32";
        return true;
      case Encoding.Tight:
      case Encoding.TightPNG:
        this.#state = "tight";
        return true;
      case Encoding.Cursor:
        return this.#skipThen(w * h * bpp + ((w + 7) >> 3) * h, "rect-end");
      case XCURSOR_ENCODING:
        return this.#skipThen(w * h > 0 ? 6 + 2 * ((w + 7) >> 3) * h : 0, "rect-end");
      case Encoding.CursorWithAlpha:
        this.#state = "alpha-cursor";
        return true;
      case Encoding.ExtendedDesktopSize:
        this.#state = "extended-desktop-size";
        return true;
      case Encoding.QEMULedState:
        return this.#skipThen(1, "rect-end");
      case Encoding.VMwareDisplayModeChange:
        this.#state = "wmvi";
        return true;
      case Encoding.ExtendedMouseButtons:
        this.#extendedMouseButtons = true;
        this.#state = "rect-header";
        return true;
      default:
        // DesktopSize and QEMU's acknowledgements: a header and nothing more.
        this.#state = "rect-header";
        return true;
    }
  }

  #hextile(): boolean {
    const q = this.#q;
    const w = this.#rectWidth;
    const h = this.#rectHeight;
    const bpp = this.#bpp;
    while (this.#tileY < h) {
      if (!q.has(1)) return false;
      const tw = Math.min(16, w - this.#tileX);
      const th = Math.min(16, h - this.#tileY);
      const mask = q.peekU8();
      let size: number;
      if (mask & HEXTILE_RAW) {
        size = 1 + tw * th * bpp;
      } else {
        size = 1;
        if (mask & HEXTILE_BACKGROUND) size += bpp;
        if (mask & HEXTILE_FOREGROUND) size += bpp;
        if (mask & HEXTILE_ANY_SUBRECTS) {
          if (!q.has(size + 1)) return false;
          const count = q.peekU8(size);
          size += 1 + count * (mask & HEXTILE_COLOURED ? bpp + 2 : 2);
        }
      }
      this.#tileX += 16;
      if (this.#tileX >= w) {
        this.#tileX = 0;
        this.#tileY += 16;
      }
      const last = this.#tileY >= h;
      if (!q.has(size)) return this.#skipThen(size, last ? "rect-header" : "hextile");
      q.skip(size);
    }
    this.#state = "rect-header";
    return true;
  }

  #tight(): boolean {
    const q = this.#q;
    if (!q.has(1)) return false;
    const control = q.peekU8();
    const method = control >> 4;
    const png = this.#encoding === Encoding.TightPNG;
    if (method === TIGHT_FILL) return this.#skipThen(1 + this.#tpx, "rect-end");
    if (method === TIGHT_JPEG || (png && method === TIGHT_PNG)) {
      const size = compactLengthSize(q, 1);
      if (size === 0) return false;
      return this.#skipThen(1 + size + peekCompactLength(q, 1, size), "rect-end");
    }
    // Tight PNG has no basic compression; Tight has no method above JPEG.
    if (png || method > TIGHT_JPEG)
      throw new ProtocolError(
        "malformed",
        `${png ? "Tight PNG" : "Tight"} compression method ${method} is not defined`,
      );
    let at = 1;
    let filter = TIGHT_FILTER_COPY;
    if (control & TIGHT_EXPLICIT_FILTER) {
      if (!q.has(2)) return false;
      filter = q.peekU8(1);
      at = 2;
    }
    let colours = 0;
    if (filter === TIGHT_FILTER_PALETTE) {
      if (!q.has(at + 1)) return false;
      colours = q.peekU8(at) + 1;
      if (colours < 2) throw new ProtocolError("malformed", "a Tight palette has a single colour");
      at += 1 + colours * this.#tpx;
    } else if (filter !== TIGHT_FILTER_COPY && filter !== TIGHT_FILTER_GRADIENT) {
      throw new ProtocolError("malformed", `Tight filter ${filter} is not defined`);
    }
    const w = this.#rectWidth;
    const rowBytes = colours === 0 ? w * this.#tpx : colours === 2 ? (w + 7) >> 3 : w;
    const size = rowBytes * this.#rectHeight;
    if (size < TIGHT_MIN_TO_COMPRESS) return this.#skipThen(at + size, "rect-end");
    const lengthSize = compactLengthSize(q, at);
    if (lengthSize === 0) return false;
    return this.#skipThen(at + lengthSize + peekCompactLength(q, at, lengthSize), "rect-end");
  }
}

/**
 * Bytes per Tight TPIXEL: 3 (R, G, B) for 32 bpp depth 24 true colour with 8-bit channels,
 * else a whole pixel (rfbproto; the same rule as the decoder's tpixelBytes).
 */
export function tpixelSize(pf: PixelFormat): number {
  const rgb24 =
    pf.trueColour &&
    pf.bitsPerPixel === 32 &&
    pf.depth === 24 &&
    pf.redMax === 255 &&
    pf.greenMax === 255 &&
    pf.blueMax === 255;
  return rgb24 ? 3 : pf.bitsPerPixel / 8;
}
