// porthole-gateway's command line, parsed and checked without touching anything (node
// specs run it). Every mistake is a GatewayConfigError: the program prints its message
// on one line and exits with status 2.
//
//   --listen tcp:HOST:PORT | unix:PATH      where viewers connect
//   --vnc unix:PATH | tcp:HOST:PORT         the VNC server behind (QEMU's, no auth)
//   --stream NAME=BACKEND[,…]               a device to serve as an RFB stream (stream-spec.ts)
//   --password-file F                       VNC authentication with the file's first line
//   --readonly-password-file F              a second password for read-only viewers
//   --tls-cert F --tls-key F [--tls-ca F]   VeNCrypt X509 with this certificate (PEM); with
//                                           --tls-ca, viewers need a certificate from that CA
//   --insecure                              allow a non-loopback listener without TLS + auth
//   --write-window N                        initial client-to-device credit (default 65536)
//   --slow-reader-timeout S                 how long a reader may hold others back (default 5)
//
// Options take their value as the next argument or after "=".

import { parseStreamSpec, type StreamSpec, StreamSpecError } from "./stream-spec.js";

export class GatewayConfigError extends Error {
  override name = "GatewayConfigError";
}

export type ListenAddress =
  | { readonly type: "tcp"; readonly host: string; readonly port: number }
  | { readonly type: "unix"; readonly path: string };

export interface GatewayOptions {
  readonly listen: ListenAddress;
  readonly vnc: ListenAddress;
  readonly streams: readonly StreamSpec[];
  readonly passwordFile: string | null;
  readonly readOnlyPasswordFile: string | null;
  readonly tls: TlsFiles | null;
  readonly insecure: boolean;
  readonly writeWindow: number;
  readonly slowReaderMs: number;
}

/** PEM files: the gateway's certificate and key, and the CAs viewers' certificates must chain to. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string | null;
}

export const DEFAULT_WRITE_WINDOW = 65536;
export const DEFAULT_SLOW_READER_SECONDS = 5;

const VALUE_OPTIONS = [
  "--listen",
  "--vnc",
  "--stream",
  "--password-file",
  "--readonly-password-file",
  "--tls-cert",
  "--tls-key",
  "--tls-ca",
  "--write-window",
  "--slow-reader-timeout",
] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

/** `tcp:HOST:PORT` (HOST may be a bracketed IPv6 literal) or `unix:PATH`. */
export function parseAddress(option: string, text: string): ListenAddress {
  if (text.startsWith("unix:")) {
    const path = text.slice(5);
    if (path === "") throw new GatewayConfigError(`${option} unix: needs a socket path`);
    return { type: "unix", path };
  }
  if (text.startsWith("tcp:")) {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[\w.-]+):(\d{1,5})$/.exec(text.slice(4));
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535)
      throw new GatewayConfigError(`${option} ${text}: expected tcp:HOST:PORT with a port from 1 to 65535`);
    return { type: "tcp", host: (m[1] ?? "").replace(/^\[(.*)\]$/, "$1"), port };
  }
  throw new GatewayConfigError(`${option} ${text}: expected tcp:HOST:PORT or unix:PATH`);
}

export function formatAddress(a: ListenAddress): string {
  return a.type === "unix" ? `unix:${a.path}` : `tcp:${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

/**
 * Whether a host is certainly this machine: "localhost", 127.0.0.0/8 or ::1 (also as an
 * IPv4-mapped address). Any other name might resolve elsewhere, so it is not.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && Number(v4[1]) === 127 && v4.slice(2).every((n) => Number(n) <= 255);
}

function positiveInteger(option: string, text: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max)
    throw new GatewayConfigError(`${option} ${text}: expected a whole number from 1 to ${max}`);
  return Number(text);
}

export function parseGatewayOptions(args: readonly string[]): GatewayOptions {
  const single = new Map<ValueOption, string>();
  const streams: StreamSpec[] = [];
  let insecure = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--insecure") {
      insecure = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq >= 0 ? arg.slice(0, eq) : arg) as ValueOption;
    if (!arg.startsWith("--") || !VALUE_OPTIONS.includes(name))
      throw new GatewayConfigError(`unknown option “${arg}” (see --help)`);
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new GatewayConfigError(`${name} needs a value`);
    if (name === "--stream") {
      let spec: StreamSpec;
      try {
        spec = parseStreamSpec(value);
      } catch (e) {
        if (e instanceof StreamSpecError) throw new GatewayConfigError(`--stream ${value}: ${e.message}`);
        throw e;
      }
      if (streams.some((s) => s.name === spec.name))
        throw new GatewayConfigError(`two streams are named “${spec.name}”`);
      streams.push(spec);
      continue;
    }
    if (single.has(name)) throw new GatewayConfigError(`${name} is given twice`);
    single.set(name, value);
  }

  const listenText = single.get("--listen");
  const vncText = single.get("--vnc");
  if (listenText === undefined) throw new GatewayConfigError("--listen is required (tcp:HOST:PORT or unix:PATH)");
  if (vncText === undefined) throw new GatewayConfigError("--vnc is required (unix:PATH or tcp:HOST:PORT)");
  const listen = parseAddress("--listen", listenText);
  const vnc = parseAddress("--vnc", vncText);

  const cert = single.get("--tls-cert");
  const key = single.get("--tls-key");
  const ca = single.get("--tls-ca") ?? null;
  if ((cert === undefined) !== (key === undefined))
    throw new GatewayConfigError("--tls-cert and --tls-key go together");
  if (ca !== null && cert === undefined)
    throw new GatewayConfigError("--tls-ca (checking viewers' certificates) needs --tls-cert and --tls-key");
  const tls = cert !== undefined && key !== undefined ? { cert, key, ca } : null;
  const passwordFile = single.get("--password-file") ?? null;
  const readOnlyPasswordFile = single.get("--readonly-password-file") ?? null;
  if (readOnlyPasswordFile !== null && passwordFile === null)
    throw new GatewayConfigError("--readonly-password-file needs --password-file for full access");

  // The gateway is the security endpoint: off this machine, nothing but TLS with
  // authentication (a password, or viewers' certificates) is safe.
  const authenticated = passwordFile !== null || ca !== null;
  if (listen.type === "tcp" && !isLoopbackHost(listen.host) && !insecure && (tls === null || !authenticated)) {
    const missing = tls === null ? (authenticated ? "TLS" : "TLS and authentication") : "authentication";
    throw new GatewayConfigError(
      `refusing to listen on ${formatAddress(listen)}, which is not a loopback address, without ${missing} (give --tls-cert and --tls-key, and --password-file or --tls-ca; or pass --insecure to do it anyway)`,
    );
  }

  const writeWindowText = single.get("--write-window");
  const slowText = single.get("--slow-reader-timeout");
  return {
    listen,
    vnc,
    streams,
    passwordFile,
    readOnlyPasswordFile,
    tls,
    insecure,
    writeWindow:
      writeWindowText === undefined
        ? DEFAULT_WRITE_WINDOW
        : positiveInteger("--write-window", writeWindowText, 0xffffffff),
    slowReaderMs:
      (slowText === undefined
        ? DEFAULT_SLOW_READER_SECONDS
        : positiveInteger("--slow-reader-timeout", slowText, 3600)) * 1000,
  };
}

/** The VNC password in a file's first line (DES uses its first 8 characters). */
export function passwordFromFile(path: string, contents: string): string {
  const line = contents.split(/\r?\n/, 1)[0] ?? "";
  if (line === "") throw new GatewayConfigError(`${path}: the password file's first line is empty`);
  return line;
}
