import { runProgram, UsageError } from "../platform/command-line.js";
import { NotYetAvailable } from "../tools/unavailable.js";
import { parseStreamSpec, StreamSpecError } from "./stream-spec.js";

runProgram(
  {
    name: "porthole-gateway",
    summary: "Serve a QEMU guest's display, sound and serial consoles over one VNC connection",
    usage: ["[--stream NAME=BACKEND[,label=TEXT][,kind=KIND][,history=SIZE]]…"],
    description:
      "BACKEND is unix:/PATH, tcp:HOST:PORT or pty:/dev/pts/N; KIND is serial, console,\n" +
      "parallel, monitor or channel; SIZE is the history kept for late readers (default 1M).",
  },
  (args) => {
    const names = new Set<string>();
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? "";
      const value = arg === "--stream" ? args[++i] : arg.startsWith("--stream=") ? arg.slice(9) : undefined;
      if (value === undefined)
        throw new UsageError(arg === "--stream" ? "--stream needs a value" : `unknown option “${arg}”`);
      try {
        const spec = parseStreamSpec(value);
        if (names.has(spec.name)) throw new UsageError(`two streams are named “${spec.name}”`);
        names.add(spec.name);
      } catch (e) {
        if (e instanceof StreamSpecError) throw new UsageError(`--stream ${value}: ${e.message}`);
        throw e;
      }
    }
    throw new NotYetAvailable("serving", "the RFB server side and Streams");
  },
);
