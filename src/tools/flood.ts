// The flood device's output as porthole-stream-device writes it (and tests/fixtures/
// flood-server.js): byte n of a connection is n % FLOOD_PERIOD, written as fast as the
// connection takes it between the bytes FLOOD_START and FLOOD_STOP it receives.

/** The counter's period: prime, so it never lines up with a chunk or window size. */
export const FLOOD_PERIOD = 251;
export const FLOOD_START = 0x46; // "F"
export const FLOOD_STOP = 0x53; // "S"

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
