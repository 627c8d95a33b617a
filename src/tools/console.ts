// porthole-console: a terminal (or a pipe) attached to a serial console tunnelled in a VNC
// connection (RFB Streams, docs/streams.md), like `virsh console`: on a terminal it switches
// it to raw mode and leaves on Ctrl+]; in a pipe, stdin goes to the stream and the stream
// to stdout, and it exits when the stream closes or, after stdin's end, once everything
// read has been sent.
//
// Output is reported consumed only after it reached stdout, so a slow reader (a pipe into
// a slow program) holds the server back through the Streams window instead of filling
// memory here.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { runProgram, UsageError } from "../platform/command-line.js";
import { VncConnection } from "../platform/connection.js";
import { parseServerAddress } from "../protocol/address.js";
import { DEFAULT_ENCODINGS } from "../protocol/client.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { type StreamInfo, StreamsExtension } from "../protocol/streams.js";
import { answerCredentials, checkCaFile, errorText, readPassword } from "./client-options.js";

Gio._promisify(Gio.InputStream.prototype, "read_bytes_async", "read_bytes_finish");

/** Ctrl+]: the escape that leaves an interactive session (as telnet and virsh console). */
const ESCAPE = 0x1d;
const READ_SIZE = 16384;
/** The read-window spec §5 recommends. */
const DEFAULT_WINDOW = 65536;

/**
 * Full collections at a steady pace while bytes flow, for the reason src/gateway/gc.ts
 * gives: gjs 1.74 blocks callbacks from C while an incremental collection sweeps, and a
 * blocked AsyncReadyCallback is lost, so the transfer stalls for good. Measured: 100 MiB
 * piped through this program stalled within the first MiBs with "Attempting to run a JS
 * callback during garbage collection … The offending callback was AsyncReadyCallback()".
 */
const BYTES_PER_COLLECTION = 2 * 1024 * 1024;
const OPERATIONS_PER_COLLECTION = 400;
let churnBytes = 0;
let churnOperations = 0;

function paceCollections(n: number): void {
  churnBytes += n;
  churnOperations++;
  if (churnBytes >= BYTES_PER_COLLECTION || churnOperations >= OPERATIONS_PER_COLLECTION) {
    churnBytes = 0;
    churnOperations = 0;
    system.gc();
  }
}

interface Options {
  uri: string;
  stream: string | null;
  list: boolean;
  history: boolean;
  passwordFile: string | null;
  username: string | null;
  caFile: string | null;
  timeout: number;
  /** The read-window of the OPEN: how much output the server may send ahead (spec §5). */
  window: number;
}

function parseOptions(args: string[]): Options {
  const o: Options = {
    uri: "",
    stream: null,
    list: false,
    history: false,
    passwordFile: null,
    username: null,
    caFile: null,
    timeout: 30,
    window: DEFAULT_WINDOW,
  };
  const positional: string[] = [];
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
      case "--stream":
        o.stream = value();
        break;
      case "--list":
        o.list = true;
        break;
      case "--history":
        o.history = true;
        break;
      case "--password-file":
        o.passwordFile = value();
        break;
      case "--username":
        o.username = value();
        break;
      case "--ca-file":
        o.caFile = value();
        break;
      case "--window": {
        const text = value();
        const v = Number(text);
        if (!/^\d+$/.test(text) || v < 1 || v > 0xffffffff)
          throw new UsageError("--window takes a number of bytes from 1 to 4294967295");
        o.window = v;
        break;
      }
      case "--timeout": {
        const v = Number(value());
        if (!(v > 0 && v <= 3600)) throw new UsageError("--timeout takes a number of seconds between 0 and 3600");
        o.timeout = v;
        break;
      }
      default:
        if (name.startsWith("-") && name !== "-") throw new UsageError(`unknown option “${name}”`);
        positional.push(arg);
    }
  }
  if (positional.length === 0) throw new UsageError("a server URI is required");
  // The older form `URI STREAM` still names the stream.
  if (positional.length > 2) throw new UsageError(`unexpected argument “${positional[2] ?? ""}”`);
  o.uri = positional[0] ?? "";
  if (positional[1] !== undefined) {
    if (o.stream !== null) throw new UsageError("the stream is named twice");
    o.stream = positional[1];
  }
  parseServerAddress(o.uri);
  return o;
}

/** Runs `stty` on our terminal (stdin inherited): raw mode in, the saved mode back out. */
function stty(...args: string[]): string {
  const p = Gio.Subprocess.new(["stty", ...args], Gio.SubprocessFlags.STDIN_INHERIT | Gio.SubprocessFlags.STDOUT_PIPE);
  const [, out] = p.communicate_utf8(null, null);
  if (!p.get_successful()) throw new Error(`stty ${args.join(" ")} failed`);
  // Null when stty printed nothing, whatever the typing says.
  return ((out as string | null) ?? "").trim();
}

function describe(s: StreamInfo): string {
  const flags = [
    s.writable ? "writable" : "read-only",
    s.breakSupported ? "break" : "",
    s.historyAvailable ? "history" : "",
  ];
  return `${s.name}\t${s.kind}\t${flags.filter(Boolean).join(",")}\t${s.label}`;
}

function attach(o: Options): Promise<number> {
  const address = parseServerAddress(o.uri);
  const password = o.passwordFile !== null ? readPassword(o.passwordFile) : null;
  if (o.caFile !== null) checkCaFile(o.caFile);
  const interactive = !o.list && isTerminal(0);
  const stdout = new Gio.UnixOutputStream({ fd: 1, close_fd: false });

  return new Promise<number>((resolve) => {
    let done = false;
    // A function, so checks after an await see what happened meanwhile.
    const over = () => done;
    let savedMode: string | null = null;
    let streamId = -1;
    let stdinEnded = false;
    const cancellable = new Gio.Cancellable();
    let timer = 0;
    const stopTimer = () => {
      if (timer) GLib.source_remove(timer);
      timer = 0;
    };
    const finish = (status: number, message?: string) => {
      if (done) return;
      done = true;
      stopTimer();
      cancellable.cancel();
      if (savedMode !== null) stty(savedMode);
      if (message !== undefined) printerr(`${interactive ? "\r\n" : ""}porthole-console: ${message}`);
      connection.close();
      resolve(status);
    };
    timer = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, o.timeout, () => {
      timer = 0;
      finish(1, `the server listed no streams within ${o.timeout} s`);
      return GLib.SOURCE_REMOVE;
    });

    const maybeEnd = () => {
      if (stdinEnded && streamId >= 0 && streams.queuedBytes(streamId) === 0) finish(0);
    };

    const readStdin = async () => {
      const stdin = new Gio.UnixInputStream({ fd: 0, close_fd: false });
      for (;;) {
        let chunk: Uint8Array;
        try {
          chunk = (await stdin.read_bytes_async(READ_SIZE, GLib.PRIORITY_DEFAULT, cancellable)).toArray();
          paceCollections(chunk.length);
        } catch (e) {
          if (!over()) finish(1, `cannot read the input: ${errorText(e)}`);
          return;
        }
        if (over()) return;
        if (chunk.length === 0) {
          stdinEnded = true;
          maybeEnd();
          return;
        }
        const data = chunk;
        if (interactive) {
          const at = chunk.indexOf(ESCAPE);
          if (at >= 0) {
            if (at > 0) streams.write(streamId, chunk.slice(0, at));
            finish(0);
            return;
          }
        }
        // Wait for room rather than drop input: the queue is bounded (StreamsLimits).
        while (streams.write(streamId, data) === "queue-full") {
          await new Promise<void>((r) => {
            GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
              r();
              return GLib.SOURCE_REMOVE;
            });
          });
          if (over()) return;
        }
      }
    };

    const streams: StreamsExtension = new StreamsExtension({
      listComplete: () => {
        stopTimer();
        const all = streams.streams();
        if (o.list) {
          for (const s of all) print(describe(s));
          finish(0);
          return;
        }
        const chosen =
          o.stream !== null ? all.find((s) => s.name === o.stream) : (all.find((s) => s.kind === "serial") ?? all[0]);
        if (!chosen) {
          finish(
            1,
            o.stream !== null
              ? `the server has no stream “${o.stream}” (it lists: ${all.map((s) => s.name).join(", ") || "none"})`
              : "the server lists no streams",
          );
          return;
        }
        streamId = chosen.id;
        streams.open(chosen.id, { history: o.history && chosen.historyAvailable, readWindow: o.window });
      },
      opened: (_id, info) => {
        if (interactive) {
          savedMode = stty("-g");
          stty("raw", "-echo");
          printerr(`Connected to ${o.stream ?? "the console"}; escape character is ^]\r`);
        }
        if (info.write) void readStdin();
      },
      openFailed: (_id, failure) => {
        finish(1, `cannot open the stream: ${failure.text}`);
      },
      data: (id, bytes) => {
        try {
          stdout.write_all(bytes, null);
        } catch (e) {
          finish(1, `cannot write the output: ${errorText(e)}`);
          return;
        }
        streams.consumed(id, bytes.length);
        paceCollections(bytes.length);
      },
      writeDrained: () => {
        maybeEnd();
      },
      closed: (_id, info) => {
        finish(info.reason === 0 ? 0 : 1, info.message ? `${info.text}: ${info.message}` : info.text);
      },
    });

    const connection: VncConnection = new VncConnection(
      {
        address,
        framebuffer: new MemoryFramebuffer(),
        encodings: DEFAULT_ENCODINGS,
        extensions: [streams],
        caFile: o.caFile,
        connectTimeout: o.timeout,
        // One picture at the start carries the Streams ack; after that only stream traffic.
        requestUpdates: false,
      },
      {
        failed: (e) => {
          finish(1, e.message);
        },
        credentialsRequired: (needed) => {
          answerCredentials(connection, needed, { username: o.username, password }, (message) => {
            finish(1, message);
          });
        },
      },
    );
    connection.connect();
  });
}

function isTerminal(fd: number): boolean {
  try {
    return Gio.Subprocess.new(["test", "-t", String(fd)], Gio.SubprocessFlags.STDIN_INHERIT).wait_check(null);
  } catch {
    return false;
  }
}

runProgram(
  {
    name: "porthole-console",
    summary: "Attach this terminal (or a pipe) to a serial console tunnelled in a VNC connection",
    usage: [
      "[--stream NAME] [--history] [--window BYTES] [--password-file F] [--username U] [--ca-file F] URI",
      "--list [--password-file F] [--ca-file F] URI",
    ],
    description:
      "URI is vnc://HOST[:PORT], vnc+unix:///PATH, HOST:DISPLAY, HOST::PORT or /PATH.\n" +
      "Without --stream the first serial stream is used. --history replays what the device\n" +
      "printed before. On a terminal the session is raw (keys go to the guest as typed) and\n" +
      "Ctrl+] leaves; in a pipe, standard input goes to the stream and the stream to\n" +
      "standard output, until the stream closes or the input ends and has all been sent.\n" +
      "--window BYTES: how much output the server may send before this client has passed\n" +
      "it on (the stream's read window; default 65536).\n" +
      "--list prints NAME, KIND, FLAGS and LABEL of every stream, one per line.",
  },
  (args) => attach(parseOptions(args)),
);
