// Long-running helper processes for the tools that stage real peers (porthole-bench audio's
// QEMU, PulseAudio and viewers; the GJS specs build on the same modules): each started with
// Gio.Subprocess, its output in a log file whose tail explains a failure, and stopped by
// its PID — asynchronously from the main loop, or synchronously from a signal handler.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

Gio._promisify(Gio.Subprocess.prototype, "wait_async", "wait_finish");
Gio._promisify(Gio.Subprocess.prototype, "communicate_async", "communicate_finish");
Gio._promisify(Gio.DataInputStream.prototype, "read_line_async", "read_line_finish");

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
      resolve();
      return GLib.SOURCE_REMOVE;
    });
  });
}

export interface RunResult {
  readonly status: number;
  readonly stdout: Uint8Array;
  readonly stderr: string;
}

/** Runs a command to completion, capturing its output. */
export async function runCommand(argv: string[], env: Readonly<Record<string, string>> = {}): Promise<RunResult> {
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

export interface ChildOptions {
  /** Variables to set, or to remove (null), on top of this process's environment. */
  readonly env?: Readonly<Record<string, string | null>>;
  /** Where its output goes: stderr, and stdout unless `stdoutPipe`. */
  readonly log: string;
  /** Read stdout here (readLine: Xvfb's -displayfd); stderr alone goes to the log. */
  readonly stdoutPipe?: boolean;
  /** Write to its stdin here (writeLine). */
  readonly stdinPipe?: boolean;
  /** For messages; the program's base name by default. */
  readonly name?: string;
}

/** A child process, stopped with SIGTERM (then SIGKILL) by its PID. */
export class ChildProcess {
  readonly name: string;
  readonly argv: readonly string[];
  readonly proc: Gio.Subprocess;
  readonly pid: number;
  readonly log: string;
  #stdout: Gio.DataInputStream | null = null;
  #stopping = false;

  /** Throws (with the program's name) if it cannot be started at all. */
  constructor(argv: string[], options: ChildOptions) {
    this.argv = argv;
    this.name = options.name ?? GLib.path_get_basename(argv[0] ?? "child");
    this.log = options.log;
    const launcher = new Gio.SubprocessLauncher({
      flags:
        (options.stdoutPipe ? Gio.SubprocessFlags.STDOUT_PIPE : Gio.SubprocessFlags.STDERR_MERGE) |
        (options.stdinPipe ? Gio.SubprocessFlags.STDIN_PIPE : Gio.SubprocessFlags.NONE),
    });
    if (options.stdoutPipe) launcher.set_stderr_file_path(options.log);
    else launcher.set_stdout_file_path(options.log);
    for (const [k, v] of Object.entries(options.env ?? {})) {
      if (v === null) launcher.unsetenv(k);
      else launcher.setenv(k, v, true);
    }
    try {
      this.proc = launcher.spawnv(argv);
    } catch (e) {
      throw new Error(`cannot start ${this.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.pid = Number(this.proc.get_identifier());
    const out = this.proc.get_stdout_pipe();
    if (out) this.#stdout = new Gio.DataInputStream({ base_stream: out });
  }

  get running(): boolean {
    return this.#alive();
  }

  /** A method, not the getter, in loops: the exit happens behind TypeScript's back. */
  #alive(): boolean {
    return this.proc.get_identifier() !== null;
  }

  /** Whether stop() or stopNow() was called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The last lines of its log. */
  logTail(lines = 15): string {
    try {
      const [, data] = GLib.file_get_contents(this.log);
      return new TextDecoder().decode(data).trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** The last non-empty line of its log, to explain a failure in one line. */
  lastLine(): string {
    return (
      this.logTail(40)
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .at(-1) ?? ""
    );
  }

  /** How it ended, in words ("exited with status 1", "was killed by signal 9"). */
  exitDescription(): string {
    return this.proc.get_if_signaled()
      ? `was killed by signal ${this.proc.get_term_sig()}`
      : `exited with status ${this.proc.get_exit_status()}`;
  }

  /** Calls `ended` once if the process ends before stop() or stopNow(). */
  onUnexpectedExit(ended: (child: ChildProcess) => void): void {
    this.proc.wait_async(null).then(
      () => {
        if (!this.#stopping) ended(this);
      },
      () => undefined,
    );
  }

  /**
   * Polls `ready` every 50 ms until it holds; fails at once, with the tail of the log, if
   * the process exits first, and with the same after `timeoutMs`.
   */
  async waitUntil(what: string, ready: () => boolean, timeoutMs = 30000): Promise<void> {
    const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
    while (!ready()) {
      if (!this.#alive()) throw new Error(`${this.name} exited before ${what}:\n${this.logTail()}`);
      if (GLib.get_monotonic_time() > deadline)
        throw new Error(`timed out waiting for ${what} from ${this.name}:\n${this.logTail()}`);
      await delay(50);
    }
  }

  /** The next line on its stdout (with `stdoutPipe`). */
  async readLine(what: string, timeoutMs = 30000): Promise<string> {
    const stdout = this.#stdout;
    if (!stdout) throw new Error(`${this.name}'s stdout is not read`);
    const read = stdout.read_line_async(GLib.PRIORITY_DEFAULT, null).then(([line]) => {
      if (line === null) throw new Error(`${this.name} exited before ${what}: ${this.lastLine()}`);
      return new TextDecoder().decode(line).trim();
    });
    // A read that loses the race ends later, with nobody waiting for it.
    read.catch(() => undefined);
    let timer = 0;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, timeoutMs, () => {
        timer = 0;
        reject(new Error(`timed out waiting for ${what} from ${this.name}: ${this.lastLine()}`));
        return GLib.SOURCE_REMOVE;
      });
    });
    try {
      return await Promise.race([read, timeout]);
    } finally {
      if (timer) GLib.source_remove(timer);
    }
  }

  /**
   * Writes `line` and a newline to its stdin (with `stdinPipe`), synchronously: a few bytes
   * into a pipe, and no Uint8Array held by an asynchronous write the GC could move.
   */
  writeLine(line: string): void {
    const stdin = this.proc.get_stdin_pipe();
    if (!stdin) throw new Error(`${this.name}'s stdin is not written`);
    stdin.write_all(new TextEncoder().encode(`${line}\n`), null);
  }

  /** SIGTERM, and SIGKILL if it is still there after 5 s. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (!this.#alive()) return;
    this.proc.send_signal(15);
    const exited = this.proc.wait_async(null);
    const timeout = delay(5000).then(() => "timeout");
    if ((await Promise.race([exited, timeout])) === "timeout") {
      this.proc.force_exit();
      await this.proc.wait_async(null);
    }
  }

  /**
   * SIGTERM, then SIGKILL after 3 s, without returning to the main loop (GSubprocess notices
   * the exit on GLib's worker thread): for signal handlers and final clean-ups.
   */
  stopNow(): void {
    this.#stopping = true;
    if (!this.#alive()) return;
    this.proc.send_signal(15);
    const deadline = GLib.get_monotonic_time() + 3_000_000;
    while (this.#alive() && GLib.get_monotonic_time() < deadline) GLib.usleep(10_000);
    if (this.#alive()) {
      this.proc.force_exit();
      while (this.#alive()) GLib.usleep(10_000);
    }
  }
}
