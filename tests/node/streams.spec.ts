import { Encoding } from "../../src/protocol/constants.js";
import {
  closeReasonText,
  encodeStreamBreak,
  encodeStreamClose,
  encodeStreamData,
  encodeStreamOpen,
  encodeStreamWindow,
  openStatusText,
  Streams,
  StreamsError,
  StreamsLimits,
} from "../../src/protocol/streams.js";
import {
  ack,
  C,
  CONNECTED,
  everySplit,
  feed,
  type Harness,
  listed,
  makeStreamsClient,
  opened,
  S,
  sop,
  str16,
  streamsSent,
  u16,
  u32,
} from "./streams-helpers.js";

const bytesOf = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
/** Bytes written as in the document: hex pairs and "quoted" ASCII. */
function hex(text: string): number[] {
  const out: number[] = [];
  for (const token of text.match(/"[^"]*"|[0-9A-Fa-f]{2}/g) ?? [])
    if (token.startsWith('"')) out.push(...bytesOf(token.slice(1, -1)));
    else out.push(parseInt(token, 16));
  return out;
}

/** Sum of DATA payloads the client sent on `id`. */
function dataSent(h: Harness, id: number): number[] {
  return streamsSent(h)
    .filter((m) => m[3] === 2 && m[7] === id)
    .flatMap((m) => m.slice(12));
}

describe("RFB Streams numbers", () => {
  it("keeps spec §1's numbers in one place", () => {
    expect(Streams.pseudoEncoding).toBe(-262);
    expect(Streams.pseudoEncoding >>> 0).toBe(0xfffffefa);
    expect(Encoding.Streams).toBe(-262);
    expect(Streams.messageType).toBe(255);
    expect(Streams.subtype).toBe(2);
    expect(Streams.version).toBe(1);
  });

  it("encodes every client operation with the 12-byte header, big-endian", () => {
    expect(Array.from(encodeStreamOpen(1, 65536, 3))).toEqual(C.open(1, 65536, 3));
    expect(Array.from(encodeStreamClose(0x01020304))).toEqual([255, 2, 0, 1, 1, 2, 3, 4, 0, 0, 0, 0]);
    expect(Array.from(encodeStreamData(7, Uint8Array.of(13)))).toEqual(C.data(7, [13]));
    expect(Array.from(encodeStreamWindow(1, 0x8000))).toEqual(C.window(1, 0x8000));
    expect(Array.from(encodeStreamBreak(9, 250))).toEqual(C.break(9, 250));
    expect(encodeStreamData(1, new Uint8Array(65536)).length).toBe(12 + 65536);
  });

  it("refuses to encode what the document does not allow", () => {
    expect(() => encodeStreamData(1, new Uint8Array(0))).toThrowError(RangeError);
    expect(() => encodeStreamData(1, new Uint8Array(65537))).toThrowError(RangeError);
    expect(() => encodeStreamClose(0)).toThrowError(RangeError);
    expect(() => encodeStreamWindow(1, 2 ** 32)).toThrowError(RangeError);
    expect(() => encodeStreamBreak(1, -1)).toThrowError(RangeError);
    expect(() => encodeStreamOpen(1, 1.5, 0)).toThrowError(RangeError);
  });

  it("has human text for every OPEN_REPLY status and CLOSED reason", () => {
    const statuses = [0, 1, 2, 3, 4, 99].map(openStatusText);
    const reasons = [0, 1, 2, 3, 4, 5, 6, 7, 99].map(closeReasonText);
    for (const t of [...statuses, ...reasons]) expect(t.length).toBeGreaterThan(5);
    expect(new Set(statuses).size).toBe(statuses.length);
    expect(new Set(reasons).size).toBe(reasons.length);
    expect(openStatusText(99)).toContain("99");
    expect(closeReasonText(99)).toContain("99");
  });
});

describe("RFB Streams negotiation", () => {
  it("lists -262 after the real encodings", () => {
    const h = makeStreamsClient();
    h.client.receive(Uint8Array.from(CONNECTED));
    const setEncodings = h.sent.find((m) => m.bytes[0] === 2)?.bytes ?? [];
    expect(setEncodings).toEqual([2, 0, ...u16(2), ...u32(0), ...u32(0xfffffefa)]);
  });

  it("takes the ack, the enumeration and LIST_COMPLETE at every split point", () => {
    const bytes = [
      ...CONNECTED,
      ...ack(),
      ...S.added(1, 5, "serial0", "Serial port 1", "serial"),
      ...S.added(3, 2, "ttyS1", "Zweite Schnittstelle \u00e4", "serial"),
      ...S.added(4, 0, "monitor", "QEMU monitor", "monitor"),
      ...S.listComplete(),
    ];
    everySplit(bytes, {}, (h) => {
      expect(h.error).toBeNull();
      expect(h.events).toEqual([
        "ack 1",
        'added 1 serial0 "Serial port 1" serial wh',
        'added 3 ttyS1 "Zweite Schnittstelle ä" serial b',
        'added 4 monitor "QEMU monitor" monitor ',
        "list-complete",
      ]);
      expect(h.ext.streams().map((s) => s.name)).toEqual(["serial0", "ttyS1", "monitor"]);
      expect(h.ext.listComplete).toBeTrue();
      expect(streamsSent(h)).toEqual([]);
    });
  });

  it("takes an ack that shares its update with other rectangles", () => {
    const bytes = [
      ...CONNECTED,
      0,
      0,
      ...u16(2),
      ...u16(0),
      ...u16(0),
      ...u16(1),
      ...u16(1),
      ...u32(Encoding.Raw),
      1,
      2,
      3,
      0,
      ...u16(1),
      ...u16(0),
      ...u16(77),
      ...u16(77),
      ...u32(0xfffffefa),
      ...S.listComplete(),
    ];
    everySplit(bytes, {}, (h) => {
      expect(h.error).toBeNull();
      expect(h.events).toEqual(["ack 1", "list-complete"]);
    });
  });

  it("sends nothing 255/2 before the ack, and refuses operations until then", () => {
    // A hostile server announces a stream before acknowledging; the client reacts by trying
    // to open it as soon as it can.
    const bytes = [
      ...CONNECTED,
      ...S.added(9, 1, "early", "Early", "serial"),
      ...S.listComplete(),
      ...ack(),
      ...S.added(1, 1, "serial0", "S", "serial"),
      ...S.listComplete(),
    ];
    const ackEnd = CONNECTED.length + S.added(9, 1, "early", "Early", "serial").length + 24 + 16;
    everySplit(
      bytes,
      {
        streamAdded: (h, info) => {
          h.ext.open(info.id);
        },
      },
      (h) => {
        expect(h.error).toBeNull();
        expect(h.events).toEqual(["ack 1", 'added 1 serial0 "S" serial w', "list-complete"]);
        const streams = h.sent.filter((m) => m.bytes[0] === 255);
        expect(streams.map((m) => m.bytes)).toEqual([C.open(1, 65536, 1)]);
        for (const m of streams) expect(m.consumedAt).toBeGreaterThanOrEqual(ackEnd);
        expect(h.thrown).toEqual([]);
      },
    );
  });

  it("explains why operations fail before the ack, and never sends", () => {
    const h = makeStreamsClient();
    expect(() => {
      h.ext.open(1);
    }).toThrowError(StreamsError, /not connected/);
    h.client.receive(Uint8Array.from(CONNECTED));
    expect(() => {
      h.ext.open(1);
    }).toThrowError(StreamsError, /acknowledged/);
    expect(() => h.ext.sendBreak(1, 100)).toThrowError(StreamsError, /acknowledged/);
    expect(h.ext.write(1, Uint8Array.of(1))).toBe("not-open");
    expect(h.ext.close(1)).toBeFalse();
    h.ext.consumed(1, 10);
    expect(h.ext.active).toBeFalse();
    expect(h.sent.filter((m) => m.bytes[0] === 255)).toEqual([]);
  });

  it("stays silent with a server that never acknowledges", () => {
    const h = makeStreamsClient();
    // An update without the ack, then a Bell: the session goes on, streams never start.
    feed(h, CONNECTED, [0, 0, 0, 0], [2]);
    expect(h.error).toBeNull();
    expect(h.events).toEqual([]);
    expect(h.ext.active).toBeFalse();
    expect(h.sent.filter((m) => m.bytes[0] === 255)).toEqual([]);
  });

  it("ignores an ack with version 0 and speaks version 1 to a newer server", () => {
    const zero = makeStreamsClient();
    feed(zero, CONNECTED, ack(0), S.added(1, 1, "s", "s", "serial"), S.listComplete());
    expect(zero.error).toBeNull();
    expect(zero.events).toEqual([]);
    expect(zero.ext.active).toBeFalse();

    const two = makeStreamsClient();
    feed(two, CONNECTED, ack(2), S.added(1, 1, "s", "s", "serial"), S.listComplete());
    expect(two.events).toEqual(["ack 2", 'added 1 s "s" serial w', "list-complete"]);
    expect(two.ext.serverVersion).toBe(2);
  });

  it("keeps its state on a later ack, and takes LIST_COMPLETE only once (§2.4)", () => {
    const h = opened(100, 10);
    feed(h, ack(), S.listComplete(), S.data(1, "x"));
    expect(h.events).toEqual(['data 1 live "x"']);
    expect(h.ext.state(1)).toBe("open");
  });
});

describe("RFB Streams example (spec §8)", () => {
  const serverBytes = hex(`
    00 00 00 01  00 01 00 00 00 00 00 00 FF FF FE FA
    FF 02 00 00  00 00 00 01  00 00 00 1D
    00 00 00 05  00 07 "serial0"  00 06 "Serial"  00 06 "serial"
    FF 02 00 02  00 00 00 00  00 00 00 00
    FF 02 00 03  00 00 00 01  00 00 00 0C
    00 00 00 00  00 00 10 00  00 00 00 05
    FF 02 00 04  00 00 00 01  00 00 00 05  "login"`);
  const clientOpen = hex(`
    FF 02 00 00  00 00 00 01  00 00 00 08
    00 01 00 00  00 00 00 03`);
  const clientCR = hex("FF 02 00 02  00 00 00 01  00 00 00 01  0D");
  // The document prints this line without its payload-length (00 00 00 04): as printed it
  // would be a header announcing 32768 payload bytes. §3 and §5 are normative; the WINDOW
  // this client sends is the header, length 4, then the increment 00 00 80 00.
  const clientWindow = hex("FF 02 00 03  00 00 00 01  00 00 00 04  00 00 80 00");

  it("matches the document byte for byte in both directions, at every split point", () => {
    everySplit(
      [...CONNECTED, ...serverBytes],
      {
        listComplete: (h) => {
          h.ext.open(1, { write: true, history: true, readWindow: 65536 });
        },
        data: (h, id, bytes) => {
          h.ext.consumed(id, bytes.length);
          if (new TextDecoder().decode(bytes) === "login") h.ext.write(id, Uint8Array.of(0x0d));
        },
      },
      (h) => {
        expect(h.error).toBeNull();
        expect(h.thrown).toEqual([]);
        expect(h.events).toEqual([
          "ack 1",
          'added 1 serial0 "Serial" serial wh',
          "list-complete",
          "opened 1 ww=4096 hist=5 write",
          'data 1 history "login"',
        ]);
        expect(streamsSent(h)).toEqual([clientOpen, clientCR]);
        expect(h.ext.writeCredit(1)).toBe(4095);
      },
    );
  });

  it("sends WINDOW +32768 once half of the 65536-byte window is consumed", () => {
    // The document shows only the first 5 of the 32768 bytes this WINDOW gives back.
    const h = makeStreamsClient({
      listComplete: (x) => {
        x.ext.open(1, { write: true, history: true });
      },
      data: (x, id, bytes) => x.ext.consumed(id, bytes.length),
    });
    feed(h, CONNECTED, serverBytes);
    expect(streamsSent(h)).toEqual([clientOpen]);
    feed(h, S.data(1, new Array<number>(32762).fill(0x41)));
    expect(streamsSent(h)).toEqual([clientOpen]);
    feed(h, S.data(1, [0x42]));
    expect(streamsSent(h)).toEqual([clientOpen, clientWindow]);
  });
});

describe("RFB Streams writing (client-to-server credit)", () => {
  it("never has more DATA outstanding than granted, and flushes as WINDOW arrives", () => {
    const h = opened(65536, 10);
    const text = Array.from({ length: 25 }, (_, i) => 0x61 + i);
    expect(h.ext.write(1, Uint8Array.from(text))).toBe("accepted");
    expect(streamsSent(h)).toEqual([C.data(1, text.slice(0, 10))]);
    expect(h.ext.queuedBytes(1)).toBe(15);
    feed(h, S.window(1, 4));
    expect(streamsSent(h).at(-1)).toEqual(C.data(1, text.slice(10, 14)));
    expect(h.ext.writeCredit(1)).toBe(0);
    expect(h.events).toEqual([]);
    feed(h, S.window(1, 100));
    expect(streamsSent(h).at(-1)).toEqual(C.data(1, text.slice(14)));
    expect(h.events).toEqual(["drained 1"]);
    expect(h.ext.writeCredit(1)).toBe(89);
    expect(dataSent(h, 1)).toEqual(text);
  });

  it("sends at most 16384 bytes per DATA and coalesces queued writes", () => {
    const h = opened(65536, 0);
    for (let i = 0; i < 40; i++) expect(h.ext.write(1, new Uint8Array(1000).fill(i))).toBe("accepted");
    expect(streamsSent(h)).toEqual([]);
    feed(h, S.window(1, 65536));
    expect(streamsSent(h).map((m) => m.length - 12)).toEqual([16384, 16384, 7232]);
    const all = dataSent(h, 1);
    expect(all.length).toBe(40000);
    expect(all[999]).toBe(0);
    expect(all[1000]).toBe(1);
    expect(all[39999]).toBe(39);
  });

  it("sends what the credit covers at once, from a copy: the caller may reuse its buffer", () => {
    const h = opened(65536, 40000);
    const buffer = new Uint8Array(50000).fill(1);
    expect(h.ext.write(1, buffer)).toBe("accepted");
    // Nothing was queued before, so the credit's worth goes out at once, the rest waits.
    expect(streamsSent(h).map((m) => m.length - 12)).toEqual([16384, 16384, 7232]);
    expect(h.ext.queuedBytes(1)).toBe(10000);
    buffer.fill(2);
    feed(h, S.window(1, 65536));
    const all = dataSent(h, 1);
    expect(all.length).toBe(50000);
    expect(all.every((b) => b === 1)).toBeTrue();
    expect(h.events).toEqual(["drained 1"]);
  });

  it("keeps credit exact over many small grants", () => {
    const h = opened(65536, 3);
    h.ext.write(1, new Uint8Array(100).fill(7));
    let granted = 3;
    for (let i = 0; i < 30; i++) {
      feed(h, S.window(1, i % 5));
      granted += i % 5;
      expect(dataSent(h, 1).length).toBe(Math.min(granted, 100));
      for (const m of streamsSent(h)) expect(m.length - 12).toBeLessThanOrEqual(16384);
    }
  });

  it("bounds the queue and says so instead of dropping", () => {
    const h = opened(65536, 0);
    expect(h.ext.write(1, new Uint8Array(StreamsLimits.maxQueuedWrite))).toBe("accepted");
    expect(h.ext.write(1, Uint8Array.of(1))).toBe("queue-full");
    expect(h.ext.queuedBytes(1)).toBe(StreamsLimits.maxQueuedWrite);
    feed(h, S.window(1, 16384));
    expect(h.ext.write(1, new Uint8Array(16384))).toBe("accepted");
    expect(h.ext.write(1, Uint8Array.of(1))).toBe("queue-full");
    expect(h.ext.write(1, new Uint8Array(0))).toBe("accepted");
  });

  it("reports queued bytes a close discarded", () => {
    const h = opened(65536, 2);
    h.ext.write(1, bytes("hello"));
    expect(h.ext.close(1)).toBeTrue();
    expect(h.ext.write(1, bytes("!"))).toBe("not-open");
    feed(h, S.window(1, 100), S.closed(1, 0));
    expect(streamsSent(h)).toEqual([C.data(1, "he"), C.close(1)]);
    expect(h.events).toEqual(["closed 1 0 unsent=3"]);
  });

  it("reports unsent bytes when the server closes with data queued", () => {
    const h = opened(65536, 0);
    h.ext.write(1, bytes("abc"));
    feed(h, S.closed(1, 3, "read error"));
    expect(h.events).toEqual(['closed 1 3 unsent=3 "read error"']);
  });

  it("refuses writes on a read-only open and to a stream not open", () => {
    const h = listed();
    expect(h.ext.write(2, bytes("x"))).toBe("not-open");
    h.ext.open(2);
    expect(h.ext.write(2, bytes("x"))).toBe("not-open"); // still opening
    feed(h, S.openReply(2, 0, 0, 0));
    expect(() => h.ext.write(2, bytes("x"))).toThrowError(StreamsError, /without write access/);
    h.ext.open(1, { write: false });
    feed(h, S.openReply(1, 0, 0, 0));
    expect(() => h.ext.write(1, bytes("x"))).toThrowError(StreamsError);
  });

  it("sends BREAK only where announced, in order behind queued bytes", () => {
    const h = opened(65536, 1);
    expect(h.ext.write(1, bytes("ab"))).toBe("accepted");
    expect(h.ext.sendBreak(1, 300)).toBe("accepted");
    expect(h.ext.write(1, bytes("c"))).toBe("accepted");
    expect(streamsSent(h)).toEqual([C.data(1, "a")]);
    feed(h, S.window(1, 5));
    expect(streamsSent(h)).toEqual([C.data(1, "a"), C.data(1, "b"), C.break(1, 300), C.data(1, "c")]);
    expect(h.ext.sendBreak(1, 0)).toBe("accepted");
    expect(streamsSent(h).at(-1)).toEqual(C.break(1, 0));

    const ro = listed();
    ro.ext.open(2);
    feed(ro, S.openReply(2, 0, 0, 0));
    expect(() => ro.ext.sendBreak(2, 100)).toThrowError(StreamsError, /BREAK/);
    expect(ro.ext.sendBreak(1, 100)).toBe("not-open");
  });
});

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

describe("RFB Streams reading (server-to-client credit)", () => {
  it("grants back consumed bytes once half the window is consumed", () => {
    const h = opened(100, 0);
    feed(h, S.data(1, new Array<number>(30).fill(1)));
    h.ext.consumed(1, 30);
    expect(streamsSent(h)).toEqual([]);
    feed(h, S.data(1, new Array<number>(40).fill(2)));
    h.ext.consumed(1, 19);
    expect(streamsSent(h)).toEqual([]);
    h.ext.consumed(1, 1);
    expect(streamsSent(h)).toEqual([C.window(1, 50)]);
    // Consumed past what was delivered never grants more than was delivered.
    h.ext.consumed(1, 1000);
    h.ext.consumed(1, NaN);
    feed(h, S.data(1, new Array<number>(80).fill(3)));
    h.ext.consumed(1, 80);
    expect(streamsSent(h)).toEqual([C.window(1, 50), C.window(1, 100)]);
    expect(h.error).toBeNull();
  });

  it("hands each DATA's bytes over as its own: later input does not change them", () => {
    const kept: Uint8Array[] = [];
    const h = opened(65536, 0, 0, { data: (_h, _id, data) => kept.push(data) });
    feed(h, S.data(1, "first"));
    feed(h, S.data(1, "other"), S.data(1, "third"));
    expect(kept.map((d) => new TextDecoder().decode(d))).toEqual(["first", "other", "third"]);
  });

  it("accepts exactly the credit, in any DATA sizes, without consuming", () => {
    const h = opened(10, 0);
    feed(h, S.data(1, "abcd"), S.data(1, "efghij"));
    expect(h.events).toEqual(['data 1 live "abcd"', 'data 1 live "efghij"']);
    expect(streamsSent(h)).toEqual([]);
  });

  it("drops DATA past its credit, sends CLOSE and reports reason 4", () => {
    everySplit(
      [
        ...CONNECTED,
        ...ack(),
        ...S.added(1, 1, "serial0", "S", "serial"),
        ...S.listComplete(),
        ...S.openReply(1, 0, 0, 0),
        ...S.data(1, "0123456789"),
        ...S.data(1, "abcdefghijkl"),
        ...S.data(1, "late"),
        ...S.closed(1, 0),
        ...S.data(1, "after"),
      ],
      {
        listComplete: (h) => {
          h.ext.open(1, { readWindow: 16 });
        },
      },
      (h) => {
        expect(h.error).toBeNull();
        expect(h.events).toEqual([
          "ack 1",
          'added 1 serial0 "S" serial w',
          "list-complete",
          "opened 1 ww=0 hist=0 write",
          'data 1 live "0123456789"',
          'data 1 live "abcdef"',
          "closed 1 4 local",
        ]);
        expect(streamsSent(h)).toEqual([C.open(1, 16, 1), C.close(1)]);
        expect(h.ext.state(1)).toBe("idle");
      },
    );
  });

  it("splits history from live output (spec §4)", () => {
    const h = opened(65536, 0, 8);
    feed(h, S.data(1, "abc"), S.data(1, "defghij"), S.data(1, "k"));
    expect(h.events).toEqual(['data 1 history "abc"', 'data 1 history "defgh"', 'data 1 live "ij"', 'data 1 live "k"']);
    expect(streamsSent(h)).toEqual([]);
    expect(Array.from(encodeStreamOpen(1, 65536, 3))).toEqual(C.open(1, 65536, 3));
  });

  it("replays history longer than the window, as credit comes back", () => {
    const h = opened(8, 0, 12, { data: (x, id, b) => x.ext.consumed(id, b.length) });
    feed(h, S.data(1, "12345678"));
    expect(streamsSent(h)).toEqual([C.window(1, 8)]);
    feed(h, S.data(1, "9abcdef"));
    expect(h.events).toEqual(['data 1 history "12345678"', 'data 1 history "9abc"', 'data 1 live "def"']);
  });

  it("grows the read window on request", () => {
    const h = opened(4, 0);
    h.ext.growReadWindow(1, 12);
    expect(streamsSent(h)).toEqual([C.window(1, 12)]);
    feed(h, S.data(1, "0123456789abcdef"));
    expect(h.events).toEqual(['data 1 live "0123456789abcdef"']);
    // Half of the grown window (16) is now the threshold.
    h.ext.consumed(1, 7);
    expect(streamsSent(h).length).toBe(1);
    h.ext.consumed(1, 1);
    expect(streamsSent(h).at(-1)).toEqual(C.window(1, 8));
    expect(() => h.ext.growReadWindow(1, 0xffffffff)).toThrowError(StreamsError);
    expect(() => h.ext.growReadWindow(2, 1)).toThrowError(StreamsError, /not open/);
  });

  it("reports BACKEND_STATE of an open stream", () => {
    const h = opened(100, 0);
    feed(h, S.backend(1, 0), S.backend(1, 1), S.backend(1, 9), S.backend(2, 1));
    expect(h.events).toEqual(["backend 1 down", "backend 1 up"]);
    expect(h.ext.backendConnected(1)).toBeTrue();
  });
});

describe("RFB Streams lifecycle", () => {
  it("reports each OPEN_REPLY status", () => {
    for (const status of [1, 2, 3, 4, 17]) {
      const h = listed();
      h.ext.open(1);
      feed(h, S.openReply(1, status, 0, 0));
      expect(h.events).toEqual([`open-failed 1 ${status} ${openStatusText(status)}`]);
      expect(h.ext.state(1)).toBe("idle");
    }
  });

  it("sends the OPEN flags asked for, defaulting to what the stream offers", () => {
    const h = listed();
    h.ext.open(1);
    h.ext.open(2, { readWindow: 0 });
    expect(streamsSent(h)).toEqual([C.open(1, 65536, 3), C.open(2, 0, 0)]);
    expect(() => {
      h.ext.open(1);
    }).toThrowError(StreamsError, /already open/);
    expect(() => {
      h.ext.open(3);
    }).toThrowError(StreamsError, /no such stream/);
    const g = listed();
    expect(() => {
      g.ext.open(2, { write: true });
    }).toThrowError(StreamsError, /not writable/);
    expect(() => {
      g.ext.open(2, { history: true });
    }).toThrowError(StreamsError, /history/);
    expect(() => {
      g.ext.open(1, { readWindow: -1 });
    }).toThrowError(RangeError);
    expect(streamsSent(g)).toEqual([]);
  });

  it("closes on request and reports the server's CLOSED", () => {
    const h = opened(100, 10);
    expect(h.ext.close(1)).toBeTrue();
    expect(h.ext.close(1)).toBeFalse();
    expect(streamsSent(h)).toEqual([C.close(1)]);
    // DATA that crossed the CLOSE is drained (§7).
    feed(h, S.data(1, "crossed"), S.window(1, 5), S.closed(1, 0, "bye"));
    expect(h.events).toEqual(['closed 1 0 "bye"']);
    // The stream stays listed and opens again.
    h.ext.open(1);
    feed(h, S.openReply(1, 0, 1, 0), S.data(1, "new"));
    expect(h.events.slice(1)).toEqual(["opened 1 ww=1 hist=0 write", 'data 1 live "new"']);
  });

  it("reports end of file and keeps the stream listed (§7)", () => {
    const h = opened(100, 10);
    feed(h, S.closed(1, 1));
    expect(h.events).toEqual(["closed 1 1"]);
    expect(h.ext.stream(1)?.name).toBe("serial0");
    expect(h.ext.state(1)).toBe("idle");
  });

  it("treats STREAM_REMOVED as CLOSED reason 2 and forgets the id for good", () => {
    const h = opened(100, 10);
    feed(h, S.removed(1), S.data(1, "x"), S.closed(1, 0), S.openReply(1, 0, 5, 0), S.window(1, 5));
    expect(h.events).toEqual(["closed 1 2 local", "removed 1"]);
    expect(h.ext.stream(1)).toBeUndefined();
    // Ids are never reused: a second announcement of 1 is not trusted.
    feed(h, S.added(1, 1, "again", "A", "serial"), S.removed(2), S.removed(2));
    expect(h.events.slice(2)).toEqual(["removed 2"]);
    expect(() => {
      h.ext.open(1);
    }).toThrowError(StreamsError);
  });

  it("reports a CLOSED reason 2 followed by STREAM_REMOVED once", () => {
    const h = opened(100, 10);
    feed(h, S.closed(1, 2, "unplugged"), S.removed(1));
    expect(h.events).toEqual(['closed 1 2 "unplugged"', "removed 1"]);
  });

  it("runs a whole session the same at every split point", () => {
    everySplit(
      [
        ...CONNECTED,
        ...ack(),
        ...S.added(1, 7, "serial0", "Serial port 1", "serial"),
        ...S.listComplete(),
        ...S.openReply(1, 0, 2, 4),
        ...S.data(1, "boot"),
        ...S.data(1, "ok\r\n"),
        ...S.backend(1, 0),
        ...S.window(1, 3),
        ...S.backend(1, 1),
        ...S.closed(1, 7, "zu langsam – slow"),
      ],
      {
        listComplete: (h) => {
          h.ext.open(1, { readWindow: 12 });
        },
        opened: (h, id) => {
          h.ext.write(id, bytes("root\n"));
        },
        data: (h, id, b) => h.ext.consumed(id, b.length),
      },
      (h) => {
        expect(h.error).toBeNull();
        expect(h.thrown).toEqual([]);
        expect(h.events).toEqual([
          "ack 1",
          'added 1 serial0 "Serial port 1" serial wbh',
          "list-complete",
          "opened 1 ww=2 hist=4 write",
          'data 1 history "boot"',
          'data 1 live "ok\\r\\n"',
          "backend 1 down",
          "drained 1",
          "backend 1 up",
          'closed 1 7 "zu langsam – slow"',
        ]);
        expect(streamsSent(h)).toEqual([C.open(1, 12, 3), C.data(1, "ro"), C.window(1, 8), C.data(1, "ot\n")]);
      },
    );
  });

  it("lets no listener send once the connection has ended", () => {
    const h = opened(100, 10, 0, {
      closed: (x, id) => {
        x.ext.open(id);
      },
    });
    h.client.transportClosed("gone");
    expect(h.events).toEqual(["closed 1 6 local"]);
    expect(h.thrown).toEqual(["StreamsError: cannot open stream 1: not connected"]);
    expect(h.sent).toEqual([]);
  });

  it("announces streams added after LIST_COMPLETE, and ignores duplicates and id 0", () => {
    const h = listed();
    feed(
      h,
      S.added(5, 0, "channel0", "Agent", "org.qemu.guest_agent"),
      S.added(5, 1, "dup", "D", "serial"),
      S.added(0, 1, "zero", "Z", "serial"),
      S.added(2, 1, "dup2", "D", "serial"),
    );
    expect(h.events).toEqual(['added 5 channel0 "Agent" org.qemu.guest_agent ']);
  });

  it("drains messages for unknown and closed ids (§7)", () => {
    const h = listed();
    feed(
      h,
      S.data(42, "x"),
      S.window(42, 10),
      S.openReply(42, 0, 10, 0),
      S.closed(42, 0),
      S.backend(42, 1),
      S.data(1, "not open"),
      S.openReply(1, 0, 10, 0),
      S.closed(1, 5),
      S.window(1, 100),
    );
    expect(h.error).toBeNull();
    expect(h.events).toEqual([]);
    expect(h.ext.state(1)).toBe("idle");
    expect(streamsSent(h)).toEqual([]);
  });

  it("tells a reopen's reply from the stale reply of an OPEN closed before it", () => {
    const h = listed();
    h.ext.open(1, { readWindow: 50 });
    expect(h.ext.close(1)).toBeTrue();
    h.ext.open(1, { readWindow: 60 });
    expect(h.events).toEqual(["closed 1 0 local"]);
    expect(streamsSent(h)).toEqual([C.open(1, 50, 3), C.close(1), C.open(1, 60, 3)]);
    // The server answers in order: the first OPEN, its session's output, our CLOSE, the
    // second OPEN. Only the last reply and what follows it belong to the new session.
    feed(h, S.openReply(1, 0, 7, 3), S.data(1, "old"), S.closed(1, 0), S.openReply(1, 0, 9, 0), S.data(1, "new"));
    expect(h.events.slice(1)).toEqual(["opened 1 ww=9 hist=0 write", 'data 1 live "new"']);
  });

  it("ends an OPEN cancelled by close() with one closed or one openFailed", () => {
    const ok = listed();
    ok.ext.open(1);
    ok.ext.close(1);
    feed(ok, S.openReply(1, 0, 5, 0), S.data(1, "x"), S.closed(1, 0));
    expect(ok.events).toEqual(["closed 1 0"]);

    const failed = listed();
    failed.ext.open(1);
    failed.ext.close(1);
    feed(failed, S.openReply(1, 2, 0, 0), S.closed(1, 5));
    expect(failed.events).toEqual([`open-failed 1 2 ${openStatusText(2)}`]);
  });

  it("takes a CLOSED that crossed its CLOSE, and drains the answer to the CLOSE", () => {
    const h = opened(100, 10);
    h.ext.close(1);
    feed(h, S.closed(1, 1));
    expect(h.events).toEqual(["closed 1 1"]);
    h.ext.open(1);
    feed(h, S.closed(1, 5), S.openReply(1, 0, 1, 0));
    expect(h.events.slice(1)).toEqual(["opened 1 ww=1 hist=0 write"]);
  });

  it("disable() closes every session with reason 6 and drains what was in flight (§2.5)", () => {
    const h = opened(100, 10);
    h.ext.open(2);
    h.ext.disable();
    expect(h.events).toEqual(["closed 1 6 local", "closed 2 6 local"]);
    feed(h, S.data(1, "x"), S.closed(1, 6), S.closed(2, 6), S.added(7, 0, "x", "x", "serial"));
    expect(h.events.length).toBe(2);
    expect(() => {
      h.ext.open(1);
    }).toThrowError(StreamsError, /disabled/);
    expect(h.ext.write(1, bytes("x"))).toBe("not-open");
    // An ack that was in flight does not re-enable; enable() and a fresh ack do.
    feed(h, ack());
    expect(h.ext.active).toBeFalse();
    h.ext.enable();
    feed(h, ack());
    expect(h.ext.active).toBeTrue();
    h.ext.open(1);
    expect(streamsSent(h).at(-1)).toEqual(C.open(1, 65536, 3));
  });

  it("follows the client's SetEncodings: without -262 streams close, with it a new ack enables them", () => {
    const h = opened(100, 10);
    expect(h.client.setEncodings([0], false)).toBeTrue();
    expect(h.events).toEqual(["closed 1 6 local"]);
    expect(h.ext.active).toBeFalse();
    expect(h.client.setEncodings([0])).toBeTrue();
    feed(h, ack());
    expect(h.ext.active).toBeTrue();
  });

  it("ends every session when the connection ends", () => {
    const h = opened(100, 10);
    h.ext.write(1, bytes("ab"));
    h.client.transportClosed("gone");
    expect(h.events).toEqual(["closed 1 6 local"]);
    expect(h.ext.active).toBeFalse();
    expect(h.ext.streams()).toEqual([]);
  });
});

describe("RFB Streams hostile input", () => {
  it("disconnects on a payload-length over 65536 as soon as the header is in", () => {
    const header = [255, 2, ...u16(4), ...u32(1), ...u32(65537)];
    everySplit([...CONNECTED, ...ack(), ...header], {}, (h) => {
      expect(h.error?.code).toBe("limit");
      expect(h.error?.message).toContain("65537");
      expect(h.client.closed).toBeTrue();
    });
    // An unknown operation is no exception.
    const h = makeStreamsClient();
    feed(h, CONNECTED, ack(), [255, 2, ...u16(999), ...u32(0), ...u32(0xffffffff)]);
    expect(h.error?.code).toBe("limit");
  });

  it("accepts a payload of exactly 65536", () => {
    const h = opened(65536, 0);
    feed(h, S.data(1, new Array<number>(65536).fill(9)));
    expect(h.error).toBeNull();
    expect(h.events).toEqual(["data 1 live 65536 bytes"]);
  });

  const malformed: [string, number[], string][] = [
    ["a string length past the payload", sop(0, 5, [...u32(0), ...u16(10), 0x61]), "runs past"],
    ["a 257-byte string", sop(0, 5, [...u32(0), ...str16("x".repeat(257)), ...str16(""), ...str16("")]), "at most 256"],
    ["a STREAM_ADDED missing its kind", sop(0, 5, [...u32(0), ...str16("a"), ...str16("b")]), "too short"],
    ["an OPEN_REPLY of 8 bytes", sop(3, 1, [...u32(0), ...u32(0)]), "too short"],
    ["a WINDOW of 3 bytes", sop(5, 1, [0, 0, 1]), "too short"],
    ["a CLOSED without its message", sop(6, 1, u32(0)), "too short"],
    ["a CLOSED message past its payload", sop(6, 1, [...u32(0), ...u16(5), 0x61]), "runs past"],
    ["an empty BACKEND_STATE", sop(7, 1), "too short"],
  ];
  for (const [what, message, mention] of malformed) {
    it(`disconnects on ${what}, whatever the stream's state`, () => {
      everySplit([...CONNECTED, ...ack(), ...message], {}, (h) => {
        expect(h.error?.code).toBe("malformed");
        expect(h.error?.message).toContain(mention);
        expect(h.client.closed).toBeTrue();
      });
    });
  }

  it("accepts a string of exactly 256 bytes and text that is not UTF-8", () => {
    const h = listed();
    feed(h, sop(0, 9, [...u32(0), ...str16("é".repeat(128)), ...u16(2), 0xff, 0x41, ...str16("serial")]));
    expect(h.error).toBeNull();
    expect(h.ext.stream(9)?.name).toBe("é".repeat(128));
    expect(h.ext.stream(9)?.label).toBe("\ufffdA");
  });

  it("skips unknown operations by their length, at every split point", () => {
    everySplit(
      [
        ...CONNECTED,
        ...ack(),
        ...sop(8, 1, [1, 2, 3, 255, 2, 0, 0]),
        ...sop(0xffff, 0, []),
        ...sop(200, 7, new Array<number>(300).fill(255)),
        ...S.added(1, 0, "s", "l", "serial"),
        ...S.listComplete(),
      ],
      {},
      (h) => {
        expect(h.error).toBeNull();
        expect(h.events).toEqual(["ack 1", 'added 1 s "l" serial ', "list-complete"]);
      },
    );
  });

  it("ignores payload bytes after an operation's fields", () => {
    const h = listed();
    h.ext.open(2);
    feed(h, sop(3, 2, [...u32(0), ...u32(0), ...u32(0), 9, 9]), sop(5, 2, [...u32(1), 7]));
    expect(h.error).toBeNull();
    expect(h.events).toEqual(["opened 2 ww=0 hist=0"]);
  });

  it("drains (but still checks) stream messages before the ack", () => {
    const h = makeStreamsClient();
    feed(h, CONNECTED, S.added(1, 1, "s", "s", "serial"), S.data(1, "x"));
    expect(h.error).toBeNull();
    expect(h.events).toEqual([]);
    feed(h, sop(6, 1, [...u32(0), ...u16(300)]));
    expect(h.error?.code).toBe("malformed");
  });

  it("bounds what a string header can claim", () => {
    // A U16 string length of 0xFFFF in a short payload: malformed, never a large read.
    const h = listed();
    feed(h, sop(0, 3, [...u32(0), 0xff, 0xff]));
    expect(h.error?.message).toContain("65535");
  });
});
