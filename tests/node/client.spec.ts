import { type ClientHandler, RfbClient } from "../../src/protocol/client.js";
import { Encoding, SecurityType } from "../../src/protocol/constants.js";
import { vncAuthResponse } from "../../src/protocol/des.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat } from "../../src/protocol/pixel-format.js";
import { ascii, splits } from "./helpers.js";

// Byte builders for the server side of a conversation.
const u16 = (n: number) => [n >> 8, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const s32 = (n: number) => u32(n >>> 0);
const str = (s: string) => [...u32(s.length), ...ascii(s)];

function serverInit(width: number, height: number, name: string): number[] {
  return [...u16(width), ...u16(height), ...encodePixelFormat(DEFAULT_PIXEL_FORMAT), ...str(name)];
}
const rectHeader = (x: number, y: number, w: number, h: number, enc: number) => [
  ...u16(x),
  ...u16(y),
  ...u16(w),
  ...u16(h),
  ...s32(enc),
];

interface Log {
  sent: Uint8Array[];
  events: string[];
  error: ProtocolError | null;
}

function makeClient(options: { securityTypes?: number[]; password?: string } = {}) {
  const fb = new MemoryFramebuffer();
  const log: Log = { sent: [], events: [], error: null };
  let client: RfbClient | null = null;
  const handler: ClientHandler = {
    send: (d) => log.sent.push(d.slice()),
    failed: (e) => {
      if (log.error) throw new Error("failed twice");
      log.error = e;
    },
    credentialsRequired: (needed) => {
      log.events.push(`credentials password=${needed.password}`);
      if (options.password !== undefined) client?.setCredentials({ password: options.password });
    },
    connected: (info) =>
      log.events.push(`connected ${info.width}x${info.height} "${info.name}" 3.${info.version.minor}`),
    updateComplete: () => log.events.push("update"),
    resized: (w, h) => log.events.push(`resized ${w}x${h}`),
    desktopLayout: (l) =>
      log.events.push(
        `layout ${l.reason} ${l.status} ${l.width}x${l.height} ${l.screens.map((sc) => `#${sc.id}`).join(",")}`,
      ),
    desktopName: (n) => log.events.push(`name "${n}"`),
    bell: () => log.events.push("bell"),
    serverCutText: (t) => log.events.push(`cut "${t}"`),
    cursor: (c) =>
      log.events.push(
        `cursor ${c.width}x${c.height} @${c.hotX},${c.hotY} ${Array.from(c.pixels, (p) => p.toString(16)).join(" ")}`,
      ),
  };
  client = new RfbClient(
    { framebuffer: fb, ...(options.securityTypes ? { securityTypes: options.securityTypes } : {}) },
    handler,
  );
  return { client, fb, log };
}

/** Feeds `bytes` in each chunking and checks that the outcome never depends on it. */
function everySplit(
  bytes: number[],
  options: Parameters<typeof makeClient>[0],
  check: (r: ReturnType<typeof makeClient>) => void,
) {
  for (const chunks of splits(Uint8Array.from(bytes))) {
    const r = makeClient(options);
    for (const c of chunks) r.client.receive(c);
    check(r);
  }
}

const hello38 = [...ascii("RFB 003.008\n")];

describe("RfbClient handshake", () => {
  it("connects with security None over 3.8 and asks for the whole screen", () => {
    const bytes = [...hello38, 1, SecurityType.None, ...u32(0), ...serverInit(640, 480, "guest")];
    everySplit(bytes, {}, ({ log, fb, client }) => {
      expect(log.error).toBeNull();
      expect(log.events).toEqual(['connected 640x480 "guest" 3.8']);
      expect([fb.width, fb.height]).toEqual([640, 480]);
      expect(client.state).toBe("normal");
      expect(log.sent[0]).toEqual(ascii("RFB 003.008\n"));
      expect(Array.from(log.sent[1] ?? [])).toEqual([SecurityType.None]);
      expect(Array.from(log.sent[2] ?? [])).toEqual([1]); // ClientInit, shared
      expect(log.sent[3]?.[0]).toBe(0); // SetPixelFormat
      expect(log.sent[4]?.[0]).toBe(2); // SetEncodings
      expect(Array.from(log.sent[5] ?? [])).toEqual([3, 0, 0, 0, 0, 0, ...u16(640), ...u16(480)]);
    });
  });

  it("speaks 3.3, where the server picks the type and None has no SecurityResult", () => {
    const bytes = [...ascii("RFB 003.003\n"), ...u32(SecurityType.None), ...serverInit(8, 8, "old")];
    everySplit(bytes, {}, ({ log }) => {
      expect(log.error).toBeNull();
      expect(log.events).toEqual(['connected 8x8 "old" 3.3']);
      expect(log.sent[0]).toEqual(ascii("RFB 003.003\n"));
    });
  });

  it("answers a VNC authentication challenge with the password it is given", () => {
    const challenge = Array.from({ length: 16 }, (_, i) => i * 17);
    const bytes = [
      ...hello38,
      2,
      SecurityType.None,
      SecurityType.VncAuth,
      ...challenge,
      ...u32(0),
      ...serverInit(4, 4, ""),
    ];
    everySplit(bytes, { password: "secret" }, ({ log }) => {
      expect(log.error).toBeNull();
      expect(log.events).toEqual(["credentials password=true", 'connected 4x4 "" 3.8']);
      // VNC auth is preferred over None when both are offered.
      expect(Array.from(log.sent[1] ?? [])).toEqual([SecurityType.VncAuth]);
      expect(log.sent[2]).toEqual(vncAuthResponse("secret", Uint8Array.from(challenge)));
    });
  });

  it("waits for credentials and goes on when they are set later", () => {
    const { client, log } = makeClient();
    client.receive(Uint8Array.from([...hello38, 1, SecurityType.VncAuth, ...new Array<number>(16).fill(0)]));
    expect(log.events).toEqual(["credentials password=true"]);
    client.receive(Uint8Array.from([...u32(0), ...serverInit(2, 2, "x")]));
    expect(client.state).toBe("security-paused");
    client.setCredentials({ password: "pw" });
    expect(log.error).toBeNull();
    expect(client.state).toBe("normal");
  });

  it("reports a wrong password as auth-failed with the server's reason", () => {
    const bytes = [
      ...hello38,
      1,
      SecurityType.VncAuth,
      ...new Array<number>(16).fill(1),
      ...u32(1),
      ...str("bad password"),
    ];
    everySplit(bytes, { password: "x" }, ({ log, client }) => {
      expect(log.error?.code).toBe("auth-failed");
      expect(log.error?.message).toContain("bad password");
      expect(client.closed).toBeTrue();
    });
  });

  it("reports the server's refusal before security", () => {
    everySplit([...hello38, 0, ...str("too many connections")], {}, ({ log }) => {
      expect(log.error?.message).toContain("too many connections");
    });
  });

  it("refuses when no offered security type is allowed", () => {
    everySplit([...hello38, 2, 5, 99], { securityTypes: [SecurityType.None] }, ({ log }) => {
      expect(log.error?.code).toBe("unsupported");
      expect(log.sent.length).toBe(1);
    });
  });

  it("rejects what is not an RFB server", () => {
    const { client, log } = makeClient();
    client.receive(ascii("SSH-2.0-OpenSSH_9.2\r\n"));
    expect(log.error?.code).toBe("malformed");
    client.receive(Uint8Array.of(1, 2, 3));
    expect(log.events).toEqual([]);
  });

  it("bounds a hostile desktop size and name", () => {
    const huge = [
      ...hello38,
      1,
      1,
      ...u32(0),
      ...u16(20000),
      ...u16(10),
      ...encodePixelFormat(DEFAULT_PIXEL_FORMAT),
      ...str(""),
    ];
    everySplit(huge, {}, ({ log }) => expect(log.error?.code).toBe("limit"));
    const { client, log } = makeClient();
    client.receive(
      Uint8Array.from([
        ...hello38,
        1,
        1,
        ...u32(0),
        ...u16(1),
        ...u16(1),
        ...encodePixelFormat(DEFAULT_PIXEL_FORMAT),
        ...u32(0xfffffff0),
      ]),
    );
    expect(log.error?.code).toBe("limit");
  });
});

describe("RfbClient messages", () => {
  const connected = [...hello38, 1, 1, ...u32(0), ...serverInit(32, 16, "d")];

  it("handles updates, pseudo-encodings, bell and cut text at every split point", () => {
    const pixel = [0x10, 0x20, 0x30, 0];
    const bytes = [
      ...connected,
      0,
      0,
      ...u16(4),
      ...rectHeader(1, 2, 1, 1, Encoding.Raw),
      ...pixel,
      ...rectHeader(0, 0, 40, 20, Encoding.DesktopSize),
      ...rectHeader(0, 0, 0, 0, Encoding.DesktopName),
      ...str("renamed"),
      ...rectHeader(1, 0, 2, 1, Encoding.Cursor),
      1,
      2,
      3,
      0,
      4,
      5,
      6,
      0,
      0b10000000,
      2,
      3,
      0,
      0,
      0,
      ...u32(5),
      ...ascii("caf\xe9!"),
      0,
      0,
      ...u16(0xffff),
      ...rectHeader(39, 19, 1, 1, Encoding.Raw),
      ...pixel,
      ...rectHeader(0, 0, 0, 0, Encoding.LastRect),
    ];
    everySplit(bytes, {}, ({ log, fb }) => {
      expect(log.error).toBeNull();
      expect(log.events).toEqual([
        'connected 32x16 "d" 3.8',
        "resized 40x20",
        'name "renamed"',
        "cursor 2x1 @1,0 ff030201 0",
        "update",
        "bell",
        'cut "café!"',
        "update",
      ]);
      expect([fb.width, fb.height]).toEqual([40, 20]);
      expect(fb.pixels[19 * 40 + 39]).toBe(0xff302010);
    });
  });

  it("fails cleanly on rectangles outside the desktop, unknown messages and encodings", () => {
    const cases: [number[], string][] = [
      [[0, 0, ...u16(1), ...rectHeader(30, 0, 4, 1, Encoding.Raw)], "outside"],
      [[0, 0, ...u16(1), ...rectHeader(0, 0, 1, 1, 12345)], "encoding 12345"],
      [[77], "message type 77"],
      [[3, 0, 0, 0, ...u32(0x7fffffff)], "clipboard"],
      [[1, 0, ...u16(250), ...u16(10)], "colour map"],
      [[0, 0, ...u16(1), ...rectHeader(0, 0, 300, 2, Encoding.Cursor)], "cursor"],
    ];
    for (const [tail, mention] of cases) {
      everySplit([...connected, ...tail], {}, ({ log, client }) => {
        expect(log.error).withContext(mention).not.toBeNull();
        expect(log.error?.message).withContext(mention).toContain(mention);
        expect(client.closed).toBeTrue();
      });
    }
  });

  it("asks for an incremental update after each one, unless an extension pauses that", () => {
    const { client, log } = makeClient();
    client.receive(Uint8Array.from([...connected, 0, 0, ...u16(0)]));
    expect(Array.from(log.sent.at(-1) ?? [])).toEqual([3, 1, 0, 0, 0, 0, ...u16(32), ...u16(16)]);

    let paused = true;
    const sent: Uint8Array[] = [];
    const quiet = new RfbClient(
      { framebuffer: new MemoryFramebuffer(), extensions: [{ pausesUpdateRequests: () => paused }] },
      { send: (d) => sent.push(d), failed: () => undefined },
    );
    quiet.receive(Uint8Array.from([...connected, 0, 0, ...u16(0)]));
    expect(sent.filter((m) => m[0] === 3).length).toBe(1); // only the initial request
    paused = false;
    quiet.receive(Uint8Array.from([0, 0, ...u16(0)]));
    expect(sent.filter((m) => m[0] === 3).length).toBe(2);
  });

  it("lists every extension's pseudo-encodings after the ones asked for, once", () => {
    const sent: Uint8Array[] = [];
    const client = new RfbClient(
      {
        framebuffer: new MemoryFramebuffer(),
        encodings: [Encoding.Raw, -998],
        extensions: [{ pseudoEncodings: [-999] }, { advertisedEncodings: [-998, -997] }],
      },
      { send: (d) => sent.push(d), failed: () => undefined },
    );
    client.receive(Uint8Array.from(connected));
    const setEncodings = sent.find((m) => m[0] === 2);
    const view = new DataView((setEncodings ?? new Uint8Array(4)).buffer);
    const listed = Array.from({ length: view.getUint16(2) }, (_, i) => view.getInt32(4 + 4 * i));
    expect(listed).toEqual([Encoding.Raw, -998, -999, -997]);
  });

  it("sends input only while connected, clamping the pointer to the desktop", () => {
    const { client, log } = makeClient();
    expect(client.sendKey(true, 0x61)).toBeFalse();
    client.receive(Uint8Array.from(connected));
    const before = log.sent.length;
    expect(client.sendKey(true, 0xffe1)).toBeTrue();
    expect(client.sendPointer(500, -3, 0b101)).toBeTrue();
    expect(client.sendCutText("naïve €")).toBeTrue();
    expect(client.requestUpdate(false, { x: 1, y: 2, width: 3, height: 4 })).toBeTrue();
    expect(log.sent.slice(before).map((m) => Array.from(m))).toEqual([
      [4, 1, 0, 0, 0, 0, 0xff, 0xe1],
      [5, 0b101, ...u16(31), ...u16(0)],
      [6, 0, 0, 0, ...u32(7), ...ascii("na\xefve ?")],
      [3, 0, ...u16(1), ...u16(2), ...u16(3), ...u16(4)],
    ]);
    client.transportClosed("gone");
    expect(client.sendKey(false, 0xffe1)).toBeFalse();
  });

  it("resizes the remote desktop only where ExtendedDesktopSize was announced, and reports the answer", () => {
    const screen = [...u32(7), ...u16(0), ...u16(0), ...u16(32), ...u16(16), ...u32(0)];
    const bytes = [
      ...connected,
      0,
      0,
      ...u16(1),
      ...rectHeader(0, 0, 32, 16, Encoding.ExtendedDesktopSize),
      1,
      0,
      0,
      0,
      ...screen,
      0,
      0,
      ...u16(1),
      ...rectHeader(1, 3, 64, 48, Encoding.ExtendedDesktopSize),
      1,
      0,
      0,
      0,
      ...screen,
      0,
      0,
      ...u16(1),
      ...rectHeader(1, 0, 40, 20, Encoding.ExtendedDesktopSize),
      1,
      0,
      0,
      0,
      ...screen,
    ];
    everySplit(bytes, {}, ({ log, fb }) => {
      expect(log.error).toBeNull();
      expect(log.events.filter((e) => e.startsWith("layout") || e.startsWith("resized"))).toEqual([
        "layout server 0 32x16 #7",
        "layout client 3 64x48 #7",
        "resized 40x20",
        "layout client 0 40x20 #7",
      ]);
      expect([fb.width, fb.height]).toEqual([40, 20]);
    });
    const { client, log } = makeClient();
    client.receive(Uint8Array.from(connected));
    expect(client.setDesktopSize(800, 600)).toBeFalse();
    client.receive(Uint8Array.from(bytes.slice(connected.length, connected.length + 4 + 12 + 4 + 16)));
    expect(client.canResizeDesktop).toBeTrue();
    expect(client.setDesktopSize(800, 600)).toBeTrue();
    expect(Array.from(log.sent.at(-1) ?? [])).toEqual([
      251,
      0,
      ...u16(800),
      ...u16(600),
      1,
      0,
      ...u32(0),
      ...u16(0),
      ...u16(0),
      ...u16(800),
      ...u16(600),
      ...u32(0),
    ]);
    expect(() => client.setDesktopSize(0, 600)).toThrowError(ProtocolError);
  });

  it("takes alpha cursors as raw premultiplied R, G, B, A and undoes the premultiplication", () => {
    const bytes = [
      ...connected,
      0,
      0,
      ...u16(1),
      ...rectHeader(1, 0, 3, 1, Encoding.CursorWithAlpha),
      ...s32(Encoding.Raw),
      0xff,
      0x00,
      0x00,
      0xff, // opaque red
      0x40,
      0x20,
      0x00,
      0x80, // half-transparent (0x80, 0x40, 0x00)
      0x00,
      0x00,
      0x00,
      0x00, // transparent
    ];
    everySplit(bytes, {}, ({ log }) => {
      expect(log.error).toBeNull();
      expect(log.events[1]).toBe("cursor 3x1 @1,0 ffff0000 80804000 0");
    });
    const zrle = [
      ...connected,
      0,
      0,
      ...u16(1),
      ...rectHeader(0, 0, 1, 1, Encoding.CursorWithAlpha),
      ...s32(Encoding.ZRLE),
    ];
    everySplit(zrle, {}, ({ log }) => expect(log.error?.code).toBe("unsupported"));
  });

  it("sends buttons 8 and 9 in the extended PointerEvent once the server acknowledged it", () => {
    const { client, log } = makeClient();
    client.receive(Uint8Array.from(connected));
    expect(client.sendPointer(1, 2, 0x100)).toBeFalse(); // button 9 needs the extension
    expect(client.sendPointer(1, 2, 0x80)).toBeTrue(); // button 8 is plain bit 7
    client.receive(Uint8Array.from([0, 0, ...u16(1), ...rectHeader(0, 0, 0, 0, Encoding.ExtendedMouseButtons)]));
    expect(client.sendPointer(1, 2, 0x181)).toBeTrue();
    expect(client.sendPointer(1, 2, 0x01)).toBeTrue();
    const pointers = log.sent.filter((m) => m[0] === 5);
    expect(pointers.slice(-3).map((m) => Array.from(m))).toEqual([
      [5, 0x80, ...u16(1), ...u16(2)],
      [5, 0x81, ...u16(1), ...u16(2), 0x03],
      [5, 0x01, ...u16(1), ...u16(2)],
    ]);
  });

  it("reports a lost connection once", () => {
    const { client, log } = makeClient();
    client.receive(Uint8Array.from(connected));
    client.transportClosed("the server closed the connection");
    client.transportClosed("again");
    expect(log.error?.code).toBe("closed");
  });

  it("decodes in the pixel format a VMware display mode change announces", () => {
    const rgb565 = [16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0];
    const bytes = [
      ...connected,
      0,
      0,
      ...u16(1),
      ...rectHeader(0, 0, 20, 10, Encoding.VMwareDisplayModeChange),
      ...rgb565,
      0,
      0,
      ...u16(1),
      ...rectHeader(2, 3, 1, 1, Encoding.Raw),
      0xf8,
      0x00,
    ];
    everySplit(bytes, {}, ({ log, fb }) => {
      expect(log.error).toBeNull();
      expect(log.events).toEqual(['connected 32x16 "d" 3.8', "resized 20x10", "update", "update"]);
      expect(fb.pixels[3 * 20 + 2]).toBe(0xffff0000);
    });
  });
});
