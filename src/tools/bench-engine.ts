// What every `porthole-bench decode --engine` implementation gives bench.ts.

import GLib from "gi://GLib";

/** One timed decode of a recording. */
export interface EngineResult {
  readonly framebufferUpdates: number;
  readonly rects: number;
  readonly pixels: number;
  /** Decoding only: preparation (reading files, untimed passes, hashing) is outside it. */
  readonly seconds: number;
  /** SHA-256 of the canonical final framebuffer (B, G, R, 255 per pixel). */
  readonly sha256: string;
}

/** An engine that has done its untimed preparation; run() may be called repeatedly. */
export interface PreparedEngine {
  run(): EngineResult;
}

/** The hex SHA-256 of a canonical framebuffer. */
export function sha256(bytes: Uint8Array): string {
  const hex = GLib.compute_checksum_for_data(GLib.ChecksumType.SHA256, bytes);
  if (hex === null) throw new Error("GLib could not compute a SHA-256");
  return hex;
}
