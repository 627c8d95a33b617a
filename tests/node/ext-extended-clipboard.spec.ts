import { deflateSync, inflateSync } from "node:zlib";

import { Encoding } from "../../src/protocol/constants.js";
import type { ProtocolErrorCode } from "../../src/protocol/errors.js";
import {
  ClipboardFlag,
  ExtendedClipboardExtension,
  MAX_CLIPBOARD_BYTES,
  zlibStored,
} from "../../src/protocol/extensions/extended-clipboard.js";
import { ascii } from "./helpers.js";
import { connected, everySplit, feed, type Session, s32, u32, update } from "./ext-helpers.js";

const ENCODINGS = [Encoding.Raw, Encoding.ExtendedClipboard];
const { Text, Caps, Request, Peek, Notify, Provide } = ClipboardFlag;

const make = (events: string[]) =>
  new ExtendedClipboardExtension({
    extendedClipboardAvailable: () => events.push("available"),
    clipboardText: (text, encoding) => events.push(`${encoding} "${text}"`),
  });

const utf8 = (s: string) => Array.from(new TextEncoder().encode(s));
// Extended ServerCutText: 3, padding, S32 −(4 + body), U32 flags, body.
const serverExt = (flags: number, body: number[] = []) => [
  3,
  0,
  0,
  0,
  ...s32(-(4 + body.length)),
  ...u32(flags),
  ...body,
];
const clientExt = (flags: number, body: number[] = []) => [
  6,
  0,
  0,
  0,
  ...s32(-(4 + body.length)),
  ...u32(flags),
  ...body,
];
/** QEMU ui/vnc-clipboard.c vnc_server_cut_text_caps(): text, size 0. */
const QEMU_CAPS = serverExt(Caps | Request | Notify | Provide | Text, u32(0));
/** A provide as a server sends it: one zlib stream per message. */
const provide = (textBytes: number[]) =>
  serverExt(Provide | Text, Array.from(deflateSync(Uint8Array.from([...u32(textBytes.length), ...textBytes]))));
const classic = (bytes: number[]) => [3, 0, 0, 0, ...u32(bytes.length), ...bytes];
const OUR_CAPS = clientExt(Caps | Request | Peek | Notify | Provide | Text, u32(0));

/** The text inside a provide this client sent. */
function providedText(message: number[] | undefined): string {
  expect(message?.slice(0, 4)).toEqual([6, 0, 0, 0]);
  const bytes = Uint8Array.from(message ?? []);
  const view = new DataView(bytes.buffer);
  expect(-view.getInt32(4)).toBe(bytes.length - 8);
  expect(view.getUint32(8)).toBe(Provide | Text);
  const plain = inflateSync(bytes.subarray(12));
  const size = new DataView(plain.buffer, plain.byteOffset).getUint32(0);
  expect(size).toBe(plain.length - 4);
  expect(plain[plain.length - 1])
    .withContext("the NUL terminator")
    .toBe(0);
  return new TextDecoder().decode(plain.subarray(4, plain.length - 1));
}

function failsWith(code: ProtocolErrorCode, mention: string) {
  return (s: Session<ExtendedClipboardExtension>) => {
    expect(s.error?.code).withContext(mention).toBe(code);
    expect(s.error?.message).withContext(mention).toContain(mention);
    expect(s.client.closed).toBeTrue();
  };
}

describe("Extended clipboard", () => {
  it("answers caps, requests notified text and reports UTF-8 and Latin-1 text at every split point", () => {
    const bytes = [
      ...QEMU_CAPS,
      ...serverExt(Notify | Text),
      ...provide(utf8("héllo\r\nwörld ✓\0")),
      ...update(),
      // Each provide is its own zlib stream.
      ...provide(utf8("again\0")),
      // Text ends at the NUL; invalid UTF-8 is replaced, not fatal.
      ...provide([0x61, 0xff, 0x62, 0, 0x63]),
      ...classic(Array.from(ascii("caf\xe9!\r\n"))),
      // A notify without text asks for nothing.
      ...serverExt(Notify),
    ];
    everySplit(make, ENCODINGS, bytes, (s) => {
      expect(s.error).toBeNull();
      expect(s.events).toEqual([
        "available",
        'utf-8 "héllo\nwörld ✓"',
        'utf-8 "again"',
        'utf-8 "a\ufffdb"',
        'latin-1 "café!\n"',
      ]);
      expect(s.sent).toEqual([OUR_CAPS, clientExt(Request | Text)]);
      expect(s.ext.available).toBeTrue();
    });
  });

  it("advertises the unsolicited text size it is given", () => {
    const s = connected(
      (events) =>
        new ExtendedClipboardExtension({ clipboardText: (t) => events.push(t) }, { maxUnsolicitedText: 4096 }),
      ENCODINGS,
    );
    feed(s, QEMU_CAPS);
    expect(s.sent).toEqual([clientExt(Caps | Request | Peek | Notify | Provide | Text, u32(4096))]);
    expect(() => new ExtendedClipboardExtension({}, { maxUnsolicitedText: -1 })).toThrow();
  });

  it("falls back to Latin-1 ClientCutText without the server's caps", () => {
    const s = connected(make, ENCODINGS);
    expect(s.ext.setClipboard("a\r\nb€")).toBeTrue();
    expect(s.sent).toEqual([[6, 0, 0, 0, ...u32(4), 0x61, 0x0a, 0x62, 0x3f]]);
  });

  it("notifies QEMU of its text and provides it when asked, or notifies on a peek", () => {
    const s = connected(make, ENCODINGS);
    feed(s, QEMU_CAPS);
    // Nothing to provide or announce yet.
    feed(s, serverExt(Request | Text));
    feed(s, serverExt(Peek));
    expect(s.ext.setClipboard("x\ny ✓")).toBeTrue();
    feed(s, serverExt(Request | Text));
    feed(s, serverExt(Peek));
    expect(s.sent.length).toBe(5);
    expect(s.sent.slice(0, 3)).toEqual([OUR_CAPS, clientExt(Notify), clientExt(Notify | Text)]);
    expect(providedText(s.sent[3])).toBe("x\r\ny ✓");
    expect(s.sent[4]).toEqual(clientExt(Notify | Text));
  });

  it("provides unsolicited text up to the server's size, and Latin-1 beyond when it takes no notify", () => {
    const s = connected(make, ENCODINGS);
    feed(s, serverExt(Caps | Provide | Text, u32(8)));
    s.ext.setClipboard("1234567"); // 7 bytes and the NUL
    s.ext.setClipboard("12345678");
    expect(s.sent.length).toBe(3);
    expect(providedText(s.sent[1])).toBe("1234567");
    expect(s.sent[2]).toEqual([6, 0, 0, 0, ...u32(8), ...ascii("12345678")]);
  });

  it("writes zlib streams any inflater reads", () => {
    for (const n of [0, 1, 0xffff, 0x10000, 200_000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
      expect(inflateSync(zlibStored(data)).equals(data))
        .withContext(`${n} bytes`)
        .toBeTrue();
    }
  });

  it("refuses to send text QEMU would disconnect for", () => {
    const big = "x".repeat(1024 * 1024 + 1);
    for (const caps of [[], QEMU_CAPS]) {
      const s = connected(make, ENCODINGS);
      feed(s, caps);
      const before = s.sent.length;
      expect(() => s.ext.setClipboard(big)).toThrowMatching((e: Error) => e.message.includes("1048576"));
      expect(s.sent.length).toBe(before);
    }
  });

  it("bounds and checks what the server sends", () => {
    const cases: [number[], ProtocolErrorCode, string][] = [
      [[3, 0, 0, 0, ...s32(-(MAX_CLIPBOARD_BYTES + 1))], "limit", `limit ${MAX_CLIPBOARD_BYTES}`],
      [[3, 0, 0, 0, ...u32(MAX_CLIPBOARD_BYTES + 1)], "limit", `limit ${MAX_CLIPBOARD_BYTES}`],
      [[3, 0, 0, 0, ...s32(-0x80000000)], "limit", "2147483648 bytes"],
      [[3, 0, 0, 0, ...s32(-2), 0, 0], "malformed", "no room for its flags"],
      [serverExt(Caps | Text | (1 << 1), u32(0)), "malformed", "2 formats"],
      [serverExt(Provide | Text, [1, 2, 3, 4]), "malformed", "corrupt extended clipboard zlib data"],
      [serverExt(Provide | Text, Array.from(deflateSync(Uint8Array.of(0, 0, 0, 9, 0x61)))), "malformed", "9 bytes"],
      [serverExt(Provide | Text, Array.from(deflateSync(Uint8Array.of(0, 0)))), "malformed", "before its text size"],
    ];
    for (const [bytes, code, mention] of cases) everySplit(make, ENCODINGS, bytes, failsWith(code, mention));
  });

  it("stops inflating at 16 MiB", () => {
    const s = connected(make, ENCODINGS);
    feed(s, serverExt(Provide | Text, Array.from(deflateSync(new Uint8Array(MAX_CLIPBOARD_BYTES + 1)))));
    failsWith("limit", "more than 16777216 bytes")(s);
  });

  it("forgets the server's caps and our text when the connection ends", () => {
    const s = connected(make, ENCODINGS);
    feed(s, QEMU_CAPS);
    s.ext.setClipboard("x");
    s.client.close();
    expect(s.ext.available).toBeFalse();
    expect(s.ext.setClipboard("x")).toBeFalse();
  });
});
