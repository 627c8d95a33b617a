// The gateway's sans-IO protocol pieces one by one: the server side of the handshake, the
// proxy's own client handshake with the server behind it, the client-message parser's
// wire bytes, the RFB Streams server encoders and client-operation reader, and the shared
// device (ring, history, read allowance, writers in order). Every parser at every split.

import { ClientMessageParser } from "../../src/protocol/client-messages.js";
import { SecurityType, VeNCryptSubtype } from "../../src/protocol/constants.js";
import { vncAuthResponse } from "../../src/protocol/des.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import * as msg from "../../src/protocol/messages.js";
import { DEFAULT_PIXEL_FORMAT, encodePixelFormat } from "../../src/protocol/pixel-format.js";
import { describeLogin, type HandshakeResult, ServerHandshake } from "../../src/protocol/server/handshake.js";
import {
  encodeBackendState,
  encodeClosed,
  encodeListComplete,
  encodeOpenReply,
  encodeServerData,
  encodeServerWindow,
  encodeStreamAdded,
  encodeStreamRemoved,
  encodeStreamsAck,
  parseClientStreamOp,
} from "../../src/protocol/server/streams-wire.js";
import { UpstreamHandshake, type UpstreamInit } from "../../src/protocol/server/upstream.js";
import { encodeStreamData, encodeStreamOpen, encodeStreamWindow } from "../../src/protocol/streams.js";
import { formatVersion } from "../../src/protocol/version.js";
import { type DeviceReader, StreamDevice } from "../../src/gateway/device.js";
import { FakeBackend, FakeClock, u16, u32 } from "./gateway-helpers.js";
import { ascii, splits } from "./helpers.js";

const concat = (...parts: (Uint8Array | readonly number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => Array.from(p)));

const CHALLENGE = Uint8Array.from({ length: 16 }, (_, i) => i * 11);

interface ServerOutcome {
  sent: number[];
  result: unknown;
  error: ProtocolError | null;
}

function serverSide(
  chunks: Iterable<Uint8Array>,
  password: string | null,
  readOnly: string | null = null,
): ServerOutcome {
  const sent: number[] = [];
  const h = new ServerHandshake({
    password,
    readOnlyPassword: readOnly,
    challenge: () => CHALLENGE,
    send: (b) => sent.push(...b),
  });
  let result: unknown = null;
  try {
    for (const c of chunks) {
      // After ClientInit the bytes are the parser's (none are left here).
      if (result !== null) {
        if (c.length > 0) throw new Error("bytes after ClientInit");
        continue;
      }
      result = h.receive(c);
    }
    return { sent, result, error: null };
  } catch (e) {
    return { sent, result, error: e as ProtocolError };
  }
}

describe("ServerHandshake (the gateway towards a viewer)", () => {
  const v38 = formatVersion({ major: 3, minor: 8 });

  it("runs VNC authentication at every split point", () => {
    const viewer = concat(v38, [SecurityType.VncAuth], vncAuthResponse("secret", CHALLENGE), [1]);
    for (const chunks of splits(viewer)) {
      const o = serverSide(chunks, "secret");
      expect(o.error).toBeNull();
      expect(o.result).toEqual({
        version: { major: 3, minor: 8 },
        securityType: 2,
        shared: true,
        readOnly: false,
        subtype: null,
        username: null,
      });
      expect(o.sent).toEqual([...v38, 1, 2, ...CHALLENGE, ...u32(0)]);
    }
  });

  it("logs in read-only with the second password and refuses anything else with the 3.8 reason", () => {
    const ro = serverSide([concat(v38, [2], vncAuthResponse("look", CHALLENGE), [0])], "full", "look");
    expect(ro.result).toEqual(jasmine.objectContaining({ readOnly: true, shared: false }));
    const wrong = serverSide([concat(v38, [2], vncAuthResponse("nope", CHALLENGE), [1])], "full", "look");
    expect(wrong.error?.code).toBe("auth-failed");
    const reason = ascii("Authentication failed");
    expect(wrong.sent.slice(12 + 2 + 16)).toEqual([...u32(1), ...u32(reason.length), ...reason]);
  });

  it("speaks 3.7 (no SecurityResult for None) and 3.3 (the server's U32 type)", () => {
    const v37 = serverSide([concat(formatVersion({ major: 3, minor: 7 }), [1], [1])], null);
    expect(v37.result).toEqual(jasmine.objectContaining({ version: { major: 3, minor: 7 } }));
    expect(v37.sent).toEqual([...v38, 1, 1]);
    const v33 = serverSide(
      [concat(formatVersion({ major: 3, minor: 3 }), vncAuthResponse("pw", CHALLENGE), [1])],
      "pw",
    );
    expect(v33.result).toEqual(jasmine.objectContaining({ version: { major: 3, minor: 3 }, securityType: 2 }));
    expect(v33.sent).toEqual([...v38, ...u32(2), ...CHALLENGE, ...u32(0)]);
    // 3.5 is 3.3 to a server (RFC 6143 §7.1.1); a 3.3 failure has no reason.
    const v35 = serverSide([concat(formatVersion({ major: 3, minor: 5 }), vncAuthResponse("x", CHALLENGE))], "pw");
    expect(v35.error?.code).toBe("auth-failed");
    expect(v35.sent.slice(-4)).toEqual(u32(1));
  });

  it("refuses what is not RFB and security types it did not offer", () => {
    expect(serverSide([ascii("GET / HTTP/1.1\n")], null).error?.code).toBe("malformed");
    const other = serverSide([concat(v38, [SecurityType.VeNCrypt])], null);
    expect(other.error).toBeInstanceOf(ProtocolError);
    expect(other.sent.slice(14, 18)).toEqual(u32(1));
    const none = serverSide([concat(v38, [SecurityType.None])], "pw");
    expect(none.error?.code).toBe("unsupported");
  });

  it("leaves the messages after ClientInit in its parser", () => {
    const sent: number[] = [];
    const h = new ServerHandshake({ password: null, challenge: () => CHALLENGE, send: (b) => sent.push(...b) });
    const r = h.receive(concat(v38, [1], [1], msg.framebufferUpdateRequest(true, 0, 0, 4, 4)));
    expect(r?.shared).toBeTrue();
    expect(h.parser.next()?.type).toBe("framebuffer-update-request");
  });
});

interface TlsOutcome extends Omit<ServerOutcome, "result"> {
  result: HandshakeResult | null;
  /** Bytes sent before TLS started (in the clear) and after (inside TLS). */
  clear: number[];
  startedTls: boolean;
}

/**
 * A VeNCrypt login: `clear` is what the viewer sends before TLS, `inner` what it sends
 * inside TLS (the test stands in for the TLS layer: it calls tlsEstablished() when asked
 * to start TLS). Every split of both parts.
 */
function tlsServerSide(
  clear: Iterable<Uint8Array>,
  inner: Iterable<Uint8Array>,
  password: string | null,
  readOnly: string | null = null,
): TlsOutcome {
  const sent: number[] = [];
  // An object, not two variables: TypeScript does not see the callback set them.
  const tls = { started: false, clearSent: [] as number[] };
  const h = new ServerHandshake({
    password,
    readOnlyPassword: readOnly,
    challenge: () => CHALLENGE,
    send: (b) => sent.push(...b),
    startTls: () => {
      tls.started = true;
      tls.clearSent = [...sent];
    },
  });
  let result: HandshakeResult | null = null;
  try {
    for (const c of clear) result = h.receive(c);
    if (!tls.started) return { sent, clear: [...sent], result, error: null, startedTls: false };
    result = h.tlsEstablished();
    for (const c of inner) result ??= h.receive(c);
    return { sent: sent.slice(tls.clearSent.length), clear: tls.clearSent, result, error: null, startedTls: true };
  } catch (e) {
    const clearPart = tls.started ? tls.clearSent : [...sent];
    const error = e as ProtocolError;
    return { sent: sent.slice(clearPart.length), clear: clearPart, result, error, startedTls: tls.started };
  }
}

function plain(username: string, password: string): number[] {
  const u = new TextEncoder().encode(username);
  const p = new TextEncoder().encode(password);
  return [...u32(u.length), ...u32(p.length), ...u, ...p];
}

describe("ServerHandshake with VeNCrypt (the gateway with a certificate)", () => {
  const v38 = formatVersion({ major: 3, minor: 8 });
  const choose = (subtype: number) => concat(v38, [SecurityType.VeNCrypt], [0, 2], u32(subtype));
  const offer = (...subtypes: number[]) => [
    ...v38,
    1,
    SecurityType.VeNCrypt,
    0,
    2,
    0,
    subtypes.length,
    ...subtypes.flatMap((t) => u32(t)),
    1,
  ];

  it("runs X509Vnc: version, sub-types, TLS, then VNC authentication, at every split point", () => {
    const before = choose(VeNCryptSubtype.X509Vnc);
    const inside = concat(vncAuthResponse("secret", CHALLENGE), [1]);
    for (const a of splits(before)) {
      const o = tlsServerSide(a, [inside], "secret");
      expect(o.error).toBeNull();
      expect(o.startedTls).toBeTrue();
      expect(o.clear).toEqual(offer(VeNCryptSubtype.X509Vnc, VeNCryptSubtype.X509Plain));
    }
    for (const b of splits(inside)) {
      const o = tlsServerSide([before], b, "secret");
      expect(o.error).toBeNull();
      expect(o.sent).toEqual([...CHALLENGE, ...u32(0)]);
      expect(o.result).toEqual({
        version: { major: 3, minor: 8 },
        securityType: SecurityType.VeNCrypt,
        shared: true,
        readOnly: false,
        subtype: VeNCryptSubtype.X509Vnc,
        username: null,
      });
    }
  });

  it("runs X509Plain with the full password, the read-only one, and refuses a wrong one", () => {
    const before = choose(VeNCryptSubtype.X509Plain);
    const inside = concat(plain("alice", "a long password, past DES's 8"), [0]);
    for (const b of splits(inside)) {
      const o = tlsServerSide([before], b, "a long password, past DES's 8", "viewer");
      expect(o.error).toBeNull();
      expect(o.sent).toEqual(u32(0));
      expect(o.result).toEqual(jasmine.objectContaining({ username: "alice", readOnly: false, shared: false }));
    }
    const ro = tlsServerSide([before], [concat(plain("bob", "viewer"), [1])], "full", "viewer");
    expect(ro.result).toEqual(jasmine.objectContaining({ username: "bob", readOnly: true }));
    expect(ro.result && describeLogin(ro.result)).toBe('VeNCrypt X509Plain as "bob", read-only, RFB 3.8');
    // Only the whole password counts (Plain has no DES truncation).
    const wrong = tlsServerSide([before], [concat(plain("alice", "a long password"), [1])], "a long password, past");
    expect(wrong.error?.code).toBe("auth-failed");
    const reason = ascii("Authentication failed");
    expect(wrong.sent).toEqual([...u32(1), ...u32(reason.length), ...reason]);
  });

  it("runs X509None without a password: a SecurityResult as soon as TLS is up", () => {
    const o = tlsServerSide([choose(VeNCryptSubtype.X509None)], [Uint8Array.of(1)], null);
    expect(o.error).toBeNull();
    expect(o.clear).toEqual(offer(VeNCryptSubtype.X509None));
    expect(o.sent).toEqual(u32(0));
    expect(o.result && describeLogin(o.result)).toBe("VeNCrypt X509None, RFB 3.8");
  });

  it("refuses another VeNCrypt version, a sub-type it did not offer, and clear bytes where TLS belongs", () => {
    const version = tlsServerSide([concat(v38, [SecurityType.VeNCrypt], [0, 1])], [], "pw");
    expect(version.error?.code).toBe("unsupported");
    expect(version.clear.slice(-1)).toEqual([255]);
    expect(version.startedTls).toBeFalse();
    for (const subtype of [VeNCryptSubtype.X509None, VeNCryptSubtype.Plain, VeNCryptSubtype.TLSVnc, 7]) {
      const o = tlsServerSide([choose(subtype)], [], "pw");
      expect(o.error?.code).withContext(String(subtype)).toBe("unsupported");
      expect(o.clear.slice(-1)).toEqual([0]);
      expect(o.startedTls).toBeFalse();
    }
    // A ClientHello is TLS's; bytes the viewer sent with its sub-type were sent in the clear.
    const early = tlsServerSide([concat(choose(VeNCryptSubtype.X509Vnc), [0x16, 3, 1])], [], "pw");
    expect(early.startedTls).toBeTrue();
    expect(early.error?.code).toBe("malformed");
  });

  it("offers nothing but VeNCrypt, and tells an RFB 3.3 viewer why in 3.3's failure form", () => {
    const none = tlsServerSide([concat(v38, [SecurityType.VncAuth])], [], "pw");
    expect(none.error?.code).toBe("unsupported");
    const old = tlsServerSide([formatVersion({ major: 3, minor: 3 })], [], "pw");
    expect(old.error?.code).toBe("unsupported");
    const reason = ascii("This server requires TLS (VeNCrypt), which needs RFB 3.7 or later");
    expect(old.clear.slice(12)).toEqual([...u32(0), ...u32(reason.length), ...reason]);
  });

  it("bounds Plain's lengths before buffering them", () => {
    const o = tlsServerSide([choose(VeNCryptSubtype.X509Plain)], [concat(u32(1 << 30), u32(4))], "pw");
    expect(o.error?.code).toBe("malformed");
  });
});

function serverInit(name = "QEMU"): number[] {
  return [...u16(640), ...u16(480), ...encodePixelFormat(DEFAULT_PIXEL_FORMAT), ...u32(name.length), ...ascii(name)];
}

function upstreamSide(
  chunks: Iterable<Uint8Array>,
  shared = true,
): { sent: number[]; init: UpstreamInit | null; error: ProtocolError | null } {
  const sent: number[] = [];
  const h = new UpstreamHandshake(shared, (b) => sent.push(...b));
  let init: UpstreamInit | null = null;
  try {
    for (const c of chunks) init ??= h.receive(c);
    return { sent, init, error: null };
  } catch (e) {
    return { sent, init, error: e as ProtocolError };
  }
}

describe("UpstreamHandshake (the gateway towards the VNC server)", () => {
  it("gets ServerInit as sent, and what follows, at every split point", () => {
    const server = concat(ascii("RFB 003.008\n"), [2, 2, 1], u32(0), serverInit(), [2]);
    for (const chunks of splits(server)) {
      const o = upstreamSide(chunks, false);
      expect(o.error).toBeNull();
      expect(o.sent).toEqual([...ascii("RFB 003.008\n"), 1, 0]);
      expect(o.init?.serverInit).toEqual(Uint8Array.from(serverInit()));
      expect([o.init?.width, o.init?.height, o.init?.name]).toEqual([640, 480, "QEMU"]);
      // The Bell after ServerInit is either in `rest` or in a later chunk, never lost.
      const restLength = o.init?.rest.length ?? -1;
      expect(restLength === 1 || restLength === 0).toBeTrue();
    }
  });

  it("speaks 3.7 and 3.3 servers without authentication", () => {
    const v37 = upstreamSide([concat(ascii("RFB 003.007\n"), [1, 1], serverInit())]);
    expect(v37.init?.version).toEqual({ major: 3, minor: 7 });
    const v33 = upstreamSide([concat(ascii("RFB 003.003\n"), u32(1), serverInit())]);
    expect(v33.init?.version).toEqual({ major: 3, minor: 3 });
    expect(v33.sent).toEqual([...ascii("RFB 003.003\n"), 1]);
  });

  it("explains a server that wants a password or refuses", () => {
    const auth = upstreamSide([concat(ascii("RFB 003.008\n"), [1, 2])]);
    expect(auth.error?.message).toContain("VNC authentication");
    const refused = upstreamSide([concat(ascii("RFB 003.008\n"), [0], u32(4), ascii("busy"))]);
    expect(refused.error?.message).toContain("busy");
    const failed = upstreamSide([concat(ascii("RFB 003.008\n"), [1, 1], u32(1), u32(2), ascii("no"))]);
    expect(failed.error?.message).toContain("no");
  });
});

describe("ClientMessageParser.nextWithBytes", () => {
  it("returns each message's exact wire bytes at every split point", () => {
    const parts = [
      msg.setPixelFormat(DEFAULT_PIXEL_FORMAT),
      msg.setEncodings([0, 7, -262]),
      msg.keyEvent(true, 0x61),
      encodeStreamOpen(1, 65536, 3),
      encodeStreamData(1, ascii("hello")),
      msg.pointerEvent(3, 4, 1),
    ];
    const stream = concat(...parts);
    for (const chunks of splits(stream)) {
      const parser = new ClientMessageParser({ handshake: false });
      const got: number[][] = [];
      for (const c of chunks) {
        parser.push(c);
        for (let m = parser.nextWithBytes(); m !== null; m = parser.nextWithBytes()) got.push(Array.from(m.bytes));
      }
      expect(got).toEqual(parts.map((p) => Array.from(p)));
    }
  });
});

describe("RFB Streams server encoders and client operations", () => {
  it("writes spec §8's server lines byte for byte", () => {
    expect(Array.from(encodeStreamsAck())).toEqual([0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xfe, 0xfa]);
    expect(Array.from(encodeStreamAdded(1, 5, "serial0", "Serial", "serial"))).toEqual([
      0xff,
      2,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0x1d,
      0,
      0,
      0,
      5,
      0,
      7,
      ...ascii("serial0"),
      0,
      6,
      ...ascii("Serial"),
      0,
      6,
      ...ascii("serial"),
    ]);
    expect(Array.from(encodeListComplete())).toEqual([0xff, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(encodeOpenReply(1, 0, 4096, 5))).toEqual([
      0xff, 2, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 5,
    ]);
    expect(Array.from(encodeServerData(1, ascii("login")))).toEqual([
      0xff,
      2,
      0,
      4,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      5,
      ...ascii("login"),
    ]);
  });

  it("writes the other operations with their documented payloads", () => {
    expect(Array.from(encodeStreamRemoved(3))).toEqual([0xff, 2, 0, 1, ...u32(3), ...u32(0)]);
    expect(Array.from(encodeServerWindow(2, 32768))).toEqual([0xff, 2, 0, 5, ...u32(2), ...u32(4), ...u32(32768)]);
    expect(Array.from(encodeClosed(2, 7, "slow"))).toEqual([
      0xff,
      2,
      0,
      6,
      ...u32(2),
      ...u32(10),
      ...u32(7),
      0,
      4,
      ...ascii("slow"),
    ]);
    expect(Array.from(encodeBackendState(2, false))).toEqual([0xff, 2, 0, 7, ...u32(2), ...u32(4), ...u32(0)]);
    expect(() => encodeStreamAdded(1, 0, "x".repeat(257), "l", "serial")).toThrowError(RangeError);
    expect(() => encodeServerData(1, new Uint8Array(0))).toThrowError(RangeError);
  });

  it("reads the client's operations, skips unknown ones and refuses short payloads", () => {
    const open = encodeStreamOpen(4, 100, 3);
    expect(parseClientStreamOp(0, 4, open.subarray(12))).toEqual({ op: 0, id: 4, readWindow: 100, flags: 3 });
    expect(parseClientStreamOp(3, 4, encodeStreamWindow(4, 9).subarray(12))).toEqual({ op: 3, id: 4, increment: 9 });
    expect(parseClientStreamOp(0, 4, concat(open.subarray(12), [1, 2]))).toEqual(
      jasmine.objectContaining({ flags: 3 }),
    );
    expect(parseClientStreamOp(42, 4, Uint8Array.of(1))).toBeNull();
    expect(() => parseClientStreamOp(0, 4, open.subarray(12, 19))).toThrowMatching(
      (e: unknown) => e instanceof ProtocolError && e.code === "malformed" && e.message.includes("flags"),
    );
    expect(() => parseClientStreamOp(4, 4, Uint8Array.of(0, 0))).toThrowMatching(
      (e: unknown) => e instanceof ProtocolError && e.message.includes("duration"),
    );
  });
});

class Reader implements DeviceReader {
  readonly events: string[] = [];
  dataAvailable(): void {
    this.events.push("data");
  }
  backendState(connected: boolean): void {
    this.events.push(`backend ${connected ? 1 : 0}`);
  }
  written(n: number): void {
    this.events.push(`written ${n}`);
  }
  slowReader(): void {
    this.events.push("slow");
  }
}

function device(history: number, limits = { slack: 64, maxRead: 16, slowReaderMs: 100 }) {
  const backend = new FakeBackend();
  const clock = new FakeClock();
  const d = new StreamDevice(
    { id: 1, name: "s", label: "s", kind: "serial", writable: true, historyBytes: history },
    backend,
    clock,
    limits,
  );
  backend.device = d;
  d.setConnected(true);
  return { d, backend, clock };
}

const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

describe("StreamDevice", () => {
  it("keeps the last history bytes across ring wrap-arounds", () => {
    const { d, backend } = device(10);
    for (let i = 0; i < 30; i++) {
      backend.output(`line${i};`);
      backend.pumpReads();
    }
    const r = new Reader();
    expect(d.attach(r, true)).toBe(10);
    expect(text(d.take(r, 100))).toBe("e28;line29;".slice(-10));
    expect(d.take(r, 100)).toBeNull();
  });

  it("reads without readers, and with readers only while they keep up", () => {
    const { d, backend } = device(0);
    backend.output("x".repeat(500));
    expect(backend.pumpReads()).toBe(500);
    const r = new Reader();
    d.attach(r, false);
    backend.output("y".repeat(500));
    // Reading stops once the reader is `slack` (64) bytes behind.
    expect(backend.pumpReads()).toBe(64);
    expect(d.readAllowance()).toBe(0);
    expect(text(d.take(r, 10))).toBe("yyyyyyyyyy");
    expect(d.readAllowance()).toBe(10);
  });

  it("never lets a history reader's unsent bytes be overwritten", () => {
    const { d, backend } = device(32);
    backend.output("a".repeat(32));
    backend.pumpReads();
    const r = new Reader();
    expect(d.attach(r, true)).toBe(32);
    backend.output("b".repeat(1000));
    backend.pumpReads();
    // 32 history bytes plus 64 of slack: all still there, in order.
    const got = text(d.take(r, 1000));
    expect(got).toBe("a".repeat(32) + "b".repeat(64));
  });

  it("writes the writers' input in arrival order and credits each writer", () => {
    const { d, backend } = device(0);
    backend.autoWrite = false;
    const a = new Reader();
    const b = new Reader();
    d.attach(a, false);
    d.attach(b, false);
    d.write(a, ascii("one "));
    d.write(b, ascii("two "));
    d.write(a, ascii("three"));
    expect(d.queuedInput).toBe(13);
    backend.flushWrites();
    expect(text(Uint8Array.from(backend.written))).toBe("one two three");
    // Joined into one write; each writer is credited its own part.
    expect(a.events).toEqual(["written 9"]);
    expect(b.events).toEqual(["written 4"]);
  });

  it("credits a partial write of joined input to the writers in order", () => {
    const { d, backend } = device(0);
    backend.autoWrite = false;
    const a = new Reader();
    const b = new Reader();
    d.attach(a, false);
    d.attach(b, false);
    d.write(a, ascii("aaaa"));
    d.write(b, ascii("bbbb"));
    expect(text(d.nextWrite())).toBe("aaaabbbb");
    d.wrote(6);
    expect(a.events).toEqual(["written 4"]);
    expect(b.events).toEqual(["written 2"]);
    expect(text(d.nextWrite())).toBe("bb");
    d.wrote(2);
    expect(b.events).toEqual(["written 2", "written 2"]);
    expect(d.queuedInput).toBe(0);
  });

  it("writes again after a reconnection what it could not confirm, and tells readers", () => {
    const { d, backend } = device(0);
    backend.autoWrite = false;
    const r = new Reader();
    d.attach(r, false);
    d.write(r, ascii("abc"));
    expect(text(d.nextWrite())).toBe("abc");
    d.setConnected(false);
    d.wrote(3); // a late completion of the write the disconnection interrupted: ignored
    expect(d.nextWrite()).toBeNull();
    d.setConnected(true);
    expect(text(d.nextWrite())).toBe("abc");
    d.wrote(2);
    expect(text(d.nextWrite())).toBe("c");
    expect(r.events).toEqual(["backend 0", "backend 1", "written 2"]);
  });

  it("closes only the reader that holds back another waiting one, after the limit", () => {
    const { d, backend, clock } = device(0);
    const slow = new Reader();
    const fast = new Reader();
    d.attach(slow, false);
    d.attach(fast, false);
    backend.output("z".repeat(200));
    backend.pumpReads();
    d.take(fast, 1000);
    clock.advance(99);
    expect(slow.events).not.toContain("slow");
    clock.advance(1);
    expect(slow.events).toContain("slow");
    expect(d.readers).toBe(1);
    // The device reads on for the remaining reader.
    expect(backend.pumpReads()).toBeGreaterThan(0);
  });
});
