// Real peers for the GJS specs: servers started as subprocesses on unix sockets or free
// loopback ports, stopped by PID (Gio.Subprocess) when a spec is done.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { buildConfig } from "../../src/platform/config.js";

Gio._promisify(Gio.Subprocess.prototype, "communicate_async", "communicate_finish");
Gio._promisify(Gio.Subprocess.prototype, "wait_async", "wait_finish");
Gio._promisify(Gio.DataInputStream.prototype, "read_line_async", "read_line_finish");

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
      resolve();
      return GLib.SOURCE_REMOVE;
    });
  });
}

/** Polls `ready` every 50 ms until it holds or `timeoutMs` passes. */
export async function waitFor(what: string, ready: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
  while (!ready()) {
    if (GLib.get_monotonic_time() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

export function tempDir(): string {
  return GLib.dir_make_tmp("porthole-test-XXXXXX");
}

/** An X display number with no server and no lock file. */
export function freeDisplay(): number {
  for (let n = 40; n < 200; n++) {
    if (
      !GLib.file_test(`/tmp/.X11-unix/X${n}`, GLib.FileTest.EXISTS) &&
      !GLib.file_test(`/tmp/.X${n}-lock`, GLib.FileTest.EXISTS)
    )
      return n;
  }
  throw new Error("no free X display number");
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const socket = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.STREAM, Gio.SocketProtocol.TCP);
  socket.bind(Gio.InetSocketAddress.new_from_string("127.0.0.1", 0), true);
  const address = socket.get_local_address();
  socket.close();
  if (!(address instanceof Gio.InetSocketAddress)) throw new Error("the socket has no IP address");
  return address.get_port();
}

export interface RunResult {
  readonly status: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

/** Attempts at an xdotool command that X failed with BadWindow. */
const XDOTOOL_ATTEMPTS = 5;

/**
 * Runs xdotool with `args` (on `display`, default this process's DISPLAY) and throws with
 * its message if it fails. Retried when X answered BadWindow: `search` reads the
 * properties of every window, and one destroyed meanwhile (another spec's window, a
 * popover) fails the whole command (seen in CI: X_GetProperty, BadWindow).
 */
export async function xdotool(args: string[], display?: string): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    const r = await run(["xdotool", ...args], display === undefined ? {} : { DISPLAY: display });
    if (r.status === 0) return r;
    if (!r.stderr.includes("BadWindow") || attempt === XDOTOOL_ATTEMPTS)
      throw new Error(`xdotool ${args.join(" ")}: ${r.stderr.trim()}`);
    await delay(100);
  }
}

/** Runs a command to completion, capturing its output. */
export async function run(argv: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const launcher = new Gio.SubprocessLauncher({
    flags: Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE,
  });
  for (const [k, v] of Object.entries(env)) launcher.setenv(k, v, true);
  const proc = launcher.spawnv(argv);
  const [stdout, stderr] = await proc.communicate_async(null, null);
  return {
    status: proc.get_if_exited() ? proc.get_exit_status() : 128,
    stdout: stdout?.toArray() ?? new Uint8Array(0),
    stderr: new TextDecoder().decode(stderr?.toArray() ?? new Uint8Array(0)),
  };
}

let logDir: string | null = null;
let children = 0;

/**
 * A long-running child: stopped with SIGTERM (then SIGKILL) by `stop()`. Its stderr goes
 * to a log file whose tail explains a failure to start.
 */
export class Child {
  readonly proc: Gio.Subprocess;
  readonly argv: readonly string[];
  readonly log: string;
  #stdout: Gio.DataInputStream;

  constructor(argv: string[], env: Record<string, string> = {}) {
    this.argv = argv;
    logDir ??= tempDir();
    this.log = `${logDir}/child-${++children}.log`;
    const launcher = new Gio.SubprocessLauncher({ flags: Gio.SubprocessFlags.STDOUT_PIPE });
    launcher.set_stderr_file_path(this.log);
    for (const [k, v] of Object.entries(env)) launcher.setenv(k, v, true);
    this.proc = launcher.spawnv(argv);
    const stdout = this.proc.get_stdout_pipe();
    if (!stdout) throw new Error("no stdout pipe");
    this.#stdout = new Gio.DataInputStream({ base_stream: stdout });
  }

  /** The last lines the child wrote on stderr. */
  logTail(lines = 15): string {
    try {
      const [, data] = GLib.file_get_contents(this.log);
      return new TextDecoder().decode(data).trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /**
   * Polls `ready` until it holds; fails at once, with the child's stderr, if the child
   * exits first, and with the same after `timeoutMs`.
   */
  async waitUntil(what: string, ready: () => boolean, timeoutMs = 30000): Promise<void> {
    const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
    while (!ready()) {
      const name = this.argv[0] ?? "the child";
      if (!this.running) throw new Error(`${name} exited before ${what}:\n${this.logTail()}`);
      if (GLib.get_monotonic_time() > deadline)
        throw new Error(`timed out waiting for ${what} from ${name}:\n${this.logTail()}`);
      await delay(50);
    }
  }

  /** Waits until the child accepts TCP connections on 127.0.0.1:`port`. */
  async waitForPort(port: number, timeoutMs = 30000): Promise<void> {
    await this.waitUntil(`port ${port}`, () => portOpen(port), timeoutMs);
  }

  /** Waits until the child prints `line` on its stdout. */
  async waitForLine(line: string, timeoutMs = 15000): Promise<void> {
    const timeout = delay(timeoutMs).then(() => {
      throw new Error(`timed out waiting for “${line}” from ${this.proc.get_identifier() ?? "a child"}`);
    });
    const read = (async () => {
      for (;;) {
        const [text] = await this.#stdout.read_line_async(GLib.PRIORITY_DEFAULT, null);
        if (text === null) throw new Error(`the child exited before printing “${line}”`);
        if (new TextDecoder().decode(text) === line) return;
      }
    })();
    await Promise.race([read, timeout]);
  }

  get running(): boolean {
    return this.proc.get_identifier() !== null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.send_signal(15);
    const exited = this.proc.wait_async(null);
    const timeout = delay(5000).then(() => "timeout");
    if ((await Promise.race([exited, timeout])) === "timeout") {
      this.proc.force_exit();
      await this.proc.wait_async(null);
    }
  }
}

/** A file in tests/fixtures (meson passes the directory in PORTHOLE_FIXTURES). */
export function fixturePath(name: string): string {
  const dir = GLib.getenv("PORTHOLE_FIXTURES");
  if (!dir) throw new Error("PORTHOLE_FIXTURES is not set");
  return `${dir}/${name}`;
}

/** The build tree's bundle of one of Porthole's programs. */
export function programBundle(name: string): string {
  return `${buildConfig().pkgdatadir}/${name}.js`;
}

/** Waits until something accepts TCP connections on 127.0.0.1:`port`. */
function portOpen(port: number): boolean {
  try {
    new Gio.SocketClient().connect_to_host("127.0.0.1", port, null).close(null);
    return true;
  } catch {
    return false;
  }
}

export async function waitForPort(port: number, timeoutMs = 30000): Promise<void> {
  await waitFor(`port ${port}`, () => portOpen(port), timeoutMs);
}

/** Runs the build tree's porthole-capture with `args` to completion. */
export function capture(...args: string[]): Promise<RunResult> {
  return run(["gjs", "-m", programBundle("porthole-capture"), ...args]);
}

/**
 * TigerVNC's Xvnc on X display `display` at depth 24, its RFB server on a unix socket or a
 * loopback port, with `options` (security types, certificates, password file) after.
 */
export function startXvnc(
  display: number,
  size: { width: number; height: number },
  listen: { unix: string } | { port: number },
  options: readonly string[],
): Child {
  const where =
    "unix" in listen
      ? ["-rfbport", "-1", "-rfbunixpath", listen.unix]
      : ["-rfbport", String(listen.port), "-localhost"];
  return new Child([
    "Xvnc",
    `:${display}`,
    "-geometry",
    `${size.width}x${size.height}`,
    "-depth",
    "24",
    ...where,
    "-nolisten",
    "tcp",
    ...options,
  ]);
}
