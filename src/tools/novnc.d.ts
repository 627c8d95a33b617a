// The parts of noVNC 1.7 (npm @novnc/novnc, plain ES modules without typings) that
// `porthole-bench decode --engine novnc` uses. The package's `exports` only exposes
// core/rfb.js; build-aux/esbuild.mjs aliases the package name to its directory so these
// subpaths bundle.

declare module "@novnc/novnc/core/websock.js" {
  /** A WebSocket-like channel (the properties Websock.attach() checks for). */
  export interface RawChannel {
    binaryType: string;
    protocol: string;
    readyState: number | string;
    onmessage: ((e: { data: ArrayBuffer }) => void) | null;
    onopen: (() => void) | null;
    onerror: ((e: unknown) => void) | null;
    onclose?: ((e: unknown) => void) | null;
    send(data: Uint8Array): void;
    close(): void;
  }

  export default class Websock {
    attach(channel: RawChannel): void;
    on(event: "message" | "open" | "close" | "error", handler: (e?: unknown) => void): void;
    close(): void;
    rQpeek8(): number;
    rQskipBytes(n: number): void;
    rQshift8(): number;
    rQshift16(): number;
    rQshift32(): number;
    rQlen(): number;
    rQshiftStr(len: number): string;
    rQshiftBytes(len: number, copy?: boolean): Uint8Array;
    rQshiftTo(target: Uint8Array, len: number): void;
    rQpeekBytes(len: number, copy?: boolean): Uint8Array;
    /** True when fewer than `num` bytes are queued (after stepping back `goback`). */
    rQwait(msg: string, num: number, goback?: number): boolean;
  }
}

declare module "@novnc/novnc/core/encodings.js" {
  export const encodings: Readonly<Record<string, number>>;
}

/** What noVNC's decoders call on their Display (core/display.js). */
interface NoVncDisplay {
  fillRect(x: number, y: number, width: number, height: number, color: ArrayLike<number>, fromQueue?: boolean): void;
  copyImage(oldX: number, oldY: number, newX: number, newY: number, w: number, h: number, fromQueue?: boolean): void;
  blitImage(
    x: number,
    y: number,
    width: number,
    height: number,
    arr: Uint8Array,
    offset: number,
    fromQueue?: boolean,
  ): void;
  imageRect(x: number, y: number, width: number, height: number, mime: string, arr: Uint8Array): void;
}

/** Every decoder module's default export (core/decoders/*.js). */
declare class NoVncDecoder {
  /** False when it needs more data: called again with the same rectangle later. */
  decodeRect(
    x: number,
    y: number,
    width: number,
    height: number,
    sock: import("@novnc/novnc/core/websock.js").default,
    display: NoVncDisplay,
    depth: number,
  ): boolean;
}

declare module "@novnc/novnc/core/decoders/*" {
  export default NoVncDecoder;
}
