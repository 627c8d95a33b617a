import { runProgram, UsageError } from "../platform/command-line.js";
import { parseServerAddress } from "../protocol/address.js";
import { NotYetAvailable } from "./unavailable.js";

await runProgram(
  {
    name: "porthole-capture",
    summary: "Save what a VNC server shows (PNG) or plays (WAV)",
    usage: ["URI"],
    description: "URI is vnc://HOST[:PORT], vnc+unix:///PATH, HOST:DISPLAY, HOST::PORT or /PATH.",
  },
  (args) => {
    const [uri, ...extra] = args;
    if (uri === undefined) throw new UsageError("a server URI is required");
    if (extra.length > 0) throw new UsageError(`unexpected argument “${extra[0] ?? ""}”`);
    parseServerAddress(uri);
    throw new NotYetAvailable("capturing", "the RFB client");
  },
);
