import { runProgram, UsageError } from "../platform/command-line.js";
import { parseServerAddress } from "../protocol/address.js";
import { NotYetAvailable } from "./unavailable.js";

runProgram(
  {
    name: "porthole-console",
    summary: "Attach this terminal (or a pipe) to a serial console tunnelled in a VNC connection",
    usage: ["URI [STREAM]"],
    description: "URI is vnc://HOST[:PORT], vnc+unix:///PATH, HOST:DISPLAY, HOST::PORT or /PATH.",
  },
  (args) => {
    const [uri, , ...extra] = args;
    if (uri === undefined) throw new UsageError("a server URI is required");
    if (extra.length > 0) throw new UsageError(`unexpected argument “${extra[0] ?? ""}”`);
    parseServerAddress(uri);
    throw new NotYetAvailable("attaching to a stream", "the RFB Streams client");
  },
);
