import { runProgram, UsageError } from "../platform/command-line.js";
import { NotYetAvailable } from "./unavailable.js";

await runProgram(
  {
    name: "porthole-bench",
    summary: "Measure Porthole's decoders, streams and audio path",
    usage: ["decode FILE.rfb"],
    description:
      "decode  replays a recording (FILE.rfb with its FILE.json sidecar) through the RFB client\n" +
      "        and prints one JSON object with the time spent decoding and the framebuffer hash.",
  },
  (args) => {
    const [command, ...rest] = args;
    if (command === undefined) throw new UsageError("a benchmark name is required");
    if (command !== "decode") throw new UsageError(`unknown benchmark “${command}”`);
    if (rest.length !== 1) throw new UsageError("decode takes one recording file");
    throw new NotYetAvailable("the decode benchmark", "the RFB client and its decoders");
  },
);
