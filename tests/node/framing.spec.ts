// The gateway's length-only framer of server messages: every message must end exactly
// where Porthole's decoding client finishes it (recordings of real servers), for every
// encoding and pixel format (streams built with the decoder specs' encoders), whatever
// chunks the bytes arrive in; and what it cannot frame must be refused before any of its
// bytes are accepted.

import { RfbClient } from "../../src/protocol/client.js";
import { Encoding, SecurityType } from "../../src/protocol/constants.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat, type PixelFormat } from "../../src/protocol/pixel-format.js";
import {
  FRAMED_ENCODINGS,
  isFramingSafe,
  ServerMessageFramer,
  XCURSOR_ENCODING,
  ZYWRLE_ENCODING,
} from "../../src/protocol/server/framing.js";
import { UpstreamHandshake } from "../../src/protocol/server/upstream.js";
import { parseRecordingInfo } from "../../src/tools/recording.js";
import {
  bytes,
  encodeHextile,
  encodeRaw,
  encodeRRE,
  PF16_BE,
  PF8_BGR233,
  PF32_BE,
  prng,
  randomImage,
  randomTiledImage,
} from "./encode-basic.js";
import { concat, PF30, ServerStream, TightServer, tileOf, zrlePlainRLE, zrleRaw, zrleRect } from "./encode-zlib.js";
import { s32, u16, u32 } from "./ext-helpers.js";
import { fixture } from "./fixtures.js";

interface Framed {
  /** Absolute end offsets of the messages, with their types. */
  readonly ends: { type: number; end: number }[];
  /** Everything accepted, in order. */
  readonly accepted: Uint8Array;
  readonly framer: ServerMessageFramer;
}

/** Feeds `stream` in `chunks`, collecting the accepted bytes and message ends. */
function frame(pf: PixelFormat, chunks: Iterable<Uint8Array>, setup?: (f: ServerMessageFramer) => void): Framed {
  const framer = new ServerMessageFramer(pf);
  setup?.(framer);
  const ends: { type: number; end: number }[] = [];
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const chunk of chunks) {
    const { bytes: out, messages } = framer.feed(chunk);
    for (const m of messages) ends.push({ type: m.type, end: total + m.end });
    parts.push(out.slice());
    total += out.length;
  }
  return { ends, accepted: concat(parts), framer };
}

/** The first index where `a` differs from the start of `b`, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length <= b.length ? -1 : b.length;
}

function* chunked(b: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < b.length; at += size) yield b.subarray(at, Math.min(b.length, at + size));
}

function* twoPieces(b: Uint8Array, at: number): Generator<Uint8Array> {
  yield b.subarray(0, at);
  yield b.subarray(at);
}

const RECORDINGS = ["desktop-1280x800-xvnc-tight", "scroll-1280x800-xvnc-zrle", "slides-1280x800-xvnc-hextile"];

describe("ServerMessageFramer on recordings of real servers", () => {
  for (const name of RECORDINGS) {
    it(`ends every update of ${name} where the decoding client does, in any chunking`, () => {
      const file = fixture(`recordings/${name}.rfb`);
      const info = parseRecordingInfo(JSON.parse(new TextDecoder().decode(fixture(`recordings/${name}.json`))));
      // The reference: the bytes at which Porthole's client completes each update.
      const reference: number[] = [];
      const client: RfbClient = new RfbClient(
        {
          framebuffer: new MemoryFramebuffer(),
          pixelFormat: info.pixelFormat,
          encodings: info.encodings,
          securityTypes: [SecurityType.None],
          requestUpdates: false,
        },
        {
          send: () => undefined,
          failed: (e) => {
            throw e;
          },
          updateComplete: () => reference.push(client.bytesConsumed),
        },
      );
      client.receive(file);
      expect(reference.length).toBe(info.framebufferUpdates);

      const handshake = new UpstreamHandshake(true, () => undefined);
      const init = handshake.receive(file);
      if (!init) throw new Error("the recording's handshake is incomplete");
      expect([init.width, init.height]).toEqual([info.width, info.height]);
      const offset = file.length - init.rest.length;
      for (const size of [1, 7, 1000, 65536, 1 << 22]) {
        // Small chunks cost seconds on the large recordings: they get the larger ones.
        if ((size === 1 && file.length > 200_000) || (size === 7 && file.length > 1_000_000)) continue;
        const f = frame(init.pixelFormat, chunked(init.rest, size), (fr) => {
          fr.setPixelFormat(info.pixelFormat);
        });
        const updateEnds = f.ends.filter((m) => m.type === 0).map((m) => m.end + offset);
        expect(updateEnds).withContext(`chunks of ${size}`).toEqual(reference);
        // Everything up to the cut-off last message is accepted, unchanged.
        expect(f.accepted.length).toBeGreaterThanOrEqual((reference.at(-1) ?? 0) - offset);
        expect(firstDifference(f.accepted, init.rest)).withContext(`chunks of ${size}`).toBe(-1);
      }
    });
  }
});

// --- synthetic streams ---

const rectHeader = (x: number, y: number, w: number, h: number, enc: number) => [
  ...u16(x),
  ...u16(y),
  ...u16(w),
  ...u16(h),
  ...s32(enc),
];

/** A FramebufferUpdate of `rects` (each a header and payload already joined). */
function update(rects: readonly Uint8Array[], count = rects.length): Uint8Array {
  return concat([bytes(0, 0, u16(count)), ...rects]);
}

function rect(
  x: number,
  y: number,
  w: number,
  h: number,
  enc: number,
  payload: Uint8Array | number[] = [],
): Uint8Array {
  return concat([Uint8Array.from(rectHeader(x, y, w, h, enc)), Uint8Array.from(payload)]);
}

function tightRect(
  pf: PixelFormat,
  w: number,
  h: number,
  build: (t: TightServer, r: { x: number; y: number; width: number; height: number; encoding: number }) => void,
  encoding: number = Encoding.Tight,
): Uint8Array {
  const t = new TightServer(pf);
  const r = { x: 0, y: 0, width: w, height: h, encoding };
  build(t, r);
  return rect(0, 0, w, h, encoding, t.data);
}

/** Every encoding and message the framer knows, in `pf`; returns the messages one by one. */
function syntheticMessages(pf: PixelFormat): Uint8Array[] {
  const rand = prng(42);
  const bpp = pf.bitsPerPixel / 8;
  const img = randomImage(pf, 37, 21, rand);
  const tiled = randomTiledImage(pf, 40, 35, rand);
  const zlib = new ServerStream();
  const zrle = new ServerStream();
  const raw = encodeRaw(pf, img);
  const zlibData = zlib.deflate(raw);
  const trueColour = pf.trueColour && pf.bitsPerPixel !== 8;
  const small = [1, 2, 3, 1, 2, 3];
  const messages: Uint8Array[] = [
    update([
      rect(0, 0, 37, 21, Encoding.Raw, raw),
      rect(40, 0, 10, 10, Encoding.CopyRect, [...u16(1), ...u16(2)]),
      rect(
        0,
        0,
        30,
        20,
        Encoding.RRE,
        encodeRRE(
          pf,
          3,
          [
            { pixel: 1, x: 1, y: 2, w: 3, h: 4 },
            { pixel: 2, x: 5, y: 5, w: 2, h: 2 },
          ],
          2,
        ),
      ),
      rect(0, 0, 30, 20, Encoding.CoRRE, encodeRRE(pf, 3, [{ pixel: 1, x: 1, y: 2, w: 3, h: 4 }], 1)),
      rect(0, 0, 40, 35, Encoding.Hextile, encodeHextile(pf, tiled, 40, 35, rand)),
      rect(5, 5, 0, 7, Encoding.Hextile),
      rect(0, 0, 37, 21, Encoding.Zlib, concat([Uint8Array.from(u32(zlibData.length)), zlibData])),
      rect(0, 0, 37, 21, Encoding.ZRLE, zrleRect(zrle, [zrleRaw(pf, tileOf(img, 37, 0, 0, 37, 21))])),
      rect(0, 0, 37, 21, ZYWRLE_ENCODING, zrleRect(zrle, [zrlePlainRLE(pf, tileOf(img, 37, 0, 0, 37, 21))])),
      tightRect(pf, 37, 21, (t, r) => t.fill(r, 5)),
      tightRect(pf, 2, 1, (t, r) => t.copy(r, [1, 2], 0)),
      tightRect(pf, 37, 21, (t, r) => t.copy(r, img, 1, true)),
      tightRect(pf, 37, 21, (t, r) =>
        t.palette(
          r,
          img.map((v) => (v & 1 ? 3 : 1)),
          [1, 3],
          2,
        ),
      ),
      tightRect(pf, 3, 2, (t, r) => t.palette(r, small, [1, 2, 3], 3)),
      tightRect(pf, 37, 21, (t, r) =>
        t.palette(
          r,
          img.map((v) => v % 5),
          [0, 1, 2, 3, 4],
          3,
        ),
      ),
      ...(trueColour ? [tightRect(pf, 37, 21, (t, r) => t.gradient(r, img, 0))] : []),
      tightRect(pf, 37, 21, (t, r) => t.image(r, 9, Uint8Array.of(0xff, 0xd8, 1, 2, 3), new Uint32Array(0))),
      tightRect(pf, 37, 21, (t, r) => t.fill(r, 6), Encoding.TightPNG),
      tightRect(
        pf,
        37,
        21,
        (t, r) => t.image(r, 10, new Uint8Array(300).fill(7), new Uint32Array(0)),
        Encoding.TightPNG,
      ),
      rect(0, 0, 640, 480, Encoding.DesktopSize),
      rect(0, 0, 640, 480, Encoding.ExtendedDesktopSize, [2, 0, 0, 0, ...new Array<number>(32).fill(9)]),
      rect(1, 2, 9, 5, Encoding.Cursor, new Array<number>(9 * 5 * bpp + 2 * 5).fill(0xaa)),
      rect(1, 2, 9, 5, XCURSOR_ENCODING, new Array<number>(6 + 2 * 2 * 5).fill(0x55)),
      rect(0, 0, 0, 0, XCURSOR_ENCODING),
      rect(1, 1, 4, 3, Encoding.CursorWithAlpha, [...s32(0), ...new Array<number>(4 * 3 * 4).fill(0x80)]),
      rect(0, 0, 0, 0, Encoding.DesktopName, [...u32(4), 0x51, 0x45, 0x4d, 0x55]),
      rect(0, 0, 0, 0, Encoding.QEMULedState, [5]),
      rect(0, 0, 0, 0, Encoding.QEMUExtendedKeyEvent),
      rect(0, 0, 0, 0, Encoding.QEMUAudio),
      rect(0, 0, 0, 0, Encoding.QEMUPointerMotionChange),
    ]),
    bytes(1, 0, u16(0), u16(2), new Array<number>(12).fill(1)),
    bytes(2),
    bytes(3, 0, 0, 0, u32(5), 104, 101, 108, 108, 111),
    bytes(3, 0, 0, 0, s32(-8), u32(0x01000001), u32(3)),
    bytes(150),
    bytes(248, 0, 0, 0, u32(0x80000003), 3, 1, 2, 3),
    bytes(250, 0, 1, 0),
    bytes(255, 1, u16(1)),
    bytes(255, 1, u16(2), u32(8), new Array<number>(8).fill(3)),
    bytes(255, 1, u16(0)),
    // 0xFFFF rectangles: the update ends at its LastRect.
    update(
      [rect(0, 0, 2, 2, Encoding.Raw, new Array<number>(4 * bpp).fill(1)), rect(0, 0, 0, 0, Encoding.LastRect)],
      0xffff,
    ),
    // A LastRect also ends an update that announced a count.
    update([rect(0, 0, 0, 0, Encoding.LastRect)], 5),
    update([]),
    // WMVi: rectangles after it are in the new format (here 16 bpp), the raw one included.
    update([
      rect(0, 0, 640, 480, Encoding.VMwareDisplayModeChange, encodePixelFormat(PF16_BE)),
      rect(0, 0, 3, 3, Encoding.Raw, new Array<number>(9 * 2).fill(4)),
      rect(0, 0, 640, 480, Encoding.VMwareDisplayModeChange, encodePixelFormat(pf)),
      rect(0, 0, 3, 3, Encoding.Raw, new Array<number>(9 * bpp).fill(4)),
    ]),
    bytes(2),
  ];
  return messages;
}

const FORMATS: [string, PixelFormat][] = [
  ["32 bpp depth 24 (3-byte TPIXELs)", DEFAULT_PIXEL_FORMAT],
  ["32 bpp big-endian", PF32_BE],
  ["32 bpp depth 30 (4-byte TPIXELs)", PF30],
  ["16 bpp", PF16_BE],
  ["8 bpp true colour", PF8_BGR233],
];

describe("ServerMessageFramer on every encoding and message", () => {
  for (const [label, pf] of FORMATS) {
    it(`ends each message exactly, at every split and a byte at a time (${label})`, () => {
      const messages = syntheticMessages(pf);
      const stream = concat(messages);
      const expected: { type: number; end: number }[] = [];
      let end = 0;
      for (const m of messages) {
        end += m.length;
        expected.push({ type: m[0] ?? -1, end });
      }
      const whole = frame(pf, [stream]);
      expect(whole.ends).toEqual(expected);
      expect(whole.accepted).toEqual(stream);
      expect(whole.framer.atBoundary).toBeTrue();
      expect(whole.framer.updates).toBe(5);
      expect(whole.framer.held).toBe(0);
      // Every two-piece split (sampled: each 7th point, and all near the ends) and bytewise.
      for (let at = 0; at <= stream.length; at += at < 64 || at > stream.length - 64 ? 1 : 7) {
        const f = frame(pf, twoPieces(stream, at));
        expect(f.ends).withContext(`split at ${at}`).toEqual(expected);
        expect(f.accepted.length).toBe(stream.length);
      }
      const bytewise = frame(pf, chunked(stream, 1));
      expect(bytewise.ends).toEqual(expected);
      expect(bytewise.accepted).toEqual(stream);
    });
  }

  it("is at a boundary exactly when the accepted bytes end a message, and holds back no more than a header", () => {
    const stream = concat(syntheticMessages(DEFAULT_PIXEL_FORMAT));
    const framer = new ServerMessageFramer(DEFAULT_PIXEL_FORMAT);
    const ends = new Set<number>();
    let total = 0;
    let maxHeld = 0;
    for (let at = 0; at < stream.length; at++) {
      const { bytes: out, messages } = framer.feed(stream.subarray(at, at + 1));
      for (const m of messages) ends.add(total + m.end);
      total += out.length;
      maxHeld = Math.max(maxHeld, framer.held);
      // Between messages means: what was accepted so far ends with a whole message (bytes
      // of the next one may be held back while its header is incomplete).
      expect(framer.atBoundary)
        .withContext(`after byte ${at}`)
        .toBe(total === 0 || ends.has(total));
    }
    expect(maxHeld).toBeLessThan(64);
  });

  it("takes the client's SetPixelFormat for the rectangles after it", () => {
    const framer = new ServerMessageFramer(DEFAULT_PIXEL_FORMAT);
    framer.setPixelFormat(PF16_BE);
    const m = update([rect(0, 0, 4, 4, Encoding.Raw, new Array<number>(32).fill(0))]);
    expect(framer.feed(m).messages).toEqual([{ type: 0, end: m.length }]);
    expect(framer.pixelFormat).toBe(PF16_BE);
  });

  it("reports the ExtendedMouseButtons acknowledgement", () => {
    const framer = new ServerMessageFramer(DEFAULT_PIXEL_FORMAT);
    expect(framer.extendedMouseButtons).toBeFalse();
    framer.feed(update([rect(0, 0, 0, 0, Encoding.ExtendedMouseButtons)]));
    expect(framer.extendedMouseButtons).toBeTrue();
  });
});

describe("ServerMessageFramer refusals", () => {
  // What may have been accepted of the refused message: nothing of a message, an update's
  // header before a rectangle header it refuses, the rectangle header too when it is the
  // rectangle's payload that is wrong (the viewer is disconnected either way).
  const MESSAGE = 0;
  const RECT_HEADER = 4;
  const PAYLOAD = 4 + 12;
  const cases: [string, Uint8Array, string, number][] = [
    ["an unknown message type", bytes(77), "unsupported", MESSAGE],
    ["an RFB Streams message from the server", bytes(255, 2, u16(4), u32(1), u32(1), 0x41), "malformed", MESSAGE],
    ["an unknown QEMU sub-type", bytes(255, 9, 0, 0), "unsupported", MESSAGE],
    ["an unknown QEMU audio operation", bytes(255, 1, u16(3)), "malformed", MESSAGE],
    ["a fence with 65 bytes", bytes(248, 0, 0, 0, u32(0), 65), "malformed", MESSAGE],
    ["an encoding it cannot frame", update([rect(0, 0, 4, 4, 15 /* TRLE */)]), "unsupported", RECT_HEADER],
    ["a -262 acknowledgement from the server", update([rect(1, 0, 0, 0, Encoding.Streams)]), "malformed", RECT_HEADER],
    [
      "an alpha cursor that is not raw",
      update([rect(0, 0, 2, 2, Encoding.CursorWithAlpha, s32(7))]),
      "unsupported",
      PAYLOAD,
    ],
    ["Tight method 10", update([rect(0, 0, 2, 2, Encoding.Tight, [0xa0])]), "malformed", PAYLOAD],
    ["Tight PNG basic compression", update([rect(0, 0, 2, 2, Encoding.TightPNG, [0x00])]), "malformed", PAYLOAD],
    ["an undefined Tight filter", update([rect(0, 0, 2, 2, Encoding.Tight, [0x40, 3])]), "malformed", PAYLOAD],
    ["a one-colour Tight palette", update([rect(0, 0, 2, 2, Encoding.Tight, [0x40, 1, 0])]), "malformed", PAYLOAD],
    [
      "a WMVi with 24 bits per pixel",
      update([rect(0, 0, 2, 2, Encoding.VMwareDisplayModeChange, [24, ...new Array<number>(15).fill(0)])]),
      "unsupported",
      PAYLOAD,
    ],
  ];
  for (const [what, stream, code, mayAccept] of cases) {
    it(`refuses ${what}`, () => {
      const good = bytes(2);
      const framer = new ServerMessageFramer(DEFAULT_PIXEL_FORMAT);
      let accepted = 0;
      let error: unknown = null;
      try {
        for (const b of chunked(concat([good, stream]), 1)) accepted += framer.feed(b).bytes.length;
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe(code);
      expect(accepted).toBe(good.length + mayAccept);
      expect(framer.atBoundary).toBeFalse();
      // The failure sticks.
      expect(() => framer.feed(bytes(2))).toThrow(error);
    });
  }
});

describe("framing-safe encodings", () => {
  it("lets through what the framer frames and the announcements without rectangles", () => {
    for (const e of FRAMED_ENCODINGS) expect(isFramingSafe(e)).toBeTrue();
    for (const e of [
      -32,
      -23,
      -256,
      -247,
      Encoding.Fence,
      Encoding.ContinuousUpdates,
      Encoding.Xvp,
      Encoding.ExtendedClipboard,
    ])
      expect(isFramingSafe(e)).withContext(String(e)).toBeTrue();
  });

  it("keeps out what could bring a rectangle of unknown length", () => {
    for (const e of [15 /* TRLE */, 8 /* ZlibHex */, 21 /* JPEG */, 50 /* H.264 */, -33, -246, -262, -1000, 0x574d5600])
      expect(isFramingSafe(e)).withContext(String(e)).toBeFalse();
  });
});
