// Where to connect, parsed from what a user types or a URI a program passes. Accepted forms:
//   vnc://host[:port]          RFC 7869; port defaults to 5900; IPv6 in brackets
//   vnc+unix:///path/to/socket a local socket, e.g. QEMU's `-vnc unix:/path`
//   host:N   with N < 100      display number N, i.e. port 5900 + N (vncviewer convention)
//   host:PORT                  with PORT >= 100, a TCP port
//   host::PORT                 always a TCP port (TigerVNC's spelling)
//   /path/to/socket            a local socket
//   host                       port 5900

import { ProtocolError } from "./errors.js";

export const DEFAULT_PORT = 5900;

export type ServerAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number; readonly username?: string }
  | { readonly kind: "unix"; readonly path: string };

function invalid(input: string, why: string): ProtocolError {
  return new ProtocolError("invalid-argument", `“${input}” is not a server address: ${why}`);
}

function parsePort(input: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(input, `“${text}” is not a port number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw invalid(input, `port ${port} is outside 1–65535`);
  return port;
}

function checkHost(input: string, host: string): string {
  if (host === "") throw invalid(input, "the host name is empty");
  if (host.startsWith("[")) {
    if (!/^\[[0-9A-Fa-f:.]+(%[\w.-]+)?\]$/.test(host)) throw invalid(input, `“${host}” is not an IPv6 address`);
    return host.slice(1, -1);
  }
  if (!/^[\w.-]+$/.test(host)) throw invalid(input, `“${host}” is not a host name`);
  return host;
}

/** Splits "host:port" where host may be a bracketed IPv6 literal. */
function splitHostPort(input: string, authority: string): [string, string | undefined] {
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) throw invalid(input, "an IPv6 address is missing its “]”");
    const rest = authority.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) throw invalid(input, `unexpected “${rest}” after the address`);
    return [authority.slice(0, close + 1), rest === "" ? undefined : rest.slice(1)];
  }
  const colon = authority.indexOf(":");
  return colon < 0 ? [authority, undefined] : [authority.slice(0, colon), authority.slice(colon + 1)];
}

function decodeComponent(input: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(input, "it contains a malformed %-escape");
  }
}

export function parseServerAddress(text: string): ServerAddress {
  const input = text.trim();
  if (input === "") throw invalid(text, "it is empty");

  const scheme = /^([a-zA-Z][\w+.-]*):\/\//.exec(input);
  if (scheme) {
    const name = (scheme[1] ?? "").toLowerCase();
    const rest = input.slice(scheme[0].length);
    if (name === "vnc+unix") {
      if (!rest.startsWith("/")) throw invalid(input, "a vnc+unix URI needs an absolute path (vnc+unix:///path)");
      return { kind: "unix", path: decodeComponent(input, rest) };
    }
    if (name !== "vnc") throw invalid(input, `the scheme “${name}” is not vnc or vnc+unix`);
    // RFC 7869 allows query parameters; none of them change where we connect.
    const authorityAndPath = rest.replace(/[?#].*$/, "");
    const authority = authorityAndPath.replace(/\/$/, "");
    if (authority.includes("/")) throw invalid(input, "a vnc URI has no path");
    const at = authority.lastIndexOf("@");
    const username = at >= 0 ? decodeComponent(input, authority.slice(0, at)) : undefined;
    const [host, port] = splitHostPort(input, at >= 0 ? authority.slice(at + 1) : authority);
    return {
      kind: "tcp",
      host: checkHost(input, host),
      port: port === undefined || port === "" ? DEFAULT_PORT : parsePort(input, port),
      ...(username !== undefined && username !== "" ? { username } : {}),
    };
  }

  if (input.startsWith("/")) return { kind: "unix", path: input };

  const doubleColon = /^(.*[^:]|)::(\d+)$/.exec(input);
  if (doubleColon && !input.startsWith("[") && !(doubleColon[1] ?? "").includes(":")) {
    return { kind: "tcp", host: checkHost(input, doubleColon[1] ?? ""), port: parsePort(input, doubleColon[2] ?? "") };
  }
  const [host, port] = splitHostPort(input, input);
  if (port === undefined) return { kind: "tcp", host: checkHost(input, host), port: DEFAULT_PORT };
  // A number below 100 is a display, so "host:0" (not a valid port anyway) is port 5900.
  const display = /^\d{1,2}$/.test(port) ? Number(port) : undefined;
  return {
    kind: "tcp",
    host: checkHost(input, host),
    port: display !== undefined ? DEFAULT_PORT + display : parsePort(input, port),
  };
}

/** The canonical text for an address, which `parseServerAddress` maps back to it. */
export function formatServerAddress(address: ServerAddress): string {
  if (address.kind === "unix") return `vnc+unix://${encodeURI(address.path)}`;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  const user = address.username !== undefined ? `${encodeURIComponent(address.username)}@` : "";
  return `vnc://${user}${host}:${address.port}`;
}
