import { ClientMessageParser, type ParsedClientMessage } from "../../src/protocol/client-messages.js";
import { Encoding } from "../../src/protocol/constants.js";
import type { ProtocolError, ProtocolErrorCode } from "../../src/protocol/errors.js";
import { clipboardCaps, clipboardRequestText } from "../../src/protocol/extensions/extended-clipboard.js";
import { qemuAudioEnable, qemuAudioSetFormat } from "../../src/protocol/extensions/qemu-audio.js";
import * as msg from "../../src/protocol/messages.js";
import { DEFAULT_PIXEL_FORMAT, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { encodeStreamData, encodeStreamOpen } from "../../src/protocol/streams.js";
import { formatVersion } from "../../src/protocol/version.js";
import { s32, u16, u32 } from "./ext-helpers.js";
import { ascii, splits } from "./helpers.js";

const concat = (...parts: (Uint8Array | readonly number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => Array.from(p)));

/** What a 3.8 viewer sends up to and including ClientInit with security None. */
const HANDSHAKE = concat(formatVersion({ major: 3, minor: 8 }), [1], [1]);

const RGB565: PixelFormat = {
  bitsPerPixel: 16,
  depth: 16,
  bigEndian: true,
  trueColour: true,
  redMax: 31,
  greenMax: 63,
  blueMax: 31,
  redShift: 11,
  greenShift: 5,
  blueShift: 0,
};

interface Outcome {
  readonly messages: ParsedClientMessage[];
  readonly error: ProtocolError | null;
  readonly parser: ClientMessageParser;
}

/** Feeds `chunks` one after another, draining messages after each. */
function feed(chunks: readonly Uint8Array[], setup: (p: ClientMessageParser) => void = () => undefined): Outcome {
  const parser = new ClientMessageParser();
  setup(parser);
  const messages: ParsedClientMessage[] = [];
  try {
    for (const c of chunks) messages.push(...parser.receive(c));
    return { messages, error: null, parser };
  } catch (e) {
    return { messages, error: e as ProtocolError, parser };
  }
}

/** Runs `check` on the outcome of every two-piece split of `bytes` and of byte-by-byte feeding. */
function everySplit(bytes: Uint8Array, check: (o: Outcome) => void, setup?: (p: ClientMessageParser) => void): void {
  for (const chunks of splits(bytes)) check(feed(chunks, setup));
}

describe("ClientMessageParser", () => {
  it("parses the handshake and every message Porthole's client sends, at every split point", () => {
    const stream = concat(
      HANDSHAKE,
      msg.setPixelFormat(RGB565),
      msg.setEncodings([Encoding.Tight, Encoding.Raw, Encoding.ExtendedClipboard, Encoding.DesktopSize]),
      msg.framebufferUpdateRequest(false, 0, 0, 1920, 1080),
      msg.keyEvent(true, 0xff0d),
      msg.pointerEvent(100, 200, 0x85),
      msg.clientCutText("café"),
      msg.enableContinuousUpdates(true, 1, 2, 3, 4),
      msg.clientFence(0x80000003, Uint8Array.of(9, 8, 7)),
      msg.xvp(msg.XvpCode.Reboot),
      msg.setDesktopSize(800, 600, [
        { id: 7, x: 0, y: 0, width: 400, height: 600, flags: 0 },
        { id: 8, x: 400, y: 0, width: 400, height: 600, flags: 1 },
      ]),
      msg.qemuExtendedKeyEvent(false, 0x61, 0x1e),
    );
    const expected: ParsedClientMessage[] = [
      { type: "protocol-version", version: { major: 3, minor: 8 }, length: 12 },
      { type: "security-type", securityType: 1, length: 1 },
      { type: "client-init", shared: true, length: 1 },
      { type: "set-pixel-format", pixelFormat: RGB565, length: 20 },
      {
        type: "set-encodings",
        encodings: [Encoding.Tight, Encoding.Raw, Encoding.ExtendedClipboard, Encoding.DesktopSize],
        length: 20,
      },
      { type: "framebuffer-update-request", incremental: false, x: 0, y: 0, width: 1920, height: 1080, length: 10 },
      { type: "key-event", down: true, keysym: 0xff0d, length: 8 },
      // Without the server's ExtendedMouseButtons ack, bit 7 is simply button 8.
      { type: "pointer-event", x: 100, y: 200, buttons: 0x85, length: 6 },
      { type: "client-cut-text", text: "café", length: 12 },
      { type: "enable-continuous-updates", enable: true, x: 1, y: 2, width: 3, height: 4, length: 10 },
      { type: "client-fence", flags: 0x80000003, payload: Uint8Array.of(9, 8, 7), length: 12 },
      { type: "xvp", version: 1, code: msg.XvpCode.Reboot, length: 4 },
      {
        type: "set-desktop-size",
        width: 800,
        height: 600,
        screens: [
          { id: 7, x: 0, y: 0, width: 400, height: 600, flags: 0 },
          { id: 8, x: 400, y: 0, width: 400, height: 600, flags: 1 },
        ],
        length: 40,
      },
      { type: "qemu-extended-key-event", down: false, keysym: 0x61, scancode: 0x1e, length: 12 },
    ];
    everySplit(stream, (o) => {
      expect(o.error).toBeNull();
      expect(o.messages).toEqual(expected);
      expect(o.parser.phase).toBe("messages");
      expect(o.parser.buffered).toBe(0);
      expect(o.parser.consumed).toBe(stream.length);
    });
  });

  it("returns nothing and consumes nothing until a message is complete", () => {
    const parser = new ClientMessageParser({ handshake: false });
    const encodings = msg.setEncodings([0, 1, 2]);
    for (let i = 0; i < encodings.length - 1; i++) {
      parser.push(encodings.subarray(i, i + 1));
      expect(parser.next()).toBeNull();
      expect(parser.consumed).toBe(0);
    }
    parser.push(encodings.subarray(-1));
    expect(parser.next()).toEqual({ type: "set-encodings", encodings: [0, 1, 2], length: 16 });
    expect(parser.next()).toBeNull();
  });

  it("follows VNC authentication's 16-byte response and a non-shared ClientInit", () => {
    const response = Uint8Array.from({ length: 16 }, (_v, i) => i * 7);
    const stream = concat(formatVersion({ major: 3, minor: 8 }), [2], response, [0], msg.setPixelFormat(RGB565));
    everySplit(stream, (o) => {
      expect(o.error).toBeNull();
      expect(o.messages.map((m) => m.type)).toEqual([
        "protocol-version",
        "security-type",
        "vnc-auth-response",
        "client-init",
        "set-pixel-format",
      ]);
      expect(o.messages[2]).toEqual({ type: "vnc-auth-response", response, length: 16 });
      expect(o.messages[3]).toEqual({ type: "client-init", shared: false, length: 1 });
      expect(o.parser.securityType).toBe(2);
    });
  });

  it("waits for the server's security type under RFB 3.3, where the client sends none", () => {
    const stream = concat(formatVersion({ major: 3, minor: 3 }), [1], msg.setPixelFormat(DEFAULT_PIXEL_FORMAT));
    const parser = new ClientMessageParser();
    expect(parser.receive(stream)).toEqual([{ type: "protocol-version", version: { major: 3, minor: 3 }, length: 12 }]);
    expect(parser.phase).toBe("awaiting-server-security-type");
    expect(parser.buffered).toBe(21);
    parser.serverSecurityType(1);
    const rest: ParsedClientMessage[] = [];
    for (let m = parser.next(); m !== null; m = parser.next()) rest.push(m);
    expect(rest).toEqual([
      { type: "client-init", shared: true, length: 1 },
      { type: "set-pixel-format", pixelFormat: DEFAULT_PIXEL_FORMAT, length: 20 },
    ]);
    expect(parser.securityType).toBe(1);
  });

  it("takes other 3.x minors with the semantics RFC 6143 gives them", () => {
    // 3.5 is 3.3 (the server picks the security type); 3.889 (Apple) answers as 3.8 would.
    expect(new ClientMessageParser().receive(ascii("RFB 003.005\n"))).toHaveSize(1);
    const apple = new ClientMessageParser();
    apple.receive(concat(ascii("RFB 003.889\n"), [1]));
    expect(apple.phase).toBe("client-init");
  });

  it("refuses a server security type when it is the client's to choose", () => {
    const parser = new ClientMessageParser();
    expect(() => parser.serverSecurityType(1)).toThrowMatching((e: ProtocolError) => e.code === "invalid-argument");
  });

  it("reads the 7-byte PointerEvent once the server acknowledged ExtendedMouseButtons", () => {
    const stream = concat(
      msg.pointerEvent(5, 6, 0x100 | 0x02, true),
      msg.pointerEvent(7, 8, 0x01, true),
      msg.keyEvent(false, 0x20),
    );
    everySplit(
      stream,
      (o) => {
        expect(o.error).toBeNull();
        expect(o.messages).toEqual([
          { type: "pointer-event", x: 5, y: 6, buttons: 0x102, length: 7 },
          { type: "pointer-event", x: 7, y: 8, buttons: 0x01, length: 6 },
          { type: "key-event", down: false, keysym: 0x20, length: 8 },
        ]);
      },
      (p) => {
        p.push(HANDSHAKE);
        p.next();
        p.next();
        p.next();
        p.extendedMouseButtons = true;
      },
    );
  });

  it("reads ExtendedClipboard messages from negative ClientCutText lengths", () => {
    const caps = clipboardCaps(1024);
    const request = clipboardRequestText();
    everySplit(concat(HANDSHAKE, caps, request), (o) => {
      expect(o.error).toBeNull();
      expect(o.messages.slice(3)).toEqual([
        {
          type: "extended-clipboard",
          flags: new DataView(caps.buffer).getUint32(8),
          payload: caps.slice(12),
          length: caps.length,
        },
        {
          type: "extended-clipboard",
          flags: new DataView(request.buffer).getUint32(8),
          payload: new Uint8Array(0),
          length: 12,
        },
      ]);
    });
  });

  it("reads QEMU audio (4 and 10 bytes) and RFB Streams messages", () => {
    const format = { sampleFormat: 3, channels: 2, frequency: 44100 } as const;
    const data = Uint8Array.of(1, 2, 3, 4, 5);
    everySplit(
      concat(qemuAudioSetFormat(format), qemuAudioEnable(), encodeStreamOpen(3, 65536, 1), encodeStreamData(3, data)),
      (o) => {
        expect(o.error).toBeNull();
        expect(o.messages).toEqual([
          { type: "qemu-audio", operation: 2, format, length: 10 },
          { type: "qemu-audio", operation: 0, length: 4 },
          { type: "qemu-streams", operation: 0, id: 3, payload: concat(u32(65536), u32(1)), length: 20 },
          { type: "qemu-streams", operation: 2, id: 3, payload: data, length: 17 },
        ]);
      },
      (p) => {
        p.push(HANDSHAKE);
        p.next();
        p.next();
        p.next();
      },
    );
  });

  it("starts at the messages when told the handshake is over", () => {
    const parser = new ClientMessageParser({ handshake: false });
    expect(parser.phase).toBe("messages");
    expect(parser.receive(msg.framebufferUpdateRequest(true, 0, 0, 10, 10))).toEqual([
      { type: "framebuffer-update-request", incremental: true, x: 0, y: 0, width: 10, height: 10, length: 10 },
    ]);
  });

  describe("refuses what it cannot delimit, at every split point", () => {
    const cases: [string, Uint8Array, ProtocolErrorCode, string][] = [
      ["an unknown message type", concat(HANDSHAKE, [7, 0, 0, 0]), "unsupported", "message type 7"],
      ["SASL", concat(formatVersion({ major: 3, minor: 8 }), [20]), "unsupported", "security type 20"],
      ["a version that is not RFB", ascii("GET / HTTP/1"), "malformed", "GET / HTTP/1"],
      ["RFB 4", ascii("RFB 004.001\n"), "unsupported", "RFB 4.1"],
      ["a fence of 65 bytes", concat(HANDSHAKE, [248, 0, 0, 0], u32(0), [65]), "malformed", "65 bytes"],
      [
        "a cut text past the limit",
        concat(HANDSHAKE, [6, 0, 0, 0], s32(16 * 1024 * 1024 + 1)),
        "limit",
        "16777217 bytes",
      ],
      [
        "an extended clipboard message without flags",
        concat(HANDSHAKE, [6, 0, 0, 0], s32(-3), [0, 0, 0]),
        "malformed",
        "no room for its flags",
      ],
      ["an unknown QEMU sub-type", concat(HANDSHAKE, [255, 9]), "unsupported", "sub-type 9"],
      ["an unknown audio operation", concat(HANDSHAKE, [255, 1], u16(3)), "malformed", "audio operation 3"],
      [
        "a Streams payload past its limit",
        concat(HANDSHAKE, [255, 2], u16(2), u32(1), u32(65537)),
        "limit",
        "65537-byte payload",
      ],
      [
        "a 24-bit pixel format",
        concat(HANDSHAKE, [0, 0, 0, 0, 24], new Array<number>(15).fill(0)),
        "unsupported",
        "24 bits",
      ],
    ];
    for (const [what, bytes, code, mention] of cases)
      it(what, () => {
        everySplit(bytes, (o) => {
          expect(o.error?.code).toBe(code);
          expect(o.error?.message).toContain(mention);
          expect(o.parser.phase).toBe("failed");
        });
      });
  });

  it("keeps reporting the same failure", () => {
    const parser = new ClientMessageParser({ handshake: false });
    expect(() => parser.receive(Uint8Array.of(99))).toThrowError(/message type 99/);
    expect(() => parser.next()).toThrowError(/message type 99/);
    expect(() => parser.push(Uint8Array.of(0))).toThrowError(/message type 99/);
  });
});
