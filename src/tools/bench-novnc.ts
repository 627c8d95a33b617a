// `porthole-bench decode --engine novnc`: noVNC 1.7's own decoders (npm @novnc/novnc,
// exact-pinned) in the same runtime over the same recording, for comparison. Nothing of
// Porthole's protocol code runs here. The pieces around the decoders are:
//   - noVNC's real Websock (core/websock.js), attached to a stand-in channel whose
//     onmessage receives the recording in 64 KiB ArrayBuffers, as a browser WebSocket
//     would deliver it: the receive queue, its growth and compaction are noVNC's own;
//   - a transcription of the server-to-client half of core/rfb.js (handshake with
//     security None, ServerInit, the normal message loop, FramebufferUpdate with
//     LastRect, Cursor, DesktopSize, ExtendedDesktopSize, DesktopName), with the same
//     rQwait/rQshift calls, minus what a recording cannot use (sending, events, UI);
//   - a Display stand-in with what the decoders call (fillRect, copyImage, blitImage,
//     imageRect) drawing into memory instead of a canvas.
//
// Pixel order. A browser noVNC asks the server for R, G, B, X bytes (SetPixelFormat with
// red-shift 0) and hands them to a canvas as RGBA. The recordings were made by a client
// that asked for its own format (usually B, G, R, X). Decoders only move those bytes, so
// they decode it correctly except for which byte is red: the Display stand-in is told, per
// rectangle, whether the decoder's "RGBA" bytes are really R, G, B (Tight's TPIXELs, which
// are R, G, B whatever the format) or the pixel format's own byte order, and stores
// B, G, R, A (the canonical layout, and a browser canvas's own on little-endian hosts).
// Storing a rectangle in the format's own order is a row memcpy; converting R, G, B to it
// is a per-pixel swap, which a browser's putImageData does too (natively).

import "./novnc-shims.js";

import CopyRectDecoder from "@novnc/novnc/core/decoders/copyrect.js";
import HextileDecoder from "@novnc/novnc/core/decoders/hextile.js";
import JPEGDecoder from "@novnc/novnc/core/decoders/jpeg.js";
import RawDecoder from "@novnc/novnc/core/decoders/raw.js";
import RREDecoder from "@novnc/novnc/core/decoders/rre.js";
import TightDecoder from "@novnc/novnc/core/decoders/tight.js";
import TightPNGDecoder from "@novnc/novnc/core/decoders/tightpng.js";
import ZlibDecoder from "@novnc/novnc/core/decoders/zlib.js";
import ZRLEDecoder from "@novnc/novnc/core/decoders/zrle.js";
import { encodings } from "@novnc/novnc/core/encodings.js";
import Websock, { type RawChannel } from "@novnc/novnc/core/websock.js";
import GLib from "gi://GLib";

import { gdkImageDecoder } from "../platform/images.js";
import type { PixelFormat } from "../protocol/pixel-format.js";
import { type EngineResult, type PreparedEngine, sha256 } from "./bench-engine.js";
import type { RecordingInfo } from "./recording.js";

/** The chunk size Porthole's replay feeds its client with, so both see the same pieces. */
const CHUNK_SIZE = 65536;

function enc(name: string): number {
  const v = encodings[name];
  if (v === undefined) throw new Error(`noVNC's encodings.js has no ${name}`);
  return v;
}

const E = {
  raw: enc("encodingRaw"),
  copyRect: enc("encodingCopyRect"),
  rre: enc("encodingRRE"),
  hextile: enc("encodingHextile"),
  zlib: enc("encodingZlib"),
  tight: enc("encodingTight"),
  tightPNG: enc("encodingTightPNG"),
  zrle: enc("encodingZRLE"),
  jpeg: enc("encodingJPEG"),
  lastRect: enc("pseudoEncodingLastRect"),
  cursor: enc("pseudoEncodingCursor"),
  qemuKeys: enc("pseudoEncodingQEMUExtendedKeyEvent"),
  desktopName: enc("pseudoEncodingDesktopName"),
  desktopSize: enc("pseudoEncodingDesktopSize"),
  extendedDesktopSize: enc("pseudoEncodingExtendedDesktopSize"),
  mouseButtons: enc("pseudoEncodingExtendedMouseButtons"),
  qemuLeds: enc("pseudoEncodingQEMULedEvent"),
};

/**
 * Whether the pixel format puts R, G, B in bytes 0, 1, 2 (what noVNC asks for) or 2, 1, 0.
 * noVNC's decoders handle 32 bpp formats with 8-bit channels only.
 */
function pixelOrder(pf: PixelFormat): "rgb" | "bgr" {
  const eightBit = pf.redMax === 255 && pf.greenMax === 255 && pf.blueMax === 255;
  if (pf.bitsPerPixel !== 32 || pf.depth !== 24 || !pf.trueColour || !eightBit)
    throw new Error("noVNC's decoders need a 32 bpp, depth 24 true-colour pixel format with 8-bit channels");
  const byteOf = (shift: number): number => (pf.bigEndian ? 3 - shift / 8 : shift / 8);
  const r = byteOf(pf.redShift);
  const g = byteOf(pf.greenShift);
  const b = byteOf(pf.blueShift);
  if (r === 0 && g === 1 && b === 2) return "rgb";
  if (r === 2 && g === 1 && b === 0) return "bgr";
  throw new Error("noVNC's decoders need red, green and blue in bytes 0–2 of each pixel, in either order");
}

/** core/display.js's drawing calls, into memory (B, G, R, A per pixel). */
class MemoryDisplay implements NoVncDisplay {
  width = 0;
  height = 0;
  bytes = new Uint8Array(0);
  #words = new Uint32Array(0);
  /** The current rectangle's decoder hands over R, G, B bytes (else B, G, R). */
  rgb = false;

  /** As core/display.js: the kept area keeps its pixels, new area is (0, 0, 0, 0). */
  resize(width: number, height: number): void {
    if (width === this.width && height === this.height) return;
    const bytes = new Uint8Array(width * height * 4);
    const w = Math.min(width, this.width) * 4;
    for (let y = 0; y < Math.min(height, this.height); y++)
      bytes.set(this.bytes.subarray(y * this.width * 4, y * this.width * 4 + w), y * width * 4);
    this.bytes = bytes;
    this.#words = new Uint32Array(bytes.buffer);
    this.width = width;
    this.height = height;
  }

  fillRect(x: number, y: number, width: number, height: number, color: ArrayLike<number>): void {
    const c0 = color[0] ?? 0;
    const c1 = color[1] ?? 0;
    const c2 = color[2] ?? 0;
    const px = this.rgb
      ? (0xff000000 | (c0 << 16) | (c1 << 8) | c2) >>> 0
      : (0xff000000 | (c2 << 16) | (c1 << 8) | c0) >>> 0;
    const words = this.#words;
    const stride = this.width;
    for (let row = y; row < y + height; row++) words.fill(px, row * stride + x, row * stride + x + width);
  }

  copyImage(oldX: number, oldY: number, newX: number, newY: number, w: number, h: number): void {
    const words = this.#words;
    const stride = this.width;
    if (oldY < newY) {
      for (let r = h - 1; r >= 0; r--) {
        const from = (oldY + r) * stride + oldX;
        words.copyWithin((newY + r) * stride + newX, from, from + w);
      }
    } else {
      for (let r = 0; r < h; r++) {
        const from = (oldY + r) * stride + oldX;
        words.copyWithin((newY + r) * stride + newX, from, from + w);
      }
    }
  }

  blitImage(x: number, y: number, width: number, height: number, arr: Uint8Array, offset: number): void {
    const start = arr.byteOffset + offset;
    const rowBytes = width * 4;
    const stride = this.width;
    if (!this.rgb) {
      const bytes = this.bytes;
      for (let r = 0; r < height; r++)
        bytes.set(new Uint8Array(arr.buffer, start + r * rowBytes, rowBytes), ((y + r) * stride + x) * 4);
      return;
    }
    const words = this.#words;
    if (start % 4 === 0) {
      const src = new Uint32Array(arr.buffer, start, width * height);
      for (let r = 0, s = 0; r < height; r++) {
        let d = (y + r) * stride + x;
        for (const end = s + width; s < end; s++, d++) {
          const v = src[s] ?? 0;
          words[d] = (v & 0xff00ff00) | ((v & 0xff) << 16) | ((v >>> 16) & 0xff);
        }
      }
      return;
    }
    const src = new Uint8Array(arr.buffer, start, width * height * 4);
    for (let r = 0, s = 0; r < height; r++) {
      let d = (y + r) * stride + x;
      for (let i = 0; i < width; i++, s += 4, d++)
        words[d] = ((src[s + 3] ?? 0) << 24) | ((src[s] ?? 0) << 16) | ((src[s + 1] ?? 0) << 8) | (src[s + 2] ?? 0);
    }
  }

  /** A browser decodes JPEG/PNG natively; GdkPixbuf stands in for it. */
  imageRect(x: number, y: number, width: number, height: number, mime: string, arr: Uint8Array): void {
    if (width === 0 || height === 0) return;
    const image = mime === "image/png" ? gdkImageDecoder.decodePng(arr) : gdkImageDecoder.decodeJpeg(arr);
    if (image.width !== width || image.height !== height)
      throw new Error(`a ${width}×${height} rectangle holds a ${image.width}×${image.height} image`);
    for (let r = 0; r < height; r++)
      this.#words.set(image.pixels.subarray(r * width, (r + 1) * width), (y + r) * this.width + x);
  }

  /** Back to the state before any resize, keeping the allocation (see prepareNoVnc). */
  clear(): void {
    this.bytes.fill(0);
  }

  /** The canonical framebuffer: these bytes with A = 255. */
  canonical(): Uint8Array {
    const out = this.bytes.slice();
    for (let i = 3; i < out.length; i += 4) out[i] = 255;
    return out;
  }
}

/** Stands in for the WebSocket: the replay calls onmessage with the recording's bytes. */
class ReplayChannel implements RawChannel {
  binaryType = "arraybuffer";
  protocol = "";
  readyState = 1;
  onmessage: ((e: { data: ArrayBuffer }) => void) | null = null;
  onopen: (() => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  onclose: ((e: unknown) => void) | null = null;

  send(): void {
    // A recording has no server to answer.
  }

  close(): void {
    this.readyState = 3;
  }
}

type State = "version" | "security-types" | "security-type-33" | "security-result" | "server-init" | "connected";

/** The server-to-client half of core/rfb.js over noVNC's Websock and decoders. */
class NoVncSession {
  readonly display: MemoryDisplay;
  readonly #sock = new Websock();
  readonly #channel = new ReplayChannel();
  readonly #decoders = new Map<number, NoVncDecoder>([
    [E.raw, new RawDecoder()],
    [E.copyRect, new CopyRectDecoder()],
    [E.rre, new RREDecoder()],
    [E.hextile, new HextileDecoder()],
    [E.zlib, new ZlibDecoder()],
    [E.tight, new TightDecoder()],
    [E.tightPNG, new TightPNGDecoder()],
    [E.zrle, new ZRLEDecoder()],
    [E.jpeg, new JPEGDecoder()],
  ]);
  readonly #formatIsRgb: boolean;
  readonly #depth: number;
  #state: State = "version";
  #minor = 8;
  readonly #fbu = { rects: 0, x: 0, y: 0, width: 0, height: 0, encoding: null as number | null };
  #pushed = 0;
  /** The last cursor image, RGBA, as rfb.js's _handleCursor makes it. */
  cursor: Uint8Array | null = null;
  desktopName = "";

  framebufferUpdates = 0;
  rects = 0;
  pixels = 0;
  /** Where the last complete FramebufferUpdate ends in the input. */
  completeBytes = 0;

  constructor(info: RecordingInfo, display = new MemoryDisplay()) {
    this.display = display;
    this.#formatIsRgb = pixelOrder(info.pixelFormat) === "rgb";
    this.#depth = info.pixelFormat.depth;
    this.#sock.attach(this.#channel);
    this.#sock.on("message", () => {
      this.#handleMessage();
    });
  }

  receive(data: ArrayBuffer): void {
    this.#pushed += data.byteLength;
    this.#channel.onmessage?.({ data });
  }

  #fail(why: string): never {
    throw new Error(`noVNC: ${why}`);
  }

  /** rfb.js _handleMessage. */
  #handleMessage(): void {
    const sock = this.#sock;
    if (sock.rQwait("message", 1)) return;
    while (this.#state !== "connected") if (!this.#initMsg()) return;
    // rfb.js leaves bytes after ServerInit for the next message event; a recording may not
    // have one, so carry on with them here.
    while (!sock.rQwait("message", 1)) if (!this.#normalMsg()) return;
  }

  /** rfb.js _initMsg for a security-None connection. */
  #initMsg(): boolean {
    const sock = this.#sock;
    switch (this.#state) {
      case "version": {
        if (sock.rQwait("version", 12)) return false;
        const sversion = sock.rQshiftStr(12).substring(4, 11);
        const minor = Number(sversion.substring(4));
        if (!sversion.startsWith("003.") || !Number.isFinite(minor)) this.#fail(`invalid server version ${sversion}`);
        this.#minor = minor >= 8 ? 8 : minor >= 7 ? 7 : 3;
        this.#state = this.#minor >= 7 ? "security-types" : "security-type-33";
        return true;
      }
      case "security-types": {
        if (sock.rQwait("security type", 1)) return false;
        const n = sock.rQshift8();
        if (n === 0) this.#fail("the server refused the connection");
        if (sock.rQwait("security types", n, 1)) return false;
        const types = sock.rQshiftBytes(n);
        if (!types.includes(1)) this.#fail("the server does not offer security type None");
        this.#state = this.#minor >= 8 ? "security-result" : "server-init";
        return true;
      }
      case "security-type-33": {
        if (sock.rQwait("security scheme", 4)) return false;
        if (sock.rQshift32() !== 1) this.#fail("the server does not use security type None");
        this.#state = "server-init";
        return true;
      }
      case "security-result": {
        if (sock.rQwait("VNC auth response ", 4)) return false;
        if (sock.rQshift32() !== 0) this.#fail("security handshake failed");
        this.#state = "server-init";
        return true;
      }
      case "server-init": {
        if (sock.rQwait("server initialization", 24)) return false;
        const width = sock.rQshift16();
        const height = sock.rQshift16();
        sock.rQskipBytes(16); // the server's pixel format: the recording's client set its own
        const nameLength = sock.rQshift32();
        if (sock.rQwait("server init name", nameLength, 24)) return false;
        this.desktopName = sock.rQshiftStr(nameLength);
        this.display.resize(width, height);
        this.#state = "connected";
        return true;
      }
      case "connected":
        return false;
    }
  }

  /** rfb.js _normalMsg. */
  #normalMsg(): boolean {
    const sock = this.#sock;
    const msgType = this.#fbu.rects > 0 ? 0 : sock.rQshift8();
    switch (msgType) {
      case 0: {
        const ret = this.#framebufferUpdate();
        if (ret) {
          this.framebufferUpdates++;
          this.completeBytes = this.#pushed - sock.rQlen();
        }
        return ret;
      }
      case 1:
        return this.#fail("SetColourMapEntries on a true-colour connection");
      case 2: // Bell
        return true;
      case 3: {
        // rfb.js _handleServerCutText (the Latin-1 path: extended clipboard was not asked for)
        if (sock.rQwait("ServerCutText header", 7, 1)) return false;
        sock.rQskipBytes(3);
        const length = sock.rQshift32() | 0;
        if (length < 0) this.#fail("extended clipboard data that was not negotiated");
        if (sock.rQwait("ServerCutText content", length, 8)) return false;
        sock.rQshiftStr(length);
        return true;
      }
      case 150: // EndOfContinuousUpdates
        return true;
      case 248: {
        // rfb.js _handleServerFenceMsg (without the reply)
        if (sock.rQwait("ServerFence header", 8, 1)) return false;
        sock.rQskipBytes(3);
        sock.rQshift32();
        const length = sock.rQshift8();
        if (sock.rQwait("ServerFence payload", length, 9)) return false;
        sock.rQshiftStr(length);
        return true;
      }
      default:
        return this.#fail(`unexpected server message (type ${msgType})`);
    }
  }

  /** rfb.js _framebufferUpdate (its Display is synchronous: nothing is ever pending). */
  #framebufferUpdate(): boolean {
    const sock = this.#sock;
    const fbu = this.#fbu;
    if (fbu.rects === 0) {
      if (sock.rQwait("FBU header", 3, 1)) return false;
      sock.rQskipBytes(1);
      fbu.rects = sock.rQshift16();
    }
    while (fbu.rects > 0) {
      if (fbu.encoding === null) {
        if (sock.rQwait("rect header", 12)) return false;
        fbu.x = sock.rQshift16();
        fbu.y = sock.rQshift16();
        fbu.width = sock.rQshift16();
        fbu.height = sock.rQshift16();
        fbu.encoding = sock.rQshift32() >> 0;
      }
      if (!this.#handleRect(fbu.encoding)) return false;
      if (fbu.encoding !== E.lastRect) {
        this.rects++;
        this.pixels += fbu.width * fbu.height;
      }
      fbu.rects--;
      fbu.encoding = null;
    }
    return true;
  }

  /** rfb.js _handleRect. */
  #handleRect(encoding: number): boolean {
    const fbu = this.#fbu;
    switch (encoding) {
      case E.lastRect:
        fbu.rects = 1;
        return true;
      case E.cursor:
        return this.#handleCursor();
      case E.qemuKeys:
      case E.mouseButtons:
        return true;
      case E.desktopName: {
        const sock = this.#sock;
        if (sock.rQwait("DesktopName", 4)) return false;
        const length = sock.rQshift32();
        if (sock.rQwait("DesktopName", length, 4)) return false;
        this.desktopName = sock.rQshiftStr(length);
        return true;
      }
      case E.desktopSize:
        this.display.resize(fbu.width, fbu.height);
        return true;
      case E.extendedDesktopSize:
        return this.#handleExtendedDesktopSize();
      case E.qemuLeds:
        if (this.#sock.rQwait("LED status", 1)) return false;
        this.#sock.rQshift8();
        return true;
      default:
        return this.#handleDataRect(encoding);
    }
  }

  /** rfb.js _handleCursor, keeping the image instead of showing it. */
  #handleCursor(): boolean {
    const sock = this.#sock;
    const { width: w, height: h } = this.#fbu;
    const pixelslength = w * h * 4;
    const masklength = Math.ceil(w / 8) * h;
    if (sock.rQwait("cursor encoding", pixelslength + masklength)) return false;
    const pixels = sock.rQshiftBytes(pixelslength);
    const mask = sock.rQshiftBytes(masklength);
    const rgba = new Uint8Array(w * h * 4);
    let pixIdx = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const maskIdx = y * Math.ceil(w / 8) + Math.floor(x / 8);
        const alpha = ((mask[maskIdx] ?? 0) << (x % 8)) & 0x80 ? 255 : 0;
        rgba[pixIdx] = pixels[pixIdx + 2] ?? 0;
        rgba[pixIdx + 1] = pixels[pixIdx + 1] ?? 0;
        rgba[pixIdx + 2] = pixels[pixIdx] ?? 0;
        rgba[pixIdx + 3] = alpha;
        pixIdx += 4;
      }
    }
    this.cursor = rgba;
    return true;
  }

  /** rfb.js _handleExtendedDesktopSize, without the resize requests it sends. */
  #handleExtendedDesktopSize(): boolean {
    const sock = this.#sock;
    const fbu = this.#fbu;
    if (sock.rQwait("ExtendedDesktopSize", 4)) return false;
    const screens = sock.rQpeek8();
    if (sock.rQwait("ExtendedDesktopSize", 4 + screens * 16)) return false;
    sock.rQskipBytes(4);
    for (let i = 0; i < screens; i++) {
      if (i === 0) {
        sock.rQshift32();
        sock.rQskipBytes(8);
        sock.rQshift32();
      } else {
        sock.rQskipBytes(16);
      }
    }
    if (!(fbu.x === 1 && fbu.y !== 0)) this.display.resize(fbu.width, fbu.height);
    return true;
  }

  /** rfb.js _handleDataRect. */
  #handleDataRect(encoding: number): boolean {
    const decoder = this.#decoders.get(encoding);
    if (decoder === undefined) return this.#fail(`unsupported encoding (encoding: ${encoding})`);
    const fbu = this.#fbu;
    // Tight's TPIXELs are R, G, B; everything else is in the pixel format's byte order.
    this.display.rgb = encoding === E.tight || encoding === E.tightPNG || this.#formatIsRgb;
    try {
      return decoder.decodeRect(fbu.x, fbu.y, fbu.width, fbu.height, this.#sock, this.display, this.#depth);
    } catch (e) {
      return this.#fail(`error decoding rect: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** `bytes` in CHUNK_SIZE pieces, each its own ArrayBuffer (what a WebSocket delivers). */
function messages(bytes: Uint8Array): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_SIZE) {
    const piece = bytes.slice(at, Math.min(bytes.length, at + CHUNK_SIZE));
    out.push(piece.buffer);
  }
  return out;
}

export function prepareNoVnc(bytes: Uint8Array, info: RecordingInfo): PreparedEngine {
  // Untimed: where the last complete update ends, found by noVNC's path itself.
  const probe = new NoVncSession(info);
  for (const m of messages(bytes)) probe.receive(m);
  const input = messages(bytes.subarray(0, probe.completeBytes));
  // One display for every run, cleared outside the timing: allocating and first touching a
  // framebuffer's pages is not decoding (a page fault costs ~20 µs on this VM) and the
  // porthole engine is measured the same way.
  const display = probe.display;
  return {
    run(): EngineResult {
      display.clear();
      const started = GLib.get_monotonic_time();
      const session = new NoVncSession(info, display);
      for (const m of input) session.receive(m);
      const seconds = (GLib.get_monotonic_time() - started) / 1e6;
      return {
        framebufferUpdates: session.framebufferUpdates,
        rects: session.rects,
        pixels: session.pixels,
        seconds,
        sha256: sha256(session.display.canonical()),
      };
    },
  };
}
