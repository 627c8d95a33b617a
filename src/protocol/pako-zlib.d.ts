// pako 2's low-level zlib port (lib/zlib/*.js, CommonJS), which @types/pako does not
// describe: just what InflateStream uses.
declare module "pako/lib/zlib/zstream.js" {
  class ZStream {
    input: Uint8Array | null;
    next_in: number;
    avail_in: number;
    output: Uint8Array | null;
    next_out: number;
    avail_out: number;
    msg: string;
  }
  export = ZStream;
}

declare module "pako/lib/zlib/inflate.js" {
  import type ZStream from "pako/lib/zlib/zstream.js";

  export function inflateInit(strm: ZStream): number;
  export function inflate(strm: ZStream, flush: number): number;
  export function inflateReset(strm: ZStream): number;
}
