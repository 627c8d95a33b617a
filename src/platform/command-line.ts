// The shared front of the command-line programs: --help, --version, usage errors (exit 2),
// uncaught failures as one line on stderr (exit 1), and the exit code back to the shell.

import GLib from "gi://GLib";
import system from "system";

import { buildConfig } from "./config.js";

export interface ProgramInfo {
  /** The installed command name, e.g. "porthole-capture". */
  readonly name: string;
  /** One line for --help. */
  readonly summary: string;
  /** The synopsis lines after "Usage:". */
  readonly usage: readonly string[];
  /** Paragraphs for --help after the synopsis. */
  readonly description?: string;
}

export class UsageError extends Error {
  override name = "UsageError";
}

export function helpText(info: ProgramInfo): string {
  const lines = [info.summary, "", "Usage:", ...info.usage.map((u) => `  ${info.name} ${u}`)];
  if (info.description) lines.push("", info.description);
  lines.push("", "Options:", "  -h, --help     Show this help", "  --version      Show the version");
  return lines.join("\n");
}

/**
 * Waits for `promise` in a GLib main loop of our own. Not with a top-level await: while one
 * is pending, gjs 1.74's module loop polls without sleeping (measured: a program waiting 4 s
 * for a silent server burnt 4 s of CPU). MainLoop.run() sleeps in poll() and still runs
 * promise jobs, as long as it is not itself called from a promise job.
 */
function settle<T>(promise: Promise<T>): T {
  const loop = new GLib.MainLoop(null, false);
  let outcome: { value: T } | { error: unknown } | null = null;
  promise
    .then(
      (value) => {
        outcome = { value };
      },
      (error: unknown) => {
        outcome = { error };
      },
    )
    .finally(() => {
      loop.quit();
    });
  loop.run();
  const done = outcome as { value: T } | { error: unknown } | null;
  if (done === null) throw new Error("the main loop ended before the program did");
  if ("error" in done) throw done.error;
  return done.value;
}

/**
 * Runs `main` with the program's arguments (without --help/--version, which are handled
 * here) and exits with its status. Call it from the module's top level, without await.
 */
export function runProgram(info: ProgramInfo, main: (args: string[]) => number | Promise<number>): never {
  const args = [...system.programArgs];
  let status: number;
  try {
    if (args.includes("-h") || args.includes("--help")) {
      print(helpText(info));
      status = 0;
    } else if (args.includes("--version")) {
      print(`${info.name} ${buildConfig().version}`);
      status = 0;
    } else {
      const result = main(args);
      status = typeof result === "number" ? result : settle(result);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      printerr(`${info.name}: ${e.message}\nTry “${info.name} --help”.`);
      status = 2;
    } else {
      printerr(`${info.name}: ${e instanceof Error ? e.message : String(e)}`);
      status = 1;
    }
  }
  system.exit(status);
}
