// The flood device's output as porthole-stream-device writes it: byte n of a connection is
// n % FLOOD_PERIOD, written as fast as the connection takes it between the bytes
// FLOOD_START and FLOOD_STOP it receives (or numbered text lines after FLOOD_TEXT).

/** The counter's period: prime, so it never lines up with a chunk or window size. */
export const FLOOD_PERIOD = 251;
export const FLOOD_START = 0x46; // "F"
export const FLOOD_STOP = 0x53; // "S"
/** Starts text instead: line n is n as 10 digits, a space, 52 "x" and CR LF (64 bytes). */
export const FLOOD_TEXT = 0x54; // "T"

/** Flood text line `n`, as FLOOD_TEXT writes it. */
export function floodLine(n: number): string {
  return `${String(n).padStart(10, "0")} ${"x".repeat(52)}\r\n`;
}

/**
 * Follows a flood's output as it arrives and notes any chunk that does not begin and end
 * where the counter says: a lost, repeated or reordered chunk. Two bytes a chunk, so that
 * checking costs the reader (whose display latency is being measured) next to nothing.
 */
export class FloodChecker {
  bytes = 0;
  chunks = 0;
  /** Chunks whose first or last byte was not the counter's. */
  mismatches = 0;

  take(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const first = this.bytes % FLOOD_PERIOD;
    const last = (this.bytes + chunk.length - 1) % FLOOD_PERIOD;
    if (chunk[0] !== first || chunk[chunk.length - 1] !== last) this.mismatches++;
    this.bytes += chunk.length;
    this.chunks++;
  }
}
