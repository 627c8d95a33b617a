import { Encoding } from "../../src/protocol/constants.js";
import { FenceExtension, FenceFlag } from "../../src/protocol/extensions/fence.js";
import { connected, everySplit, feed, HEIGHT, rectHeader, u16, u32, update, WIDTH } from "./ext-helpers.js";

const ENCODINGS = [Encoding.Raw, Encoding.Fence, Encoding.ContinuousUpdates];

const make = (events: string[]) =>
  new FenceExtension({
    fencesSupported: () => events.push("fences"),
    fenceResponse: (flags, payload) =>
      events.push(`response 0x${flags.toString(16)} [${Array.from(payload).join(",")}]`),
    continuousUpdatesSupported: () => events.push("continuous updates"),
    endOfContinuousUpdates: () => events.push("end of continuous updates"),
  });

// ServerFence: 248, 3 padding, U32 flags, U8 length, payload.
const serverFence = (flags: number, payload: number[]) => [248, 0, 0, 0, ...u32(flags), payload.length, ...payload];
const END_OF_CU = [150];
const { BlockBefore, BlockAfter, SyncNext, Request } = FenceFlag;
const clientFence = (flags: number, payload: number[]) => [248, 0, 0, 0, ...u32(flags), payload.length, ...payload];

describe("Fence and ContinuousUpdates", () => {
  it("answers fence requests with what it honours, at every split point", () => {
    const payload = Array.from({ length: 64 }, (_, i) => i);
    const bytes = [
      // TigerVNC's first fence: a request with BlockBefore | BlockAfter | SyncNext and no payload.
      ...serverFence(Request | BlockBefore | BlockAfter | SyncNext, []),
      ...update(),
      // Undefined bits are cleared in the answer too.
      ...serverFence(Request | SyncNext | 0x100, payload),
      ...serverFence(Request | BlockAfter, [7]),
      // An answer to a fence of ours is reported, not answered.
      ...serverFence(BlockBefore, [1, 2]),
    ];
    everySplit(make, ENCODINGS, bytes, (s) => {
      expect(s.error).toBeNull();
      expect(s.events).toEqual(["fences", "response 0x1 [1,2]"]);
      expect(s.sent).toEqual([
        clientFence(BlockBefore | BlockAfter, []),
        clientFence(0, payload),
        clientFence(BlockAfter, [7]),
      ]);
      expect(s.ext.fencesSupported).toBeTrue();
    });
  });

  it("sends its own fences only after the server's", () => {
    const s = connected(make, ENCODINGS);
    expect(s.ext.requestFence(BlockBefore, Uint8Array.of(9))).toBeFalse();
    feed(s, serverFence(Request, []));
    expect(s.ext.requestFence(BlockBefore | SyncNext, Uint8Array.of(9))).toBeTrue();
    expect(s.sent).toEqual([clientFence(0, []), clientFence(Request | BlockBefore | SyncNext, [9])]);
    expect(() => s.ext.requestFence(1 << 5)).toThrowMatching((e: Error) => e.message.includes("undefined bits"));
    expect(() => s.ext.requestFence(0, new Uint8Array(65))).toThrowMatching((e: Error) => e.message.includes("65"));
  });

  it("rejects a fence payload over 64 bytes before waiting for it", () => {
    everySplit(make, ENCODINGS, [248, 0, 0, 0, ...u32(Request), 65], (s) => {
      expect(s.error?.code).toBe("malformed");
      expect(s.error?.message).toContain("65 bytes");
      expect(s.sent).toEqual([]);
    });
  });

  it("enables continuous updates only after EndOfContinuousUpdates, at every split point", () => {
    everySplit(make, ENCODINGS, [...END_OF_CU, ...update(), ...END_OF_CU], (s) => {
      expect(s.error).toBeNull();
      expect(s.events).toEqual(["continuous updates", "end of continuous updates", "end of continuous updates"]);
      expect(s.ext.continuousUpdatesSupported).toBeTrue();
    });
    const s = connected(make, ENCODINGS);
    const all = { x: 0, y: 0, width: WIDTH, height: HEIGHT };
    expect(s.ext.enableContinuousUpdates(true, all)).toBeFalse();
    expect(s.sent).toEqual([]);
    feed(s, END_OF_CU);
    expect(s.ext.enableContinuousUpdates(true, all)).toBeTrue();
    expect(s.ext.continuousUpdatesActive).toBeTrue();
    s.ext.enableContinuousUpdates(false, all);
    // Off takes effect at the server's answer.
    expect(s.ext.continuousUpdatesActive).toBeTrue();
    feed(s, END_OF_CU);
    expect(s.ext.continuousUpdatesActive).toBeFalse();
    expect(s.sent).toEqual([
      [150, 1, ...u16(0), ...u16(0), ...u16(WIDTH), ...u16(HEIGHT)],
      [150, 0, ...u16(0), ...u16(0), ...u16(WIDTH), ...u16(HEIGHT)],
    ]);
    expect(() => s.ext.enableContinuousUpdates(true, { ...all, width: 70000 })).toThrowMatching((e: Error) =>
      e.message.includes("width 70000"),
    );
  });

  it("forgets support when the connection ends", () => {
    const s = connected(make, ENCODINGS);
    feed(s, [...END_OF_CU, ...serverFence(0, [])]);
    s.client.close();
    expect(s.ext.fencesSupported).toBeFalse();
    expect(s.ext.continuousUpdatesSupported).toBeFalse();
    expect(s.ext.enableContinuousUpdates(true, { x: 0, y: 0, width: 1, height: 1 })).toBeFalse();
  });

  it("does not take a -313 rectangle for support: rfbproto defines none", () => {
    everySplit(make, ENCODINGS, update(rectHeader(0, 0, 0, 0, Encoding.ContinuousUpdates)), (s) => {
      expect(s.error?.message).toContain("encoding -313");
    });
  });
});
