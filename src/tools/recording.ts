// RFB session recordings (docs/recording.md): NAME.rfb holds what a real server sent to
// one client, NAME.json what that client asked for. Replaying feeds the bytes through the
// real client (the viewer's state machine and decoders) from memory. Pure TypeScript, so
// the node specs and `porthole-bench decode` (GJS) share it.

import { RfbClient } from "../protocol/client.js";
import { SecurityType } from "../protocol/constants.js";
import type { ImageDecoder } from "../protocol/decoders/decoder.js";
import type { ProtocolError } from "../protocol/errors.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { type PixelFormat, validatePixelFormat } from "../protocol/pixel-format.js";

export interface RecordingInfo {
  readonly server: string;
  readonly width: number;
  readonly height: number;
  readonly pixelFormat: PixelFormat;
  readonly encodings: readonly number[];
  readonly framebufferUpdates: number;
  readonly finalSha256: string;
  /** True when the recording holds JPEG rectangles: the hash is then not comparable. */
  readonly lossy: boolean;
}

export class RecordingError extends Error {
  override name = "RecordingError";
}

function field(o: Record<string, unknown>, key: string, type: "number" | "string" | "boolean"): unknown {
  const v = o[key];
  if (typeof v !== type) throw new RecordingError(`the sidecar's "${key}" is not a ${type}`);
  return v;
}

/** Validates a parsed NAME.json sidecar. */
export function parseRecordingInfo(json: unknown): RecordingInfo {
  if (typeof json !== "object" || json === null) throw new RecordingError("the sidecar is not a JSON object");
  const o = json as Record<string, unknown>;
  const pfIn = o.pixelFormat;
  if (typeof pfIn !== "object" || pfIn === null) throw new RecordingError('the sidecar has no "pixelFormat"');
  const p = pfIn as Record<string, unknown>;
  const bpp = field(p, "bitsPerPixel", "number");
  if (bpp !== 8 && bpp !== 16 && bpp !== 32) throw new RecordingError(`bitsPerPixel ${String(bpp)} is not 8, 16 or 32`);
  const pixelFormat: PixelFormat = {
    bitsPerPixel: bpp,
    depth: field(p, "depth", "number") as number,
    bigEndian: field(p, "bigEndian", "boolean") as boolean,
    trueColour: field(p, "trueColour", "boolean") as boolean,
    redMax: field(p, "redMax", "number") as number,
    greenMax: field(p, "greenMax", "number") as number,
    blueMax: field(p, "blueMax", "number") as number,
    redShift: field(p, "redShift", "number") as number,
    greenShift: field(p, "greenShift", "number") as number,
    blueShift: field(p, "blueShift", "number") as number,
  };
  try {
    validatePixelFormat(pixelFormat);
  } catch (e) {
    throw new RecordingError(`the sidecar's pixel format is invalid: ${e instanceof Error ? e.message : String(e)}`);
  }
  const encodings = o.encodings;
  if (!Array.isArray(encodings) || !encodings.every((e) => Number.isInteger(e)))
    throw new RecordingError('the sidecar\'s "encodings" is not a list of integers');
  return {
    server: typeof o.server === "string" ? o.server : "unknown",
    width: field(o, "width", "number") as number,
    height: field(o, "height", "number") as number,
    pixelFormat,
    encodings: encodings as number[],
    framebufferUpdates: field(o, "framebufferUpdates", "number") as number,
    finalSha256: field(o, "finalSha256", "string") as string,
    lossy: o.lossy === true,
  };
}

export interface ReplayResult {
  readonly framebuffer: MemoryFramebuffer;
  readonly framebufferUpdates: number;
  readonly rects: number;
  readonly pixels: number;
  /** Where the last complete FramebufferUpdate ends in the recording. */
  readonly completeBytes: number;
}

/**
 * Replays `bytes` through the client as the recording's client configured it, in chunks
 * of `chunkSize` bytes as a socket would deliver them. The framebuffer reflects everything
 * decoded, including a trailing incomplete update: replay `bytes.subarray(0,
 * completeBytes)` for the state after the last complete one. A given `framebuffer` is
 * reused (ServerInit resizes and blackens it), as a viewer reuses its own.
 */
export function replay(
  bytes: Uint8Array,
  info: RecordingInfo,
  images: ImageDecoder | null = null,
  chunkSize = 65536,
  framebuffer = new MemoryFramebuffer(),
): ReplayResult {
  let updates = 0;
  let rects = 0;
  let pixels = 0;
  let completeBytes = 0;
  // Set from the client's callback, which TypeScript's flow analysis cannot see.
  const outcome: { failure: ProtocolError | null } = { failure: null };
  const client: RfbClient = new RfbClient(
    {
      framebuffer,
      pixelFormat: info.pixelFormat,
      encodings: info.encodings,
      securityTypes: [SecurityType.None],
      images,
      requestUpdates: false,
    },
    {
      send: () => undefined,
      failed: (e) => {
        outcome.failure = e;
      },
      rectDecoded: (r) => {
        rects++;
        pixels += r.width * r.height;
      },
      updateComplete: () => {
        updates++;
        completeBytes = client.bytesConsumed;
      },
    },
  );
  for (let at = 0; at < bytes.length && outcome.failure === null; at += chunkSize)
    client.receive(bytes.subarray(at, Math.min(bytes.length, at + chunkSize)));
  if (outcome.failure !== null) throw new RecordingError(`the recording does not decode: ${outcome.failure.message}`);
  return { framebuffer, framebufferUpdates: updates, rects, pixels, completeBytes };
}
