// RFB ProtocolVersion handshake (RFC 6143 §7.1.1): both sides send exactly 12 bytes,
// "RFB xxx.yyy\n". Servers in the wild also send 003.889 (Apple Remote Desktop, which
// speaks 3.3 semantics unless it can offer more) and 004.000/004.001 (RealVNC 4+/5+,
// which accept a 3.8 reply); anything with major 3 and minor between the known versions
// is treated as the highest known version below it, as the RFC asks.

import { ProtocolError } from "./errors.js";

export const VERSION_MESSAGE_LENGTH = 12;

export interface ProtocolVersion {
  readonly major: number;
  readonly minor: number;
}

/** The versions this client speaks, highest first. */
export const SUPPORTED_VERSIONS: readonly ProtocolVersion[] = [
  { major: 3, minor: 8 },
  { major: 3, minor: 7 },
  { major: 3, minor: 3 },
];

const VERSION_RE = /^RFB (\d{3})\.(\d{3})\n$/;

export function parseVersion(bytes: Uint8Array): ProtocolVersion {
  if (bytes.length !== VERSION_MESSAGE_LENGTH)
    throw new ProtocolError("malformed", `a ProtocolVersion message is 12 bytes, not ${bytes.length}`);
  const text = String.fromCharCode(...bytes);
  const m = VERSION_RE.exec(text);
  if (!m) throw new ProtocolError("malformed", `the server is not a VNC server (it sent ${JSON.stringify(text)})`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function formatVersion(v: ProtocolVersion): Uint8Array {
  const text = `RFB ${String(v.major).padStart(3, "0")}.${String(v.minor).padStart(3, "0")}\n`;
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The version a client answers with, given the server's; throws if there is none. */
export function negotiateVersion(server: ProtocolVersion): ProtocolVersion {
  if (server.major > 3) return { major: 3, minor: 8 };
  if (server.major === 3) {
    const usable = SUPPORTED_VERSIONS.find((v) => v.minor <= server.minor);
    if (usable) return usable;
  }
  throw new ProtocolError(
    "unsupported",
    `the server speaks RFB ${server.major}.${server.minor}, older than the 3.3 this client needs`,
  );
}
