import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { ProtocolError } from "../../src/protocol/errors.js";
import { splits } from "./helpers.js";

describe("ByteQueue", () => {
  const message = Uint8Array.from([0x00, 0x01, 0xff, 0xfe, 0x12, 0x34, 0x56, 0x78, 0xff, 0xff, 0xfe, 0xfa, 9, 8, 7]);

  function parse(q: ByteQueue): [number, number, number, number, number[]] | null {
    // One "step": U8, U8, U16, U32, S32, then 3 bytes; nothing is consumed unless complete.
    if (!q.has(15)) return null;
    return [q.readU8(), q.readU8(), q.readU16(), q.readU32(), [q.readS32(), ...q.readBytes(3)]] as never;
  }

  it("reads big-endian integers identically at every split point and byte by byte", () => {
    const expected = [0, 1, 0xfffe, 0x12345678, [-262, 9, 8, 7]];
    for (const chunks of splits(message)) {
      const q = new ByteQueue();
      let result = null;
      for (const c of chunks) {
        q.push(c);
        result ??= parse(q);
      }
      expect(result).toEqual(expected as never);
      expect(q.length).toBe(0);
    }
  });

  it("peeks without consuming", () => {
    const q = new ByteQueue();
    q.push(message);
    expect(q.peekU16(2)).toBe(0xfffe);
    expect(q.peekU32(4)).toBe(0x12345678);
    expect(q.peekU32LE(4)).toBe(0x78563412);
    expect(q.peekS32(8)).toBe(-262);
    expect(q.length).toBe(message.length);
  });

  it("refuses to read past what is available", () => {
    const q = new ByteQueue();
    q.push(Uint8Array.of(1, 2, 3));
    expect(() => q.peekU32()).toThrowError(RangeError);
    expect(() => q.skip(4)).toThrowError(RangeError);
    expect(q.length).toBe(3);
  });

  it("keeps data intact across growth and compaction", () => {
    const q = new ByteQueue();
    let next = 0;
    let expectNext = 0;
    let mismatches = 0;
    const consume = (got: Uint8Array) => {
      for (const b of got) if (b !== (expectNext++ & 0xff)) mismatches++;
    };
    for (let round = 0; round < 200; round++) {
      q.push(Uint8Array.from({ length: 1 + ((round * 977) % 9000) }, () => next++ & 0xff));
      consume(q.takeBytes(Math.min(q.length, (round * 1231) % 7000)));
    }
    consume(q.takeBytes(q.length));
    expect(mismatches).toBe(0);
    expect(expectNext).toBe(next);
  });

  it("takeBytes returns a copy that later pushes do not change", () => {
    const q = new ByteQueue();
    q.push(Uint8Array.of(1, 2, 3, 4));
    const copy = q.takeBytes(4);
    q.push(Uint8Array.of(9, 9, 9, 9));
    expect(Array.from(copy)).toEqual([1, 2, 3, 4]);
  });

  it("bounds the bytes waiting to be parsed", () => {
    const q = new ByteQueue(16);
    q.push(new Uint8Array(16));
    expect(() => {
      q.push(new Uint8Array(1));
    }).toThrowMatching((e: unknown) => e instanceof ProtocolError && e.code === "limit");
    q.skip(8);
    q.push(new Uint8Array(8));
    expect(q.length).toBe(16);
  });
});
