// porthole-capture: connect, receive one complete framebuffer, save it as PNG, exit.
// Every failure is one line on stderr and a non-zero exit within --timeout seconds.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { runProgram, UsageError } from "../platform/command-line.js";
import { VncConnection } from "../platform/connection.js";
import { savePng } from "../platform/png.js";
import { parseServerAddress } from "../protocol/address.js";
import { DEFAULT_ENCODINGS, encodingName } from "../protocol/client.js";
import { Encoding, ENCODINGS_BY_NAME } from "../protocol/constants.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";

const PSEUDO_ENCODINGS = [
  Encoding.DesktopSize,
  Encoding.ExtendedDesktopSize,
  Encoding.LastRect,
  Encoding.DesktopName,
  // Announcing cursor support keeps the server from drawing its cursor into the pixels.
  Encoding.CursorWithAlpha,
  Encoding.Cursor,
];

interface Options {
  uri: string;
  output: string;
  encodings: number[];
  passwordFile: string | null;
  username: string | null;
  caFile: string | null;
  timeout: number;
  stats: boolean;
}

function parseOptions(args: string[]): Options {
  const positional: string[] = [];
  const encodings: number[] = [];
  let passwordFile: string | null = null;
  let username: string | null = null;
  let caFile: string | null = null;
  let timeout = 30;
  let stats = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const [name, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--encoding": {
        const v = value().toLowerCase();
        const e = ENCODINGS_BY_NAME[v];
        if (e === undefined)
          throw new UsageError(`unknown encoding “${v}” (known: ${Object.keys(ENCODINGS_BY_NAME).join(", ")})`);
        encodings.push(e);
        break;
      }
      case "--stats":
        stats = true;
        break;
      case "--password-file":
        passwordFile = value();
        break;
      case "--username":
        username = value();
        break;
      case "--ca-file":
        caFile = value();
        break;
      case "--timeout": {
        const v = Number(value());
        if (!(v > 0 && v <= 3600)) throw new UsageError("--timeout takes a number of seconds between 0 and 3600");
        timeout = v;
        break;
      }
      default:
        if (name.startsWith("-") && name !== "-") throw new UsageError(`unknown option “${name}”`);
        positional.push(arg);
    }
  }
  const [uri, output, ...extra] = positional;
  if (uri === undefined || output === undefined) throw new UsageError("a server URI and an output file are required");
  if (extra.length > 0) throw new UsageError(`unexpected argument “${extra[0] ?? ""}”`);
  return { uri, output, encodings, passwordFile, username, caFile, timeout, stats };
}

/**
 * Which pixels the server has sent since the last resize. A server may answer the first
 * request with only pseudo-rectangles (TigerVNC sends ExtendedDesktopSize first) or paint
 * the screen over several updates, so "one update arrived" does not mean "a picture".
 */
class Coverage {
  #mask = new Uint8Array(0);
  #width = 0;
  #missing = 0;

  reset(width: number, height: number): void {
    this.#mask = new Uint8Array(width * height);
    this.#width = width;
    this.#missing = width * height;
  }

  add(x: number, y: number, w: number, h: number): void {
    for (let row = y; row < y + h; row++) {
      const start = row * this.#width + x;
      for (let i = start; i < start + w; i++) {
        if (this.#mask[i] === 0) {
          this.#mask[i] = 1;
          this.#missing--;
        }
      }
    }
  }

  get complete(): boolean {
    return this.#missing === 0 && this.#mask.length > 0;
  }
}

/** GLib.Error is no JS Error in gjs: its String() starts with the domain ("GLib.FileError: "). */
function errorText(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

function readPassword(path: string): string {
  try {
    const [, contents] = Gio.File.new_for_path(path).load_contents(null);
    return new TextDecoder().decode(contents).replace(/\r?\n$/, "");
  } catch (e) {
    throw new Error(`cannot read the password file: ${errorText(e)}`);
  }
}

/** Fails early, in words, on a CA file GnuTLS would otherwise read as "no CA at all". */
function checkCaFile(path: string): void {
  let certificates: Gio.TlsCertificate[];
  try {
    certificates = Gio.TlsCertificate.list_new_from_file(path);
  } catch (e) {
    throw new Error(`cannot read the CA file: ${errorText(e)}`);
  }
  if (certificates.length === 0) throw new Error(`the CA file ${path} holds no PEM certificate`);
}

async function capture(options: Options): Promise<number> {
  const address = parseServerAddress(options.uri);
  const password = options.passwordFile !== null ? readPassword(options.passwordFile) : null;
  if (options.caFile !== null) checkCaFile(options.caFile);
  const encodings = options.encodings.length > 0 ? [...options.encodings, ...PSEUDO_ENCODINGS] : [...DEFAULT_ENCODINGS];

  return new Promise<number>((resolve) => {
    let done = false;
    const framebuffer = new MemoryFramebuffer();
    const coverage = new Coverage();
    const rects = new Map<string, number>();
    const finish = (status: number, message?: string) => {
      if (done) return;
      done = true;
      GLib.source_remove(timer);
      if (message !== undefined) printerr(`porthole-capture: ${message}`);
      connection.close();
      resolve(status);
    };
    const timer = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, options.timeout, () => {
      finish(1, `no complete picture within ${options.timeout} s`);
      return GLib.SOURCE_REMOVE;
    });
    const connection: VncConnection = new VncConnection(
      { address, framebuffer, encodings, caFile: options.caFile, connectTimeout: options.timeout },
      {
        failed: (e) => {
          finish(1, e.message);
        },
        credentialsRequired: (needed) => {
          if (needed.username && options.username === null)
            finish(1, "the server asks for a user name: give one with --username");
          else if (needed.password && password === null)
            finish(1, "the server asks for a password: give one with --password-file");
          else
            connection.setCredentials({
              ...(options.username !== null ? { username: options.username } : {}),
              ...(password !== null ? { password } : {}),
            });
        },
        connected: (info) => {
          coverage.reset(info.width, info.height);
        },
        resized: (width, height) => {
          coverage.reset(width, height);
        },
        rectDecoded: (r) => {
          if (r.encoding >= 0 || r.encoding === Encoding.TightPNG) coverage.add(r.x, r.y, r.width, r.height);
          const name = encodingName(r.encoding);
          rects.set(name, (rects.get(name) ?? 0) + 1);
        },
        updateComplete: () => {
          if (!coverage.complete) return;
          try {
            savePng(options.output, framebuffer.width, framebuffer.height, framebuffer.pixels);
            if (options.stats)
              print(
                JSON.stringify({
                  width: framebuffer.width,
                  height: framebuffer.height,
                  rects: Object.fromEntries(rects),
                }),
              );
            finish(0);
          } catch (e) {
            finish(1, `cannot write ${options.output}: ${e instanceof Error ? e.message : String(e)}`);
          }
        },
      },
    );
    connection.connect();
  });
}

runProgram(
  {
    name: "porthole-capture",
    summary: "Save what a VNC server shows as a PNG",
    usage: [
      "[--encoding NAME]… [--username NAME] [--password-file FILE] [--ca-file FILE] [--timeout SECONDS] [--stats]" +
        " URI OUT.png",
    ],
    description:
      "URI is vnc://HOST[:PORT], vnc+unix:///PATH, HOST:DISPLAY, HOST::PORT or /PATH.\n" +
      "--encoding restricts the encodings offered: raw, copyrect, rre, corre, hextile, zlib, zrle,\n" +
      "tight, tightpng (repeat it to offer several). The default offers all of them.\n" +
      "--password-file holds the password, --username the user name (VeNCrypt Plain/X509Plain).\n" +
      "--ca-file trusts the CA certificates in FILE (PEM) for a VeNCrypt X509 server instead of\n" +
      "the system's; the certificate must be issued for the host name in URI.\n" +
      "--stats prints the size and the rectangles received per encoding as JSON on stdout.",
  },
  (args) => capture(parseOptions(args)),
);
