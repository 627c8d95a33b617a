import { constants, deflate, Deflate } from "pako";

const { Z_SYNC_FLUSH } = constants;

import { ProtocolError } from "../../src/protocol/errors.js";
import { InflateStream } from "../../src/protocol/inflate.js";
import { concat } from "./encode-zlib.js";

/** Compresses `parts` on one stream, each ending at a sync flush, as RFB servers do. */
function syncFlushed(parts: Uint8Array[]): Uint8Array[] {
  const d = new Deflate();
  const chunks: Uint8Array[] = [];
  d.onData = (c: Uint8Array) => chunks.push(c);
  return parts.map((p) => {
    chunks.length = 0;
    d.push(p, Z_SYNC_FLUSH);
    return concat(chunks);
  });
}

const text = (s: string) => new TextEncoder().encode(s);

describe("InflateStream", () => {
  it("keeps its dictionary across rectangles", () => {
    const parts = [text("hello hello hello "), text("hello again, hello "), text("and hello")];
    const z = new InflateStream("test");
    syncFlushed(parts).forEach((data, i) => {
      expect(Array.from(z.inflate(data, parts[i]?.length ?? 0))).toEqual(Array.from(parts[i] ?? []));
    });
  });

  it("inflates data of unknown size up to a limit", () => {
    const parts = [new Uint8Array(300000).fill(7), text("tail")];
    const z = new InflateStream("test");
    const [a, b] = syncFlushed(parts);
    expect(z.inflateAll(a ?? new Uint8Array(), 1 << 20).length).toBe(300000);
    expect(Array.from(z.inflateAll(b ?? new Uint8Array(), 1 << 20))).toEqual(Array.from(text("tail")));
    const [big] = syncFlushed([new Uint8Array(1 << 20)]);
    expect(() => new InflateStream("bomb").inflateAll(big ?? new Uint8Array(), 1000)).toThrowMatching(
      (e: unknown) => e instanceof ProtocolError && e.code === "limit",
    );
  });

  it("refuses more or fewer bytes than the rectangle needs, and corrupt data", () => {
    const [data] = syncFlushed([new Uint8Array(100)]);
    expect(() => new InflateStream("short").inflate(data ?? new Uint8Array(), 101)).toThrowError(ProtocolError);
    expect(() => new InflateStream("long").inflate(data ?? new Uint8Array(), 99)).toThrowError(ProtocolError);
    expect(() => new InflateStream("bad").inflate(Uint8Array.of(0x78, 0x9c, 0xff, 0xff, 0xff), 10)).toThrowMatching(
      (e: unknown) => e instanceof ProtocolError && e.code === "malformed",
    );
  });

  it("starts over after reset, as Tight's stream-reset bits require", () => {
    const z = new InflateStream("test");
    const one = deflate(text("first"));
    expect(Array.from(z.inflate(one, 5))).toEqual(Array.from(text("first")));
    z.reset();
    expect(Array.from(z.inflate(deflate(text("again")), 5))).toEqual(Array.from(text("again")));
  });

  it("fails instead of looping on data after the end of the stream", () => {
    const ended = deflate(text("done"));
    const withTail = new Uint8Array(ended.length + 3);
    withTail.set(ended);
    withTail.set([1, 2, 3], ended.length);
    expect(() => new InflateStream("tail").inflateAll(withTail, 1 << 16)).toThrowError(ProtocolError);
  });
});
