import { WriteQueue } from "../../src/platform/write-queue.js";
import { concat } from "./encode-zlib.js";

/** Takes everything queued, chunk by chunk. */
function drain(q: WriteQueue): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let c = q.take(); c !== null; c = q.take()) chunks.push(c);
  return chunks;
}

describe("WriteQueue", () => {
  it("copies into an empty queue to size, and joins what follows into chunks", () => {
    const q = new WriteQueue(8);
    const first = Uint8Array.of(1, 2, 3);
    q.push(first);
    first.fill(9); // the queue holds a copy
    q.push(Uint8Array.of(4, 5));
    q.push(Uint8Array.of(6, 7, 8, 9, 10, 11, 12, 13, 14));
    expect(q.length).toBe(14);
    expect(drain(q).map((c) => [...c])).toEqual([
      [1, 2, 3],
      [4, 5, 6, 7, 8, 9, 10, 11],
      [12, 13, 14],
    ]);
    expect(q.length).toBe(0);
    expect(q.take()).toBeNull();
  });

  it("splits a push larger than a chunk", () => {
    const q = new WriteQueue(4);
    q.push(Uint8Array.from({ length: 10 }, (_, i) => i));
    expect(drain(q).map((c) => c.length)).toEqual([4, 4, 2]);
  });

  it("keeps every byte in order through any mix of pushes and takes", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    const q = new WriteQueue(1000);
    const sent: number[] = [];
    const taken: Uint8Array[] = [];
    let next = 0;
    for (let round = 0; round < 2000; round++) {
      if (random(3) === 0) {
        const c = q.take();
        if (c) {
          expect(c.length).toBeLessThanOrEqual(1000);
          taken.push(c);
        }
      } else {
        const bytes = Uint8Array.from({ length: random(2500) }, () => next++ & 0xff);
        sent.push(...bytes);
        q.push(bytes);
      }
      expect(q.length).toBe(sent.length - taken.reduce((n, c) => n + c.length, 0));
    }
    taken.push(...drain(q));
    expect([...concat(taken)]).toEqual(sent);
  });

  it("appends another queue, and clears", () => {
    const a = new WriteQueue(4);
    const b = new WriteQueue(4);
    a.push(Uint8Array.of(1));
    b.push(Uint8Array.of(2, 3));
    b.push(Uint8Array.of(4, 5, 6));
    a.append(b);
    expect(b.length).toBe(0);
    expect([...concat(drain(a))]).toEqual([1, 2, 3, 4, 5, 6]);
    a.push(Uint8Array.of(7));
    a.clear();
    expect(a.length).toBe(0);
    expect(a.take()).toBeNull();
    expect(() => new WriteQueue(0)).toThrowError(RangeError);
  });
});
