// The shared front of the command-line programs: --help, --version, usage errors (exit 2),
// uncaught failures as one line on stderr (exit 1), and the exit code back to the shell.

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
 * Runs `main` with the program's arguments (without --help/--version, which are handled
 * here) and exits with its status.
 */
export async function runProgram(
  info: ProgramInfo,
  main: (args: string[]) => number | Promise<number>,
): Promise<never> {
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
      status = await main(args);
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
