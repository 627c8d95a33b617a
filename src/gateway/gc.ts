// Full garbage collections at a steady pace while bytes flow through the gateway.
//
// gjs 1.74 refuses every callback from C while an incremental collection is sweeping
// between its slices ("Attempting to run a JS callback during garbage collection … it has
// been blocked"), and a refused AsyncReadyCallback is never called again: the read or
// write it completes is lost and that connection stalls for good. Measured here: a 32 MiB
// stream echo through the gateway stalled after a few MiB, its device socket holding
// unread bytes, with exactly that message in the log (the display widget and the display
// bench met the same, see src/widgets/vnc-display.ts). The gateway's churn is per I/O
// operation (a promise, a GLib.Bytes, closures) and per byte (the copies a relayed byte
// takes), so a full, non-incremental collection (System.gc()) after every so many of
// either keeps the heap below the size at which SpiderMonkey starts an incremental one on
// its own. One costs about 1 ms on the gateway's small heap.

import system from "system";

/** Bytes moved between two collections. */
const BYTES_PER_COLLECTION = 2 * 1024 * 1024;
/** I/O completions between two collections. */
const OPERATIONS_PER_COLLECTION = 400;

let bytes = 0;
let operations = 0;

/** Counts one I/O completion of `n` bytes; collects when enough has passed. */
export function noteIo(n: number): void {
  bytes += n;
  operations++;
  if (bytes >= BYTES_PER_COLLECTION || operations >= OPERATIONS_PER_COLLECTION) {
    bytes = 0;
    operations = 0;
    system.gc();
  }
}
