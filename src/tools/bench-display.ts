// porthole-bench display: the CPU a viewer process spends per frame, and the frames it
// receives per second, while a 1920×1080 server shows a picture that changes everywhere on
// every frame — Porthole's viewer and gtk-vnc's gvncviewer in turn, in the same run, on
// the same server and content. A benchmark, never a timed test: it reports, it does not
// assert a speed.
//
// The set-up, all started here by PID and stopped on every way out (including Ctrl+C):
// - TigerVNC's Xvnc on its own X display, its RFB server on a unix socket, security None;
// - the content (porthole-display-content, a GTK window redrawn on every frame) on it;
// - a private Xvfb where the viewers' windows live, so the bench runs headless;
// - a proxy in this process between the viewer and Xvnc that forwards both directions
//   unchanged and counts the FramebufferUpdates the server sends. RFB does not delimit its
//   messages, so the proxy decodes the server's stream with Porthole's own client
//   configured as the viewer configured the server (RfbTap, src/tools/rfb-tap.ts). That
//   decoding costs this process CPU, not the viewer's.
// Each viewer connects to the proxy's socket, gets a warm-up, and is then measured over a
// fixed window: utime + stime of its process tree (/proc/PID/stat, in clock ticks) and
// the updates the proxy saw in that window.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { UsageError } from "../platform/command-line.js";
import { gdkImageDecoder } from "../platform/images.js";
import { Encoding, ENCODINGS_BY_NAME } from "../protocol/constants.js";
import {
  BenchFailure,
  clockTicks,
  DEBUG,
  debug,
  describe,
  removeTree,
  requireBundle,
  requireProgram,
} from "./bench-harness.js";
import { RfbTap, type TapError } from "./rfb-tap.js";

Gio._promisify(Gio.InputStream.prototype, "read_bytes_async", "read_bytes_finish");
Gio._promisify(Gio.OutputStream.prototype, "write_bytes_async", "write_bytes_finish");
Gio._promisify(Gio.DataInputStream.prototype, "read_line_async", "read_line_finish");
Gio._promisify(Gio.SocketClient.prototype, "connect_async", "connect_finish");
Gio._promisify(Gio.Subprocess.prototype, "wait_async", "wait_finish");

export const DISPLAY_WIDTH = 1920;
export const DISPLAY_HEIGHT = 1080;
/** Large enough for either viewer's window at 1:1 with its title bar or menu. */
const VIEWER_SCREEN = "2560x1600x24";
const READ_SIZE = 256 * 1024;
/** How long a viewer may take to show its first frame, or a server to start. */
const START_TIMEOUT_MS = 30000;

/**
 * Porthole's viewer renders with cairo by default here. On the private Xvfb, GTK's GL
 * renderer runs on Mesa's llvmpipe, software rendering inside the viewer's process that no
 * desktop with a GPU pays; gvncviewer (GTK 3) draws with cairo and leaves the rest to the
 * X server, whose CPU is counted for neither viewer. `--gsk-renderer gl` measures GL.
 */
export const DEFAULT_GSK_RENDERER = "cairo";

/** What GJS logs when it refuses a callback (see collectGarbage). */
const BLOCKED_CALLBACK = "Attempting to run a JS callback during garbage collection";

export interface DisplayBenchOptions {
  /** The measured window per viewer. */
  readonly seconds: number;
  /** Frames flow this long before the window opens (caches, JIT, the GL pipeline). */
  readonly warmupSeconds: number;
  /** GSK_RENDERER for Porthole's viewer. */
  readonly gskRenderer: string;
}

// ---- ending everything, whichever way the bench ends ---------------------------------------

/**
 * The first failure wins; every wait races against it, so a dead viewer or a tap that
 * cannot follow the stream ends the bench at once instead of at the next timeout.
 */
class Abort {
  readonly promise: Promise<never>;
  #reject: (e: BenchFailure) => void = () => undefined;
  #failure: BenchFailure | null = null;

  constructor() {
    this.promise = new Promise<never>((_resolve, reject) => {
      this.#reject = reject;
    });
    // Nobody may be waiting when it fails; the rejection is still read by the next wait.
    this.promise.catch(() => undefined);
  }

  get failure(): BenchFailure | null {
    return this.#failure;
  }

  fail(e: BenchFailure): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#reject(e);
  }

  /** Resolves after `ms`, or rejects with the failure. */
  async sleep(ms: number): Promise<void> {
    const timer = new Promise<void>((resolve) => {
      GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
      });
    });
    await Promise.race([timer, this.promise]);
  }

  /** Polls `ready` every 50 ms; fails with `what` after `timeoutMs`. */
  async until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
    while (!ready()) {
      if (GLib.get_monotonic_time() > deadline) throw new BenchFailure(`timed out waiting for ${what}`);
      await this.sleep(50);
    }
  }
}

/** A child process, stopped by its PID; its output goes to a log file in the bench's directory. */
class Child {
  readonly name: string;
  readonly proc: Gio.Subprocess;
  readonly pid: number;
  readonly log: string;
  #stdout: Gio.DataInputStream | null = null;
  #stopping = false;

  /**
   * `stdoutPipe`: stdout is read here (Xorg's -displayfd, the content's "ready") and
   * stderr goes to the log; otherwise both go to the log.
   */
  constructor(
    name: string,
    argv: string[],
    env: Readonly<Record<string, string | null>>,
    log: string,
    stdoutPipe: boolean,
  ) {
    this.name = name;
    this.log = log;
    const launcher = new Gio.SubprocessLauncher({
      flags: stdoutPipe ? Gio.SubprocessFlags.STDOUT_PIPE : Gio.SubprocessFlags.STDERR_MERGE,
    });
    if (stdoutPipe) launcher.set_stderr_file_path(log);
    else launcher.set_stdout_file_path(log);
    for (const [k, v] of Object.entries(env)) {
      if (v === null) launcher.unsetenv(k);
      else launcher.setenv(k, v, true);
    }
    try {
      this.proc = launcher.spawnv(argv);
    } catch (e) {
      throw new BenchFailure(`cannot start ${name}: ${describe(e)}`);
    }
    this.pid = Number(this.proc.get_identifier());
    const out = this.proc.get_stdout_pipe();
    if (out) this.#stdout = new Gio.DataInputStream({ base_stream: out });
  }

  /** A method, not a getter: the exit happens behind TypeScript's back between two calls. */
  isRunning(): boolean {
    return this.proc.get_identifier() !== null;
  }

  /** Reports to `abort` if the process ends before `stop()`. */
  watch(abort: Abort): void {
    this.proc.wait_async(null).then(
      () => {
        if (this.#stopping) return;
        // Ctrl+C in a terminal signals the whole process group, children included.
        const signal = this.proc.get_if_signaled() ? this.proc.get_term_sig() : 0;
        if (signal === 1 || signal === 2) {
          abort.fail(new BenchFailure(`interrupted (${this.name} got signal ${signal})`));
          return;
        }
        const how = this.proc.get_if_signaled()
          ? `was killed by signal ${this.proc.get_term_sig()}`
          : `exited with status ${this.proc.get_exit_status()}`;
        const last = this.lastLine();
        abort.fail(new BenchFailure(`${this.name} ${how}${last ? `: ${last}` : ""}`));
      },
      () => undefined,
    );
  }

  /** The last non-empty line of its log, to explain a failure in one line. */
  lastLine(): string {
    try {
      const [, data] = GLib.file_get_contents(this.log);
      const lines = new TextDecoder()
        .decode(data)
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
      return lines.at(-1) ?? "";
    } catch {
      return "";
    }
  }

  /** How many times its log says GJS refused a JS callback (see collectGarbage). */
  blockedCallbacks(): number {
    try {
      const [, data] = GLib.file_get_contents(this.log);
      return new TextDecoder().decode(data).split(BLOCKED_CALLBACK).length - 1;
    } catch {
      return 0;
    }
  }

  /** The next line on its stdout. */
  async readLine(abort: Abort, timeoutMs: number, what: string): Promise<string> {
    const stdout = this.#stdout;
    if (!stdout) throw new Error(`${this.name}'s stdout is not read`);
    const read = stdout.read_line_async(GLib.PRIORITY_DEFAULT, null).then(([line]) => {
      if (line === null) throw new BenchFailure(`${this.name} exited before ${what}: ${this.lastLine()}`);
      return new TextDecoder().decode(line).trim();
    });
    const timeout = abort.sleep(timeoutMs).then(() => {
      throw new BenchFailure(`timed out waiting for ${what} from ${this.name}: ${this.lastLine()}`);
    });
    return Promise.race([read, timeout]);
  }

  /**
   * SIGTERM, then SIGKILL after 3 s. Synchronous (GSubprocess notices the exit on GLib's
   * worker thread), so the signal handler can use it too.
   */
  stop(): void {
    debug(`stop ${this.name} ${this.pid} running=${this.isRunning()}`);
    this.#stopping = true;
    if (!this.isRunning()) return;
    this.proc.send_signal(15);
    const deadline = GLib.get_monotonic_time() + 3_000_000;
    while (this.isRunning() && GLib.get_monotonic_time() < deadline) GLib.usleep(10_000);
    if (this.isRunning()) {
      this.proc.force_exit();
      while (this.isRunning()) GLib.usleep(10_000);
    }
  }
}

// ---- CPU time from /proc ----------------------------------------------------------------

interface ProcStat {
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
  /** utime + stime only. */
  readonly own: number;
}

/** /proc/PID/stat (proc(5)): the fields after the parenthesised command name. */
function readStat(pid: number | "self"): ProcStat | null {
  let text: string;
  try {
    const [, data] = GLib.file_get_contents(`/proc/${pid}/stat`);
    text = new TextDecoder().decode(data);
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ")".
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields 4 (ppid) and 14–17 (utime, stime, cutime, cstime) of proc(5), here from field 3.
  const field = (n: number) => Number(f[n - 3]);
  const own = field(14) + field(15);
  const ticks = own + field(16) + field(17);
  if (!Number.isFinite(ticks)) throw new BenchFailure(`/proc/${pid}/stat does not read as proc(5) says: ${text}`);
  return { ppid: field(4), ticks, own };
}

/** This process's own CPU ticks (the proxy and the tap), without its children's. */
function ownTicks(): number {
  const s = readStat("self");
  if (!s) throw new BenchFailure("cannot read /proc/self/stat");
  return s.own;
}

/**
 * CPU ticks of `pid` and every live descendant. A process's cutime/cstime hold only its
 * children that already ended and were waited for, which are no longer in /proc, so
 * nothing is counted twice.
 */
function treeTicks(pid: number): number {
  const stats = new Map<number, ProcStat>();
  const entries = Gio.File.new_for_path("/proc").enumerate_children(
    "standard::name",
    Gio.FileQueryInfoFlags.NONE,
    null,
  );
  for (let info = entries.next_file(null); info !== null; info = entries.next_file(null)) {
    const name = info.get_name();
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  entries.close(null);
  const root = stats.get(pid) ?? readStat(pid);
  if (!root) throw new BenchFailure(`process ${pid} is gone`);
  let total = 0;
  const pending = [pid];
  const seen = new Set<number>();
  while (pending.length > 0) {
    const p = pending.pop() ?? pid;
    if (seen.has(p)) continue;
    seen.add(p);
    total += (p === pid ? root : stats.get(p))?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === p) pending.push(child);
  }
  return total;
}

// ---- the counting proxy -----------------------------------------------------------------

/**
 * GJS 1.74 refuses to run JS callbacks between the slices of an incremental garbage
 * collection ("Attempting to run a JS callback during garbage collection … it has been
 * blocked"), and a refused AsyncReadyCallback or SourceFunc is never called again: a read
 * completion is lost, a timer is gone. Churning through short-lived GObjects starts such
 * collections — the tap decodes each Tight JPEG rectangle with a GdkPixbufLoader, some 200
 * of them a frame — and then the proxy stops forwarding and the bench waits forever (seen
 * here: gjs spinning in its module loop for minutes; a stand-alone loop decoding 200 JPEGs
 * per 2 ms tick loses its timers the same way, and keeps them with a collection per tick).
 * So the proxy collects in full (System.gc(): one non-incremental collection) after each
 * chunk the tap decodes: no collection the engine starts on its own outlives the callback
 * that started it.
 */
function collectGarbage(): void {
  system.gc();
}

/** The connections of one viewer and what the proxy counted for it. */
class Session {
  readonly name: string;
  frames = 0;
  serverBytes = 0;
  readonly taps: RfbTap[] = [];
  readonly #cancellable = new Gio.Cancellable();

  constructor(name: string) {
    this.name = name;
  }

  get cancellable(): Gio.Cancellable {
    return this.#cancellable;
  }

  /** Ends every connection of this session. */
  close(): void {
    this.#cancellable.cancel();
  }
}

class CountingProxy {
  readonly path: string;
  readonly #upstream: string;
  readonly #abort: Abort;
  readonly #service = new Gio.SocketService();
  #session: Session | null = null;

  constructor(path: string, upstream: string, abort: Abort) {
    this.path = path;
    this.#upstream = upstream;
    this.#abort = abort;
    this.#service.add_address(Gio.UnixSocketAddress.new(path), Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null);
    this.#service.connect("incoming", (_service, connection) => {
      void this.#accept(connection);
      return true;
    });
    this.#service.start();
  }

  /** Counts the connections that arrive from now on for `name`. */
  begin(name: string): Session {
    this.#session?.close();
    this.#session = new Session(name);
    return this.#session;
  }

  stop(): void {
    this.#session?.close();
    this.#service.stop();
    this.#service.close();
  }

  async #accept(viewer: Gio.SocketConnection): Promise<void> {
    const session = this.#session;
    if (!session || session.cancellable.is_cancelled()) {
      viewer.close(null);
      return;
    }
    const cancellable = session.cancellable;
    let server: Gio.SocketConnection;
    try {
      server = await new Gio.SocketClient().connect_async(Gio.UnixSocketAddress.new(this.#upstream), cancellable);
    } catch (e) {
      viewer.close(null);
      if (!cancellable.is_cancelled())
        this.#abort.fail(new BenchFailure(`the proxy cannot reach Xvnc: ${describe(e)}`));
      return;
    }
    const tap = new RfbTap(gdkImageDecoder, {
      updateComplete: () => {
        session.frames++;
      },
      failed: (e: TapError) => {
        if (!cancellable.is_cancelled())
          this.#abort.fail(new BenchFailure(`cannot count ${session.name}'s frames: ${e.message}`));
      },
    });
    session.taps.push(tap);
    const end = () => {
      // One direction ended: so does the other (a half-open RFB connection is of no use).
      viewer.close(null);
      server.close(null);
    };
    void this.#pump(viewer.get_input_stream(), server.get_output_stream(), cancellable, (c) => {
      tap.fromClient(c);
    }).finally(end);
    void this.#pump(server.get_input_stream(), viewer.get_output_stream(), cancellable, (c) => {
      session.serverBytes += c.length;
      tap.fromServer(c);
      collectGarbage();
    }).finally(end);
  }

  /**
   * Copies `input` to `output` unchanged. Each chunk is handed to the socket first and
   * observed while it drains: the peer's answer to it can only be read after this
   * synchronous observation, so the tap always sees a message before any reply to it.
   */
  async #pump(
    input: Gio.InputStream,
    output: Gio.OutputStream,
    cancellable: Gio.Cancellable,
    observe: (chunk: Uint8Array) => void,
  ): Promise<void> {
    try {
      for (;;) {
        const bytes = await input.read_bytes_async(READ_SIZE, GLib.PRIORITY_DEFAULT, cancellable);
        const size = bytes.get_size();
        if (size === 0) return;
        const written = this.#writeAll(output, bytes, cancellable);
        // A view of the GBytes' memory, valid while `bytes` lives; the tap copies what it keeps.
        observe(bytes.toArray());
        await written;
      }
    } catch {
      // A closed or cancelled connection: the viewer went away or was stopped.
    }
  }

  async #writeAll(output: Gio.OutputStream, bytes: GLib.Bytes, cancellable: Gio.Cancellable): Promise<void> {
    let rest = bytes;
    while (rest.get_size() > 0) {
      const n = await output.write_bytes_async(rest, GLib.PRIORITY_DEFAULT, cancellable);
      rest = rest.new_from_bytes(n, rest.get_size() - n);
    }
  }
}

// ---- the run ----------------------------------------------------------------------------

/** Labels for the pseudo-encodings (rfbproto's names), for the report. */
const PSEUDO_ENCODING_LABELS: ReadonlyMap<number, string> = new Map([
  [Encoding.DesktopSize, "desktop-size"],
  [Encoding.LastRect, "last-rect"],
  [Encoding.Cursor, "cursor"],
  // rfbproto's X Cursor; gtk-vnc lists it, Porthole does not speak it.
  [-240, "x-cursor"],
  [Encoding.DesktopName, "desktop-name"],
  [Encoding.ExtendedDesktopSize, "extended-desktop-size"],
  [Encoding.Xvp, "xvp"],
  [Encoding.Fence, "fence"],
  [Encoding.ContinuousUpdates, "continuous-updates"],
  [Encoding.CursorWithAlpha, "cursor-with-alpha"],
  [Encoding.ExtendedMouseButtons, "extended-mouse-buttons"],
  [Encoding.QEMUPointerMotionChange, "qemu-pointer-motion-change"],
  [Encoding.QEMUExtendedKeyEvent, "qemu-extended-key-event"],
  [Encoding.QEMUAudio, "qemu-audio"],
  [Encoding.QEMULedState, "qemu-led-state"],
  [Encoding.Streams, "rfb-streams"],
  [Encoding.VMwareDisplayModeChange, "vmware-display-mode-change"],
  [Encoding.ExtendedClipboard, "extended-clipboard"],
]);

/** A name for an encoding of a SetEncodings list or a rectangle; the number if it has none here. */
export function encodingLabel(encoding: number): string {
  const real = Object.keys(ENCODINGS_BY_NAME).find((name) => ENCODINGS_BY_NAME[name] === encoding);
  if (real !== undefined) return real;
  if (encoding >= Encoding.JPEGQualityLevel0 && encoding <= Encoding.JPEGQualityLevel0 + 9)
    return `jpeg-quality-${encoding - Encoding.JPEGQualityLevel0}`;
  if (encoding >= Encoding.CompressLevel0 && encoding <= Encoding.CompressLevel0 + 9)
    return `compress-level-${encoding - Encoding.CompressLevel0}`;
  return PSEUDO_ENCODING_LABELS.get(encoding) ?? String(encoding);
}

export interface ViewerResult {
  readonly frames: number;
  readonly fps: number;
  readonly cpuSeconds: number;
  readonly cpuMsPerFrame: number;
  /** The viewer's SetEncodings list, as it sent it. */
  readonly encodings: readonly string[];
  /** Rectangles the server sent in the window, by encoding. */
  readonly rectsByEncoding: Readonly<Record<string, number>>;
  readonly serverMegabytesPerFrame: number;
  /** Xvnc's own CPU in the window, per frame: what the viewer's choice of encodings costs the server. */
  readonly serverCpuMsPerFrame: number;
  /**
   * This process's CPU in the window, per frame: forwarding, the tap decoding every update
   * with Porthole's client (the protocol share of a Porthole viewer's work), collections.
   */
  readonly proxyCpuMsPerFrame: number;
  /**
   * Callbacks GJS refused in the viewer's process by the end of the window: a GJS viewer
   * that reports any has lost I/O completions or frames and stalls (see collectGarbage).
   */
  readonly blockedCallbacks: number;
}

interface Environment {
  readonly abort: Abort;
  readonly dir: string;
  readonly proxy: CountingProxy;
  readonly xvnc: Child;
  readonly viewerDisplay: string;
  readonly hz: number;
  readonly options: DisplayBenchOptions;
  readonly children: Child[];
}

function rectCounts(taps: readonly RfbTap[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const tap of taps) for (const [e, n] of tap.rectsByEncoding) counts.set(e, (counts.get(e) ?? 0) + n);
  return counts;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** Why a GJS viewer may have stopped showing frames (see collectGarbage). */
function stallHint(blockedCallbacks: number): string {
  return blockedCallbacks > 0
    ? ` (it stalled: GJS refused ${blockedCallbacks} of its callbacks during garbage collection)`
    : "";
}

async function measure(
  env: Environment,
  name: string,
  argv: string[],
  childEnv: Readonly<Record<string, string | null>>,
): Promise<ViewerResult> {
  const { abort, proxy, options } = env;
  const session = proxy.begin(name);
  const viewer = new Child(name, argv, childEnv, `${env.dir}/${name}.log`, false);
  env.children.push(viewer);
  viewer.watch(abort);
  try {
    debug(`${name} started, pid ${viewer.pid}`);
    try {
      await abort.until(`${name} to show a first frame`, () => session.frames > 0, START_TIMEOUT_MS);
    } catch (e) {
      throw e instanceof BenchFailure ? new BenchFailure(e.message + stallHint(viewer.blockedCallbacks())) : e;
    }
    debug(`${name} first frame`);
    await abort.sleep(options.warmupSeconds * 1000);
    debug(`${name} window opens at ${session.frames} frames`);
    const before = {
      ticks: treeTicks(viewer.pid),
      server: treeTicks(env.xvnc.pid),
      proxy: ownTicks(),
      frames: session.frames,
      bytes: session.serverBytes,
      rects: rectCounts(session.taps),
      time: GLib.get_monotonic_time(),
    };
    await abort.sleep(options.seconds * 1000);
    debug(`${name} window closes at ${session.frames} frames`);
    const ticks = treeTicks(viewer.pid) - before.ticks;
    const server = treeTicks(env.xvnc.pid) - before.server;
    const proxy = ownTicks() - before.proxy;
    const frames = session.frames - before.frames;
    const bytes = session.serverBytes - before.bytes;
    const elapsed = (GLib.get_monotonic_time() - before.time) / 1e6;
    const blockedCallbacks = viewer.blockedCallbacks();
    if (frames === 0)
      throw new BenchFailure(`${name} received no frames in ${options.seconds} s${stallHint(blockedCallbacks)}`);
    const rects: Record<string, number> = {};
    for (const [e, n] of rectCounts(session.taps)) {
      const d = n - (before.rects.get(e) ?? 0);
      if (d > 0) rects[encodingLabel(e)] = d;
    }
    const cpuSeconds = ticks / env.hz;
    const encodings = session.taps.at(-1)?.encodings ?? [];
    return {
      frames,
      fps: round(frames / elapsed, 2),
      cpuSeconds: round(cpuSeconds, 2),
      cpuMsPerFrame: round((cpuSeconds * 1000) / frames, 2),
      encodings: encodings.map(encodingLabel),
      rectsByEncoding: rects,
      serverMegabytesPerFrame: round(bytes / frames / 1e6, 3),
      serverCpuMsPerFrame: round(((server / env.hz) * 1000) / frames, 2),
      proxyCpuMsPerFrame: round(((proxy / env.hz) * 1000) / frames, 2),
      blockedCallbacks,
    };
  } finally {
    debug(`stopping ${name}`);
    viewer.stop();
    session.close();
    debug(`stopped ${name}`);
  }
}

/** An X server started with -displayfd 1: it prints its display number once it accepts clients. */
async function startX(
  abort: Abort,
  children: Child[],
  name: string,
  argv: string[],
  log: string,
): Promise<{ child: Child; display: string }> {
  const child = new Child(name, [...argv, "-displayfd", "1"], {}, log, true);
  children.push(child);
  child.watch(abort);
  const line = await child.readLine(abort, START_TIMEOUT_MS, "its display number");
  if (!/^\d+$/.test(line)) throw new BenchFailure(`${name} printed “${line}” instead of its display number`);
  return { child, display: `:${line}` };
}

function pad(s: string, n: number, left = false): string {
  return left ? s.padStart(n) : s.padEnd(n);
}

function printTable(seconds: number, results: readonly [string, ViewerResult][], ratio: number): void {
  const header = [
    "viewer",
    "frames",
    "frames/s",
    "CPU s",
    "CPU ms/frame",
    "Xvnc ms/frame",
    "proxy ms/frame",
    "MB/frame",
    "blocked callbacks",
    "rectangles",
  ];
  const rows = results.map(([name, r]) => [
    name,
    String(r.frames),
    r.fps.toFixed(2),
    r.cpuSeconds.toFixed(2),
    r.cpuMsPerFrame.toFixed(2),
    r.serverCpuMsPerFrame.toFixed(2),
    r.proxyCpuMsPerFrame.toFixed(2),
    r.serverMegabytesPerFrame.toFixed(3),
    String(r.blockedCallbacks),
    Object.entries(r.rectsByEncoding)
      .map(([e, n]) => `${e} ${n}`)
      .join(", "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0, i > 0))).join("  ");
  printerr(
    [
      `${DISPLAY_WIDTH}×${DISPLAY_HEIGHT}, full-screen change every frame; ${seconds} s measured per viewer`,
      line(header),
      line(widths.map((w) => "-".repeat(w))),
      ...rows.map(line),
      `CPU per frame, porthole / gvncviewer: ${ratio.toFixed(2)}`,
    ].join("\n"),
  );
}

/** Settings for Porthole's viewer: a window that shows the whole desktop at 1:1. */
function writePortholeSettings(configHome: string, height: number): void {
  const dir = `${configHome}/glib-2.0/settings`;
  GLib.mkdir_with_parents(dir, 0o700);
  // GIO's keyfile backend: one group per schema path (data/dev.porthole.Viewer.gschema.xml).
  const keyfile = `[dev/porthole/Viewer]\nwindow-width=${DISPLAY_WIDTH}\nwindow-height=${height}\nwindow-maximized=false\n`;
  GLib.file_set_contents(`${dir}/keyfile`, new TextEncoder().encode(keyfile));
}

async function run(env: Omit<Environment, "xvnc" | "proxy" | "viewerDisplay">): Promise<number> {
  const { abort, dir, children, options } = env;
  const xvncBinary = requireProgram("Xvnc", "Debian package tigervnc-standalone-server");
  const xvfbBinary = requireProgram("Xvfb", "Debian package xvfb");
  const gvncviewer = requireProgram("gvncviewer", "Debian package gvncviewer");
  const gjs = requireProgram("gjs", "Debian package gjs");
  // PORTHOLE_BENCH_VIEWER: another build of the viewer's bundle to measure (an experiment
  // with a change to the viewer, next to its own porthole-config.json).
  const viewerBundle = GLib.getenv("PORTHOLE_BENCH_VIEWER") ?? requireBundle("porthole");
  const contentBundle = requireBundle("porthole-display-content");

  const vncSocket = `${dir}/vnc.sock`;
  const { child: xvnc, display: vncDisplay } = await startX(
    abort,
    children,
    "Xvnc",
    [
      xvncBinary,
      "-geometry",
      `${DISPLAY_WIDTH}x${DISPLAY_HEIGHT}`,
      "-depth",
      "24",
      "-rfbunixpath",
      vncSocket,
      "-rfbport",
      "-1",
      "-SecurityTypes",
      "None",
      "-nolisten",
      "tcp",
    ],
    `${dir}/Xvnc.log`,
  );
  const { display: viewerDisplay } = await startX(
    abort,
    children,
    "Xvfb",
    [xvfbBinary, "-screen", "0", VIEWER_SCREEN, "-nolisten", "tcp"],
    `${dir}/Xvfb.log`,
  );

  const runtimeDir = `${dir}/runtime`;
  const configHome = `${dir}/config`;
  GLib.mkdir_with_parents(runtimeDir, 0o700);
  // Every child gets a private session: no D-Bus (so Porthole cannot hand its URI to a
  // running instance elsewhere, and nothing autolaunches a bus), no accessibility bus, no
  // settings of the user's, X11 only.
  const common: Record<string, string | null> = {
    XDG_RUNTIME_DIR: runtimeDir,
    XDG_CONFIG_HOME: configHome,
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/no-session-bus`,
    NO_AT_BRIDGE: "1",
    GTK_A11Y: "none",
    GDK_BACKEND: "x11",
    WAYLAND_DISPLAY: null,
    GSETTINGS_BACKEND: "memory",
  };

  const content = new Child(
    "porthole-display-content",
    [gjs, "-m", contentBundle, String(DISPLAY_WIDTH), String(DISPLAY_HEIGHT)],
    // Cairo rendering: Xvnc's software GL would only slow the picture down.
    { ...common, DISPLAY: vncDisplay, GSK_RENDERER: "cairo" },
    `${dir}/content.log`,
    true,
  );
  children.push(content);
  content.watch(abort);
  const ready = await content.readLine(abort, START_TIMEOUT_MS, "its first frame");
  if (ready !== "ready") throw new BenchFailure(`porthole-display-content printed “${ready}”, not “ready”`);

  const proxy = new CountingProxy(`${dir}/proxy.sock`, vncSocket, abort);
  const full: Environment = { ...env, xvnc, proxy, viewerDisplay };
  try {
    const viewerEnv = { ...common, DISPLAY: viewerDisplay };
    // Both viewers draw the whole desktop at 1:1: gvncviewer sizes its window to the
    // desktop by itself; Porthole's window gets the same room (title bar included) through
    // its settings, and one-to-one scaling.
    writePortholeSettings(configHome, DISPLAY_HEIGHT + 120);
    const porthole = await measure(
      full,
      "porthole",
      [gjs, "-m", viewerBundle, "--scaling=one-to-one", `vnc+unix://${proxy.path}`],
      {
        ...viewerEnv,
        GSETTINGS_BACKEND: "keyfile",
        GSK_RENDERER: options.gskRenderer,
      },
    );
    // gvncviewer takes a unix socket as any argument with a "/" (gtk-vnc
    // examples/gvncviewer.c, built with GIO unix support as Debian's is).
    const gvnc = await measure(full, "gvncviewer", [gvncviewer, proxy.path], viewerEnv);
    const ratio = porthole.cpuMsPerFrame / gvnc.cpuMsPerFrame;
    print(
      JSON.stringify({
        width: DISPLAY_WIDTH,
        height: DISPLAY_HEIGHT,
        seconds: options.seconds,
        warmupSeconds: options.warmupSeconds,
        gskRenderer: options.gskRenderer,
        porthole,
        gvncviewer: gvnc,
        cpuPerFrameRatio: round(ratio, 2),
      }),
    );
    printTable(
      options.seconds,
      [
        ["porthole", porthole],
        ["gvncviewer", gvnc],
      ],
      ratio,
    );
    return 0;
  } finally {
    proxy.stop();
  }
}

/**
 * Runs the display benchmark in a main loop of its own and returns the exit status; every
 * process it started is stopped before it returns. Not async: while a top-level await is
 * pending, gjs 1.74's module loop polls without sleeping (a 1 s timer awaited at the top
 * level costs 1 s of CPU, measured), which would take a core from the viewers under
 * measurement. GLib.MainLoop.run() sleeps in poll() and still runs promise jobs, as long
 * as it is not itself called from one (runProgram calls main() synchronously).
 */
export function displayBenchmark(options: DisplayBenchOptions): number {
  const abort = new Abort();
  const children: Child[] = [];
  const dir = GLib.dir_make_tmp("porthole-bench-XXXXXX");
  const cleanUp = () => {
    // Viewers first, then the content, then the X servers they hang on.
    for (const child of [...children].reverse()) child.stop();
    children.length = 0;
    if (DEBUG) printerr(`porthole-bench: PORTHOLE_BENCH_DEBUG is set: the logs stay in ${dir}`);
    else removeTree(dir);
  };
  const signals = [2, 15, 1].map((signum) =>
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, () => {
      cleanUp();
      printerr(`porthole-bench: interrupted (signal ${signum})`);
      // 128 + the signal number, as a shell reports a process ended by it.
      system.exit(128 + signum);
      return GLib.SOURCE_REMOVE;
    }),
  );
  const loop = new GLib.MainLoop(null, false);
  const outcome: { status: number; unexpected: Error | null } = { status: 1, unexpected: null };
  try {
    const running = run({ abort, dir, children, hz: clockTicks(), options });
    // After an abort the run's own waits reject too; that is the same failure, handled below.
    running.catch(() => undefined);
    Promise.race([running, abort.promise])
      .then(
        (status) => {
          outcome.status = status;
        },
        (e: unknown) => {
          if (e instanceof BenchFailure) printerr(`porthole-bench: display: ${e.message}`);
          else outcome.unexpected = e instanceof Error ? e : new Error(String(e));
        },
      )
      .finally(() => {
        loop.quit();
      });
    loop.run();
  } catch (e) {
    if (e instanceof BenchFailure) printerr(`porthole-bench: display: ${e.message}`);
    else outcome.unexpected = e instanceof Error ? e : new Error(String(e));
  } finally {
    for (const id of signals) GLib.source_remove(id);
    cleanUp();
  }
  if (outcome.unexpected !== null) throw outcome.unexpected;
  return outcome.status;
}

function positiveSeconds(option: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${option} takes a number of seconds above 0`);
  return n;
}

/** `porthole-bench display [--seconds N] [--warmup N] [--gsk-renderer NAME]`. */
export function displayCommand(args: string[]): number {
  let seconds = 10;
  let warmupSeconds = 3;
  let gskRenderer = DEFAULT_GSK_RENDERER;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const [name, inline] =
      a.startsWith("--") && a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = () => inline ?? args[++i];
    if (name === "--seconds") seconds = positiveSeconds(name, value());
    else if (name === "--warmup") warmupSeconds = positiveSeconds(name, value());
    else if (name === "--gsk-renderer") {
      const v = value();
      if (v === undefined || v === "") throw new UsageError("--gsk-renderer takes a renderer name (gl, ngl, cairo…)");
      gskRenderer = v;
    } else if (a.startsWith("-")) throw new UsageError(`unknown option “${a}”`);
    else throw new UsageError("display takes no files");
  }
  return displayBenchmark({ seconds, warmupSeconds, gskRenderer });
}
