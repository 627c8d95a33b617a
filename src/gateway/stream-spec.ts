// The `--stream` option of porthole-gateway: one character device to serve as an RFB
// stream (docs/streams.md). Syntax, one device per option:
//
//   NAME=BACKEND[,label="Human text"][,kind=KIND][,history=SIZE][,readonly]
//
//   BACKEND  unix:/path   a QEMU `-chardev socket,server=on,path=…` (or any stream socket)
//            tcp:HOST:PORT  the same over TCP (loopback)
//            pty:/dev/pts/N a QEMU `-chardev pty` or any terminal device
//   KIND     serial | console | parallel | monitor | channel   (default serial)
//   SIZE     bytes of history kept for late readers, with an optional K/M suffix (1M default)
//   readonly clients may read the device but never write to it (OPEN for writing is DENIED)
//
// Values may be double-quoted to hold commas; inside quotes \" and \\ are escapes.

export const STREAM_KINDS = ["serial", "console", "parallel", "monitor", "channel"] as const;
export type StreamKind = (typeof STREAM_KINDS)[number];

export type StreamBackend =
  | { readonly type: "unix"; readonly path: string }
  | { readonly type: "tcp"; readonly host: string; readonly port: number }
  | { readonly type: "pty"; readonly path: string };

export interface StreamSpec {
  readonly name: string;
  readonly label: string;
  readonly kind: StreamKind;
  readonly backend: StreamBackend;
  readonly historyBytes: number;
  /** Nobody may write to the device (STREAM_ADDED without the writable flag). */
  readonly readonly: boolean;
}

export const DEFAULT_HISTORY_BYTES = 1024 * 1024;
/** Names and labels travel as RFB Streams strings: at most 256 bytes of UTF-8. */
export const MAX_STRING_BYTES = 256;
const MAX_HISTORY_BYTES = 256 * 1024 * 1024;

export class StreamSpecError extends Error {
  override name = "StreamSpecError";
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Splits on commas outside double quotes, unquoting values. */
function splitFields(spec: string): string[] {
  const fields: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec.charAt(i);
    if (quoted) {
      if (c === "\\" && i + 1 < spec.length) cur += spec.charAt(++i);
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(cur);
      cur = "";
    } else cur += c;
  }
  if (quoted) throw new StreamSpecError("a double quote is not closed");
  fields.push(cur);
  return fields;
}

function parseBackend(text: string): StreamBackend {
  const colon = text.indexOf(":");
  const type = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? "" : text.slice(colon + 1);
  switch (type) {
    case "unix":
    case "pty":
      if (!rest.startsWith("/")) throw new StreamSpecError(`${type}: needs an absolute path, not “${rest}”`);
      return { type, path: rest };
    case "tcp": {
      const m = /^(\[[0-9A-Fa-f:.]+\]|[\w.-]+):(\d{1,5})$/.exec(rest);
      const port = Number(m?.[2]);
      if (!m || port < 1 || port > 65535) throw new StreamSpecError(`tcp: needs HOST:PORT, not “${rest}”`);
      return { type, host: (m[1] ?? "").replace(/^\[(.*)\]$/, "$1"), port };
    }
    default:
      throw new StreamSpecError(`the backend “${text}” is not unix:PATH, tcp:HOST:PORT or pty:PATH`);
  }
}

function parseSize(text: string): number {
  const m = /^(\d+)([KkMm]?)$/.exec(text);
  if (!m) throw new StreamSpecError(`history size “${text}” is not a number of bytes (K and M suffixes allowed)`);
  const unit = (m[2] ?? "").toUpperCase();
  const n = Number(m[1]) * (unit === "K" ? 1024 : unit === "M" ? 1024 * 1024 : 1);
  if (n > MAX_HISTORY_BYTES) throw new StreamSpecError(`history size ${text} is over the 256M limit`);
  return n;
}

export function parseStreamSpec(spec: string): StreamSpec {
  const [head = "", ...options] = splitFields(spec);
  const eq = head.indexOf("=");
  if (eq < 0) throw new StreamSpecError(`“${spec}” is not NAME=BACKEND[,options]`);
  const name = head.slice(0, eq);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
    throw new StreamSpecError(`the stream name “${name}” must be 1–64 letters, digits, “_”, “.” or “-”`);
  const backend = parseBackend(head.slice(eq + 1));

  let label = name;
  let kind: StreamKind = "serial";
  let historyBytes = DEFAULT_HISTORY_BYTES;
  let readonly = false;
  const seen = new Set<string>();
  for (const opt of options) {
    const oeq = opt.indexOf("=");
    const key = oeq < 0 ? opt : opt.slice(0, oeq);
    const value = oeq < 0 ? "" : opt.slice(oeq + 1);
    if (seen.has(key)) throw new StreamSpecError(`option “${key}” is given twice`);
    seen.add(key);
    switch (key) {
      case "label":
        if (value === "" || utf8Length(value) > MAX_STRING_BYTES)
          throw new StreamSpecError(`a label must be 1–${MAX_STRING_BYTES} bytes of UTF-8`);
        label = value;
        break;
      case "kind":
        if (!(STREAM_KINDS as readonly string[]).includes(value))
          throw new StreamSpecError(`kind “${value}” is not one of ${STREAM_KINDS.join(", ")}`);
        kind = value as StreamKind;
        break;
      case "history":
        historyBytes = parseSize(value);
        break;
      case "readonly":
        if (oeq >= 0) throw new StreamSpecError("readonly takes no value");
        readonly = true;
        break;
      default:
        throw new StreamSpecError(`unknown option “${key}” (label, kind, history and readonly are known)`);
    }
  }
  return { name, label, kind, backend, historyBytes, readonly };
}
