// The gateway's relay, streams session and devices together, without sockets: Porthole's
// own client (RfbClient + StreamsExtension) and hand-written hostile viewers on one side,
// a scripted RFB server and fake devices on the other. Checks the RFB Streams contract's
// server rules (spec §2 negotiation, §4–§5 operations, §6 flow control, §7 errors).

import { Encoding } from "../../src/protocol/constants.js";
import * as msg from "../../src/protocol/messages.js";
import { CloseReason, OpenStatus, StreamsServerOp } from "../../src/protocol/streams.js";
import { DEFAULT_RELAY_LIMITS } from "../../src/gateway/relay.js";
import {
  portholeViewer,
  PREAMBLE_NONE,
  Rig,
  type RigViewer,
  splitViewerMessages,
  u16,
  u32,
  VIEWER_HANDSHAKE_NONE,
  type ViewerMessage,
} from "./gateway-helpers.js";
import { C } from "./streams-helpers.js";

/** A raw viewer past the handshake that listed `encodings` (default Raw and -262). */
function rawViewer(rig: Rig, encodings: number[] = [Encoding.Raw, Encoding.Streams]): RigViewer {
  const v = rig.viewer();
  v.send(VIEWER_HANDSHAKE_NONE);
  rig.settle();
  v.send(msg.setEncodings(encodings));
  rig.settle();
  return v;
}

function messages(v: RigViewer): ViewerMessage[] {
  return splitViewerMessages(v.toViewer.slice(PREAMBLE_NONE));
}

function streamMessages(v: RigViewer): { op: number; id: number; payload: number[] }[] {
  return messages(v).flatMap((m) => (m.kind === "stream" ? [m] : []));
}

/** The stream messages after the first `skip`, as op/id/U32 first field. */
function replies(v: RigViewer, skip = 0): string[] {
  return streamMessages(v)
    .slice(skip)
    .map((m) => {
      const first = m.payload.length >= 4 ? new DataView(Uint8Array.from(m.payload).buffer).getUint32(0) : null;
      return `${m.op} ${m.id}${first === null ? "" : ` ${first}`}`;
    });
}

const LISTING = 2; // STREAM_ADDED for one device, LIST_COMPLETE

/** Settles, letting microtasks (credential answers) run in between. */
async function settleAll(rig: Rig): Promise<void> {
  for (let i = 0; i < 5; i++) {
    rig.settle();
    await Promise.resolve();
  }
}

function random(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("gateway relay with Porthole's client", () => {
  it("passes the display through and serves the stream list after the ack", () => {
    const rig = new Rig([
      { name: "serial0", label: "Serial port 1" },
      { name: "log", writable: false, history: 0, kind: "channel" },
    ]);
    const pv = portholeViewer(rig);
    rig.settle();
    expect(pv.error).toBeNull();
    expect(pv.client.connected).toBeTrue();
    expect([pv.client.framebuffer.width, pv.client.framebuffer.height]).toEqual([16, 8]);
    expect(pv.rig.upstream.shared).toBeTrue();
    // The upstream never hears of -262.
    const sent = pv.rig.upstream.received.find((m) => m.type === "set-encodings");
    expect(sent?.type === "set-encodings" && sent.encodings).toEqual([
      Encoding.Raw,
      Encoding.CopyRect,
      Encoding.DesktopSize,
    ]);
    expect(pv.events).toEqual(["ack 1", "added 1 serial0 5", "added 2 log 0", "list-complete"]);
    // The raw update answering the viewer's request arrived (every byte 1).
    expect(pv.rig.upstream.received.some((m) => m.type === "framebuffer-update-request")).toBeTrue();
    expect(pv.client.framebuffer.pixels?.[0]).toBe(0xff010101);
  });

  it("round-trips 200 KB through an echo device byte for byte with small windows", () => {
    const rig = new Rig();
    rig.device.backend.echo = true;
    const pv = portholeViewer(rig, { writeWindow: 512 });
    rig.settle();
    pv.streams.open(1, { readWindow: 300, history: false });
    rig.settle();
    const payload = random(200_000);
    let at = 0;
    for (let round = 0; at < payload.length && round < 10_000; round++) {
      const piece = payload.subarray(at, Math.min(payload.length, at + 3000));
      if (pv.streams.write(1, piece) === "accepted") at += piece.length;
      rig.settle();
    }
    expect(at).toBe(payload.length);
    rig.settle();
    expect(pv.error).toBeNull();
    expect(Uint8Array.from(pv.data.get(1) ?? [])).toEqual(payload);
    expect(Uint8Array.from(rig.device.backend.written)).toEqual(payload);
    // Credit was exercised: DATA never exceeded the 300-byte window.
    expect(pv.events.filter((e) => e.startsWith("data")).every((e) => Number(e.split(" ").at(-1)) <= 300)).toBeTrue();
  });

  it("replays output from before the viewer came as history, then live output", () => {
    const rig = new Rig([{ name: "serial0", history: 16 }]);
    rig.device.backend.output("0123456789abcdefBOOT DONE\r\n");
    rig.settle();
    const pv = portholeViewer(rig);
    rig.settle();
    pv.streams.open(1);
    rig.settle();
    rig.device.backend.output("login: ");
    rig.settle();
    // The last 16 bytes were kept.
    expect(pv.events).toContain("opened 1 ww=4096 hist=16");
    expect(new TextDecoder().decode(Uint8Array.from(pv.data.get(1) ?? []))).toBe("bcdefBOOT DONE\r\nlogin: ");
    expect(pv.events.filter((e) => e.startsWith("data"))).toEqual(["data 1 history 16", "data 1 7"]);
    expect(pv.events).toContain("backend 1 1");
  });

  it("puts stream messages only between the server's messages, updates first", () => {
    const rig = new Rig();
    const v = rawViewer(rig);
    v.send(C.open(1, 65536, 0));
    rig.settle();
    v.upstream.answerRequests = false;
    // A 16×8 raw update arrives in 7-byte pieces, with device output arriving meanwhile.
    const update = v.upstream.rawUpdate(9);
    for (let at = 0; at < update.length; at += 7) {
      v.upstream.out.push(update.subarray(at, at + 7));
      rig.device.backend.output("x");
      rig.settle();
    }
    const all = messages(v);
    const updateIndex = all.findIndex((m) => m.kind === "update" && m.rects[0]?.encoding === Encoding.Raw);
    const data = all.filter((m) => m.kind === "stream" && m.op === StreamsServerOp.Data);
    expect(updateIndex).toBeGreaterThan(0);
    // splitViewerMessages would have thrown on a stream message inside the update.
    expect(data.reduce((n, m) => n + (m.kind === "stream" ? m.payload.length : 0), 0)).toBe(
      Math.ceil(update.length / 7),
    );
  });

  it("logs in with the VNC password and refuses a wrong one with the 3.8 reason", async () => {
    const rig = new Rig();
    const good = portholeViewer(rig, { password: "secret", viewerPassword: "secret" });
    const bad = portholeViewer(rig, { password: "secret", viewerPassword: "guess" });
    await settleAll(rig);
    expect(good.error).toBeNull();
    expect(good.client.connected).toBeTrue();
    expect(bad.error?.code).toBe("auth-failed");
    expect(bad.error?.message).toContain("Authentication failed");
    expect(bad.rig.ended).toEqual(jasmine.objectContaining({ error: true, drain: true }));
    expect(bad.rig.ended?.reason).toContain("authentication failed");
  });

  it("gives a read-only login read-only streams and no input", async () => {
    const rig = new Rig();
    const pv = portholeViewer(rig, { password: "full", readOnlyPassword: "look", viewerPassword: "look" });
    await settleAll(rig);
    expect(pv.client.connected).toBeTrue();
    expect(pv.rig.relay.login?.readOnly).toBeTrue();
    pv.client.sendKey(true, 0x61);
    pv.client.sendPointer(1, 1, 1);
    // The listing tells this viewer the stream is not writable, so its client opens read-only
    // (a write OPEN sent anyway is DENIED: gateway-console.spec.ts sends one raw).
    expect(() => pv.streams.open(1, { write: true })).toThrowError(/not writable/);
    pv.streams.open(1, { write: false });
    rig.settle();
    expect(pv.events).toContain("opened 1 ww=0 hist=0");
    expect(pv.rig.upstream.received.map((m) => m.type)).not.toContain("key-event");
    expect(pv.rig.upstream.received.map((m) => m.type)).not.toContain("pointer-event");
  });

  it("reports the device's connection and keeps input for it while it is away", () => {
    const rig = new Rig();
    const pv = portholeViewer(rig, { writeWindow: 8 });
    rig.settle();
    pv.streams.open(1);
    rig.settle();
    rig.device.device.setConnected(false);
    rig.settle();
    expect(pv.events).toContain("backend 1 0");
    expect(pv.streams.write(1, new TextEncoder().encode("0123456789ab"))).toBe("accepted");
    rig.settle();
    // 8 bytes of credit went out and wait; nothing was written or granted back.
    expect(rig.device.backend.written).toEqual([]);
    expect(pv.streams.queuedBytes(1)).toBe(4);
    rig.device.device.setConnected(true);
    rig.settle();
    expect(new TextDecoder().decode(Uint8Array.from(rig.device.backend.written))).toBe("0123456789ab");
    expect(pv.events.at(-1)).toBe("backend 1 1");
  });

  it("closes open streams with reason 6 on shutdown, between messages", () => {
    const rig = new Rig();
    const pv = portholeViewer(rig);
    rig.settle();
    pv.streams.open(1);
    rig.settle();
    // Shut down in the middle of an update: the rest of it comes first.
    pv.rig.upstream.answerRequests = false;
    const update = pv.rig.upstream.rawUpdate(3);
    pv.rig.upstream.out.push(update.subarray(0, 100));
    rig.settle();
    pv.rig.relay.shutdown();
    rig.settle();
    expect(pv.rig.ended).toBeNull();
    pv.rig.upstream.out.push(update.subarray(100));
    rig.settle();
    expect(pv.rig.ended).toEqual({ reason: "the gateway is shutting down", error: false, drain: true });
    expect(pv.events.at(-1)).toBe("closed 1 6");
    expect(pv.error).toBeNull();
    expect(pv.client.framebuffer.pixels?.[0]).toBe(0xff030303);
  });
});

describe("gateway relay: negotiation (spec §2)", () => {
  it("sends nothing of RFB Streams to a viewer that does not list -262", () => {
    const rig = new Rig();
    const v = rawViewer(rig, [Encoding.Raw]);
    v.send(msg.framebufferUpdateRequest(false, 0, 0, 16, 8));
    rig.device.backend.output("boot");
    rig.settle();
    const all = messages(v);
    expect(all.length).toBe(1);
    expect(all.every((m) => m.kind === "update" && m.rects.every((r) => r.encoding !== Encoding.Streams))).toBeTrue();
  });

  it("keeps -262 and encodings it cannot frame from the server", () => {
    const rig = new Rig();
    const v = rawViewer(rig, [16, 15, 50, Encoding.Streams, Encoding.Cursor, -27, 8, Encoding.Fence]);
    const sent = v.upstream.received.find((m) => m.type === "set-encodings");
    expect(sent?.type === "set-encodings" && sent.encodings).toEqual([16, Encoding.Cursor, -27, Encoding.Fence]);
  });

  it("acks a later SetEncodings that still lists -262 without a new listing, and closes on one that does not", () => {
    const rig = new Rig();
    const v = rawViewer(rig);
    v.send(C.open(1, 1000, 1));
    rig.settle();
    v.send(msg.setEncodings([Encoding.Raw, Encoding.Streams]));
    rig.settle();
    const acks = () =>
      messages(v).filter((m) => m.kind === "update" && m.rects.some((r) => r.encoding === Encoding.Streams)).length;
    expect(acks()).toBe(2);
    expect(streamMessages(v).filter((m) => m.op === StreamsServerOp.StreamAdded).length).toBe(1);
    v.send(msg.setEncodings([Encoding.Raw]));
    rig.settle();
    expect(replies(v).at(-1)).toBe(`${StreamsServerOp.Closed} 1 ${CloseReason.Disabled}`);
    const count = streamMessages(v).length;
    rig.device.backend.output("more output");
    rig.settle();
    expect(streamMessages(v).length).toBe(count);
    // Any 255/2 now is a violation (spec §2.6).
    v.send(C.open(1, 1000, 0));
    rig.settle();
    expect(v.ended?.error).toBeTrue();
    expect(v.ended?.reason).toContain("without listing -262");
  });

  it("takes back an ack not yet sent when the viewer drops -262 at once", () => {
    const rig = new Rig();
    const v = rig.viewer();
    v.send(VIEWER_HANDSHAKE_NONE);
    rig.settle();
    v.upstream.answerRequests = false;
    // Mid-update: the ack must wait for the boundary; meanwhile -262 is withdrawn.
    const update = v.upstream.rawUpdate(1);
    v.upstream.out.push(update.subarray(0, 10));
    rig.settle();
    v.send([...msg.setEncodings([Encoding.Raw, Encoding.Streams]), ...msg.setEncodings([Encoding.Raw])]);
    rig.settle();
    v.upstream.out.push(update.subarray(10));
    rig.settle();
    expect(messages(v).length).toBe(1);
    expect(streamMessages(v)).toEqual([]);
  });

  it("ends the connection on 255/2 before the ack was sent", () => {
    const rig = new Rig();
    const v = rig.viewer();
    v.send(VIEWER_HANDSHAKE_NONE);
    rig.settle();
    v.upstream.answerRequests = false;
    const update = v.upstream.rawUpdate(1);
    v.upstream.out.push(update.subarray(0, 10));
    rig.settle();
    // The ack waits for the end of the update; an OPEN now cannot have seen it.
    v.send([...msg.setEncodings([Encoding.Raw, Encoding.Streams]), ...C.open(1, 100, 0)]);
    rig.settle();
    expect(v.ended?.error).toBeTrue();
    expect(v.ended?.reason).toContain("before the -262 acknowledgement");
  });
});

describe("gateway relay: operations and errors (spec §5, §7)", () => {
  let rig: Rig;
  let v: RigViewer;

  beforeEach(() => {
    rig = new Rig([{ name: "serial0" }, { name: "ro", writable: false }]);
    v = rawViewer(rig);
  });

  const after = () => replies(v, 3);

  it("answers OPEN for an unknown id NO_SUCH_STREAM and a second OPEN FAILED", () => {
    v.send([...C.open(9, 100, 0), ...C.open(1, 100, 1), ...C.open(1, 100, 1)]);
    rig.settle();
    expect(after()).toEqual([
      `${StreamsServerOp.OpenReply} 9 ${OpenStatus.NoSuchStream}`,
      `${StreamsServerOp.OpenReply} 1 ${OpenStatus.Ok}`,
      `${StreamsServerOp.BackendState} 1 1`,
      `${StreamsServerOp.OpenReply} 1 ${OpenStatus.Failed}`,
    ]);
    // The open stream is unaffected.
    rig.device.backend.output("ok");
    rig.settle();
    expect(after().at(-1)).toBe(`${StreamsServerOp.Data} 1`);
  });

  it("denies write access to a read-only device and treats DATA on a read-only open as a credit violation", () => {
    v.send([...C.open(2, 100, 1), ...C.open(2, 100, 0), ...C.data(2, "x")]);
    rig.settle();
    expect(after()).toEqual([
      `${StreamsServerOp.OpenReply} 2 ${OpenStatus.Denied}`,
      `${StreamsServerOp.OpenReply} 2 ${OpenStatus.Ok}`,
      `${StreamsServerOp.BackendState} 2 1`,
      `${StreamsServerOp.Closed} 2 ${CloseReason.FlowControl}`,
    ]);
    expect(rig.devices[1]?.backend.written).toEqual([]);
  });

  it("answers DATA and CLOSE for a stream that is not open with CLOSED 5, once until it is opened", () => {
    v.send([...C.data(1, "a"), ...C.data(1, "b"), ...C.close(1), ...C.data(77, "c"), ...C.data(77, "d")]);
    rig.settle();
    expect(after()).toEqual([
      `${StreamsServerOp.Closed} 1 ${CloseReason.NotOpen}`,
      `${StreamsServerOp.Closed} 77 ${CloseReason.NotOpen}`,
    ]);
    v.send([...C.open(1, 100, 1), ...C.close(1), ...C.data(1, "e")]);
    rig.settle();
    expect(after().slice(2)).toEqual([
      `${StreamsServerOp.OpenReply} 1 ${OpenStatus.Ok}`,
      `${StreamsServerOp.BackendState} 1 1`,
      `${StreamsServerOp.Closed} 1 ${CloseReason.ClientRequest}`,
      `${StreamsServerOp.Closed} 1 ${CloseReason.NotOpen}`,
    ]);
    expect(rig.device.backend.written).toEqual([]);
  });

  it("closes a stream with reason 4 on DATA beyond the credit, writing none of it", () => {
    // Writes complete only when told, so no credit comes back meanwhile.
    rig.device.backend.autoWrite = false;
    v.send([...C.open(1, 100, 1), ...C.data(1, "x".repeat(4000)), ...C.data(1, "y".repeat(97))]);
    rig.settle();
    rig.device.backend.flushWrites();
    rig.settle();
    expect(rig.device.backend.written.length).toBe(4000);
    expect(after().slice(2)).toEqual([`${StreamsServerOp.Closed} 1 ${CloseReason.FlowControl}`]);
  });

  it("grants credit back with WINDOW once half the window is written", () => {
    rig.device.backend.autoWrite = false;
    v.send([...C.open(1, 100, 1), ...C.data(1, "a".repeat(2047))]);
    rig.settle();
    rig.device.backend.flushWrites();
    rig.settle();
    expect(after().slice(2)).toEqual([]);
    v.send(C.data(1, "b"));
    rig.settle();
    rig.device.backend.flushWrites();
    rig.settle();
    expect(after().slice(2)).toEqual([`${StreamsServerOp.Window} 1 2048`]);
  });

  it("skips unknown operations and ignores WINDOW for closed streams and BREAK", () => {
    v.send([
      255,
      2,
      ...u16(99),
      ...u32(1),
      ...u32(3),
      1,
      2,
      3,
      ...C.window(1, 100),
      ...C.break(1, 250),
      ...C.open(1, 10, 0),
    ]);
    rig.settle();
    expect(after()).toEqual([`${StreamsServerOp.OpenReply} 1 ${OpenStatus.Ok}`, `${StreamsServerOp.BackendState} 1 1`]);
    expect(v.ended).toBeNull();
  });

  it("sends no more DATA than the read window and resumes with WINDOW", () => {
    v.send(C.open(1, 5, 0));
    rig.device.backend.output("0123456789");
    rig.settle();
    const data = () =>
      streamMessages(v)
        .filter((m) => m.op === StreamsServerOp.Data)
        .map((m) => new TextDecoder().decode(Uint8Array.from(m.payload)))
        .join("");
    expect(data()).toBe("01234");
    v.send(C.window(1, 3));
    rig.settle();
    expect(data()).toBe("01234567");
  });

  const fatal: [string, () => number[], string][] = [
    ["a payload-length over 65536", () => [255, 2, ...u16(2), ...u32(1), ...u32(65537)], "65536"],
    ["an OPEN too short for its flags", () => [255, 2, ...u16(0), ...u32(1), ...u32(4), ...u32(100)], "too short"],
    ["a WINDOW without its increment", () => [255, 2, ...u16(3), ...u32(1), ...u32(0)], "too short"],
    ["an unknown QEMU sub-type", () => [255, 9, 0, 0], "sub-type"],
    ["an unknown message type", () => [99], "message type 99"],
  ];
  for (const [what, bytes, text] of fatal) {
    it(`disconnects on ${what}`, () => {
      v.send(bytes());
      rig.settle();
      expect(v.ended?.error).toBeTrue();
      expect(v.ended?.reason).toContain(text);
    });
  }
});

describe("gateway relay: flow control (spec §6)", () => {
  it("stops reading a device whose lone reader has no credit, and never closes it", () => {
    const rig = new Rig([{ name: "serial0", history: 0 }], { slack: 2048, maxRead: 512, slowReaderMs: 100 });
    const v = rawViewer(rig);
    v.send(C.open(1, 100, 0));
    rig.device.backend.output(new Array<number>(10_000).fill(0x41));
    rig.settle();
    // 100 bytes sent; the device read until the reader was 2048 bytes behind.
    expect(rig.device.device.produced).toBe(2148);
    expect(rig.device.device.readAllowance()).toBe(0);
    rig.clock.advance(60_000);
    rig.settle();
    expect(replies(v, LISTING + 1).filter((r) => r.startsWith(`${StreamsServerOp.Closed}`))).toEqual([]);
    v.send(C.window(1, 10_000));
    rig.settle();
    expect(rig.device.backend.pending.length).toBe(0);
  });

  it("closes a reader that holds another back past the limit with reason 7, without losing the other's bytes", () => {
    const rig = new Rig([{ name: "serial0", history: 0 }], { slack: 2048, maxRead: 512, slowReaderMs: 100 });
    const fast = portholeViewer(rig);
    const slow = rawViewer(rig);
    rig.settle();
    fast.streams.open(1, { history: false });
    slow.send(C.open(1, 100, 0));
    rig.settle();
    const payload = random(20_000, 7);
    rig.device.backend.output(Array.from(payload));
    rig.settle();
    // Held back: the fast reader has everything read so far and waits.
    expect(rig.device.backend.pending.length).toBeGreaterThan(0);
    rig.clock.advance(99);
    rig.settle();
    expect(replies(slow).filter((r) => r.startsWith(`${StreamsServerOp.Closed} `))).toEqual([]);
    rig.clock.advance(1);
    rig.settle();
    expect(replies(slow).filter((r) => r.startsWith(`${StreamsServerOp.Closed} `))).toEqual([
      `${StreamsServerOp.Closed} 1 ${CloseReason.SlowReader}`,
    ]);
    expect(Uint8Array.from(fast.data.get(1) ?? [])).toEqual(payload);
    expect(fast.events.filter((e) => e.startsWith("closed"))).toEqual([]);
  });

  it("adds stream DATA only up to its share of the viewer's backlog, and more once that drains", () => {
    const rig = new Rig([{ name: "serial0", history: 0 }]);
    const v = rawViewer(rig);
    v.send(C.open(1, 1024 * 1024, 0));
    rig.settle();
    const data = () =>
      streamMessages(v)
        .filter((m) => m.op === StreamsServerOp.Data)
        .reduce((n, m) => n + m.payload.length, 0);
    // An update would wait behind everything queued: DATA stops at dataBacklog, credit or not.
    v.backlog = DEFAULT_RELAY_LIMITS.dataBacklog - 100;
    rig.device.backend.output(new Array<number>(1000).fill(7));
    rig.settle();
    expect(data()).toBe(100);
    v.backlog = 0;
    v.relay.clientDrained();
    rig.settle();
    expect(data()).toBe(1000);
  });

  it("stops reading the server while the viewer's backlog is over the limit", () => {
    const rig = new Rig();
    const v = rawViewer(rig);
    v.backlog = 2 * 1024 * 1024;
    v.upstream.out.push(v.upstream.rawUpdate(1));
    rig.settle();
    expect(v.upstreamPaused).toBeTrue();
    v.backlog = 0;
    v.relay.clientDrained();
    expect(v.upstreamPaused).toBeFalse();
  });
});

describe("gateway relay: handshake versions", () => {
  it("speaks RFB 3.3 to an old viewer (the server picks the security type)", () => {
    const rig = new Rig();
    const v = rig.viewer({ password: "pw" });
    v.send([...new TextEncoder().encode("RFB 003.003\n")]);
    rig.settle();
    // Version, then U32 security type 2 and a 16-byte challenge.
    expect(v.toViewer.slice(12, 16)).toEqual(u32(2));
    expect(v.toViewer.length).toBe(12 + 4 + 16);
  });

  it("refuses a security type it did not offer", () => {
    const rig = new Rig();
    const v = rig.viewer({ password: "pw" });
    v.send([...new TextEncoder().encode("RFB 003.008\n"), 1]);
    rig.settle();
    expect(v.ended?.error).toBeTrue();
    // SecurityResult failed, with its reason.
    expect(v.toViewer.slice(14, 18)).toEqual(u32(1));
  });

  it("passes ClientInit's shared flag to the server", () => {
    const rig = new Rig();
    const v = rig.viewer();
    v.send([...VIEWER_HANDSHAKE_NONE.slice(0, -1), 0]);
    rig.settle();
    expect(v.upstream.shared).toBeFalse();
  });
});
