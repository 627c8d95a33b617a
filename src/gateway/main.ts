// porthole-gateway: serves a QEMU guest's display and sound (QEMU's own VNC server,
// passed through) and its character devices (RFB Streams, docs/streams.md) over one VNC
// connection. Exit status: 0 after SIGTERM or SIGINT, 2 for a bad configuration (one line
// on stderr), 1 for anything else that stops it.

import GLib from "gi://GLib";

import { runProgram } from "../platform/command-line.js";
import { formatAddress, GatewayConfigError, parseGatewayOptions, passwordFromFile } from "./options.js";
import { Gateway } from "./server.js";

const NAME = "porthole-gateway";

function log(line: string): void {
  printerr(`${NAME}: ${line}`);
}

function readPassword(path: string): string {
  let contents: Uint8Array;
  try {
    [, contents] = GLib.file_get_contents(path);
  } catch (e) {
    throw new GatewayConfigError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return passwordFromFile(path, new TextDecoder().decode(contents));
}

async function serve(gateway: Gateway): Promise<number> {
  await new Promise<void>((resolve) => {
    const stop = () => {
      resolve();
      return GLib.SOURCE_REMOVE;
    };
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, 15, stop);
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, 2, stop);
  });
  log("shutting down");
  await gateway.stop();
  return 0;
}

runProgram(
  {
    name: NAME,
    summary: "Serve a QEMU guest's display, sound and serial consoles over one VNC connection",
    usage: ["--listen ADDR --vnc ADDR [--stream SPEC]… [--password-file F [--readonly-password-file F]] [--insecure]"],
    description:
      "ADDR is tcp:HOST:PORT or unix:PATH. --vnc is QEMU's VNC server (-vnc unix:PATH, no\n" +
      "authentication); every viewer gets its own connection to it.\n" +
      "SPEC is NAME=BACKEND[,label=TEXT][,kind=KIND][,history=SIZE][,readonly]: BACKEND is\n" +
      "unix:/PATH or tcp:HOST:PORT (QEMU -chardev socket,server=on) or pty:/dev/pts/N; KIND is\n" +
      "serial, console, parallel, monitor or channel; SIZE is the output kept for late readers\n" +
      "(default 1M).\n" +
      "Without --password-file viewers need no password. A TCP listener off loopback needs\n" +
      "--insecure until TLS is built (--tls-cert, --tls-key and --tls-ca are refused for now).\n" +
      "--write-window BYTES: the credit a writer gets (default 65536). --slow-reader-timeout S:\n" +
      "how long one reader may hold the others back before its stream is closed (default 5).",
  },
  (args) => {
    let gateway: Gateway;
    try {
      const options = parseGatewayOptions(args);
      const password = options.passwordFile === null ? null : readPassword(options.passwordFile);
      const readOnlyPassword =
        options.readOnlyPasswordFile === null ? null : readPassword(options.readOnlyPasswordFile);
      gateway = new Gateway({ options, password, readOnlyPassword, log });
      try {
        gateway.start();
      } catch (e) {
        throw new GatewayConfigError(e instanceof Error ? e.message : String(e));
      }
      const streams = options.streams.map((s) => s.name).join(", ") || "none";
      log(
        `listening on ${formatAddress(options.listen)} for ${formatAddress(options.vnc)}` +
          ` (${password === null ? "no password" : "VNC password"}; streams: ${streams})`,
      );
    } catch (e) {
      if (e instanceof GatewayConfigError) {
        log(e.message);
        return 2;
      }
      throw e;
    }
    return serve(gateway);
  },
);
