// What a porthole-bench subcommand that stages real peers needs around its measurement
// (porthole-bench serial, and display and audio for the helpers below): a
// temporary directory, child processes stopped by PID whichever way the bench ends
// (success, failure, a child dying, Ctrl+C), the first failure ending every wait, and
// a main loop of its own.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { buildConfig } from "../platform/config.js";
import type { ChildProcess } from "./child-process.js";

/** A failure that ends the bench with one line on stderr. */
export class BenchFailure extends Error {
  override name = "BenchFailure";
}

/**
 * PORTHOLE_BENCH_DEBUG (any value): progress with timestamps on stderr, and the logs of
 * every process the bench started stay in its temporary directory.
 */
export const DEBUG = GLib.getenv("PORTHOLE_BENCH_DEBUG") !== null;
export function debug(text: string): void {
  if (DEBUG) printerr(`[${(GLib.get_monotonic_time() / 1e6).toFixed(3)}] ${text}`);
}

export function describe(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

/** The first failure wins; every wait races against it. */
export class Abort {
  readonly promise: Promise<never>;
  #reject: (e: BenchFailure) => void = () => undefined;
  #failed = false;

  constructor() {
    this.promise = new Promise<never>((_resolve, reject) => {
      this.#reject = reject;
    });
    // Nobody may be waiting when it fails; the rejection is still read by the next wait.
    this.promise.catch(() => undefined);
  }

  get failed(): boolean {
    return this.#failed;
  }

  fail(e: BenchFailure): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#reject(e);
  }

  /** `promise`, or the failure if it comes first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.promise]);
  }

  sleep(ms: number): Promise<void> {
    return this.race(
      new Promise<void>((resolve) => {
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.max(0, Math.round(ms)), () => {
          resolve();
          return GLib.SOURCE_REMOVE;
        });
      }),
    );
  }

  /** Polls `ready` every 20 ms; fails with `what` after `timeoutMs`. */
  async until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
    while (!ready()) {
      if (GLib.get_monotonic_time() > deadline) throw new BenchFailure(`timed out waiting for ${what}`);
      await this.sleep(20);
    }
  }
}

/** What the bench started, to stop by PID whichever way it ends. */
export class Children {
  readonly #children: { child: ChildProcess; stop: () => void }[] = [];

  /**
   * Takes `child` in: its unexpected end fails the bench. `stop` (default: the child's
   * stopNow) is how to end it, e.g. a guest's own, which closes QMP first.
   */
  add(child: ChildProcess, abort: Abort, stop?: () => void): ChildProcess {
    this.#children.push({
      child,
      stop:
        stop ??
        (() => {
          child.stopNow();
        }),
    });
    child.onUnexpectedExit((c) => {
      // Ctrl+C in a terminal signals the whole process group, children included.
      const signal = c.proc.get_if_signaled() ? c.proc.get_term_sig() : 0;
      if (signal === 1 || signal === 2) abort.fail(new BenchFailure(`interrupted (${c.name} got signal ${signal})`));
      else {
        const last = c.lastLine();
        abort.fail(new BenchFailure(`${c.name} ${c.exitDescription()}${last ? `: ${last}` : ""}`));
      }
    });
    return child;
  }

  /** Replaces how `child` is stopped (once a guest's QMP is open, say). */
  stopWith(child: ChildProcess, stop: () => void): void {
    const entry = this.#children.find((e) => e.child === child);
    if (entry) entry.stop = stop;
  }

  /** Stops everything, newest first, each by its PID. */
  stopAll(): void {
    for (const { child, stop } of [...this.#children].reverse()) {
      debug(`stop ${child.name} ${child.pid}`);
      stop();
    }
    this.#children.length = 0;
  }
}

export function requireProgram(name: string, what: string): string {
  const path = GLib.find_program_in_path(name);
  if (path === null) throw new BenchFailure(`${name} is not installed (${what})`);
  return path;
}

/** One of Porthole's bundles, built or installed beside this one. */
export function requireBundle(name: string): string {
  const path = `${buildConfig().pkgdatadir}/${name}.js`;
  if (!GLib.file_test(path, GLib.FileTest.EXISTS)) throw new BenchFailure(`${path} is missing: build Porthole first`);
  return path;
}

/** Removes the bench's directory (sockets, logs). */
export function removeTree(path: string): void {
  const file = Gio.File.new_for_path(path);
  try {
    const children = file.enumerate_children(
      "standard::name,standard::type",
      Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS,
      null,
    );
    for (let info = children.next_file(null); info !== null; info = children.next_file(null)) {
      const child = `${path}/${info.get_name()}`;
      if (info.get_file_type() === Gio.FileType.DIRECTORY) removeTree(child);
      else Gio.File.new_for_path(child).delete(null);
    }
    children.close(null);
    file.delete(null);
  } catch {
    // Best effort: a leftover temporary directory is no reason to fail the run.
  }
}

/** The 1-minute load average (/proc/loadavg), for the context of a run. */
export function loadAverage(): number {
  try {
    const [, data] = GLib.file_get_contents("/proc/loadavg");
    return Number(new TextDecoder().decode(data).split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** The kernel's clock ticks per second (USER_HZ), which /proc/PID/stat counts in. */
export function clockTicks(): number {
  try {
    const [, out, , status] = GLib.spawn_command_line_sync("getconf CLK_TCK");
    const hz = Number(new TextDecoder().decode(out ?? new Uint8Array(0)).trim());
    if (status === 0 && Number.isInteger(hz) && hz > 0) return hz;
  } catch {
    // Reported below.
  }
  throw new BenchFailure("cannot learn the clock tick rate (getconf CLK_TCK)");
}

/** utime + stime of one process (proc(5) fields 14 and 15), in clock ticks; NaN once it is gone. */
export function cpuTicks(pid: number | "self"): number {
  try {
    const [, data] = GLib.file_get_contents(`/proc/${pid}/stat`);
    const text = new TextDecoder().decode(data);
    // The fields after the parenthesised command name, which may hold spaces, start at 3.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return Number(fields[14 - 3]) + Number(fields[15 - 3]);
  } catch {
    return NaN;
  }
}

export interface Stats {
  readonly samples: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Mean, nearest-rank percentiles and maximum of `values`, rounded to `digits`. */
export function stats(values: readonly number[], digits = 3): Stats {
  if (values.length === 0) return { samples: 0, mean: NaN, p50: NaN, p95: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return {
    samples: values.length,
    mean: round(mean, digits),
    p50: round(rank(0.5), digits),
    p95: round(rank(0.95), digits),
    max: round(sorted[sorted.length - 1] ?? NaN, digits),
  };
}

/** Rows as columns: the first left-aligned, the others right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

export interface BenchContext {
  readonly abort: Abort;
  readonly children: Children;
  /** The bench's temporary directory, removed at the end (kept with PORTHOLE_BENCH_DEBUG). */
  readonly dir: string;
}

/**
 * Runs `body` in a main loop of its own and returns its exit status; every process it
 * registered is stopped, and its directory removed, before this returns — on success,
 * failure, a child's death or SIGINT/SIGTERM/SIGHUP. A BenchFailure is one line on stderr
 * and status 1; anything else is rethrown. Not async: while a top-level await is pending,
 * gjs 1.74's module loop polls without sleeping (src/platform/command-line.ts), which would
 * take a core from the processes under measurement.
 */
export function runBench(name: string, body: (context: BenchContext) => Promise<number>): number {
  const abort = new Abort();
  const children = new Children();
  const dir = GLib.dir_make_tmp(`porthole-bench-${name}-XXXXXX`);
  const cleanUp = () => {
    children.stopAll();
    if (DEBUG) printerr(`porthole-bench: PORTHOLE_BENCH_DEBUG is set: the logs stay in ${dir}`);
    else removeTree(dir);
  };
  const signals = [2, 15, 1].map((signum) =>
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, () => {
      cleanUp();
      printerr(`porthole-bench: ${name}: interrupted (signal ${signum})`);
      // 128 + the signal number, as a shell reports a process ended by it.
      system.exit(128 + signum);
      return GLib.SOURCE_REMOVE;
    }),
  );
  const loop = new GLib.MainLoop(null, false);
  const outcome: { status: number; unexpected: Error | null } = { status: 1, unexpected: null };
  const failed = (e: unknown) => {
    if (e instanceof BenchFailure) printerr(`porthole-bench: ${name}: ${e.message}`);
    else outcome.unexpected = e instanceof Error ? e : new Error(String(e));
  };
  try {
    const running = body({ abort, children, dir });
    // After an abort the body's own waits reject too; that is the same failure.
    running.catch(() => undefined);
    abort
      .race(running)
      .then((status) => {
        outcome.status = status;
      }, failed)
      .finally(() => {
        loop.quit();
      });
    loop.run();
  } catch (e) {
    failed(e);
  } finally {
    for (const id of signals) GLib.source_remove(id);
    cleanUp();
  }
  if (outcome.unexpected !== null) throw outcome.unexpected;
  return outcome.status;
}
