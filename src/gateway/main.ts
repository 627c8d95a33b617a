// porthole-gateway: serves a QEMU guest's display and sound (QEMU's own VNC server,
// passed through) and its character devices (RFB Streams, docs/streams.md) over one VNC
// connection. Exit status: 0 after SIGTERM or SIGINT, 2 for a bad configuration (one line
// on stderr), 1 for anything else that stops it.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { runProgram } from "../platform/command-line.js";
import { formatAddress, GatewayConfigError, parseGatewayOptions, passwordFromFile, type TlsFiles } from "./options.js";
import { Gateway, type GatewayTls } from "./server.js";
import { checkCertificatePair } from "./tls-check.js";

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

function describe(e: unknown): string {
  return e instanceof Error || e instanceof GLib.Error ? e.message : String(e);
}

/** Loads the certificate, its key and the viewers' CA now, so a mistake stops the start. */
function loadTls(files: TlsFiles): GatewayTls {
  let certificate: Gio.TlsCertificate;
  try {
    certificate = Gio.TlsCertificate.new_from_files(files.cert, files.key);
  } catch (e) {
    throw new GatewayConfigError(`cannot load the certificate ${files.cert} with the key ${files.key}: ${describe(e)}`);
  }
  let clientCa: Gio.TlsDatabase | null = null;
  if (files.ca !== null) {
    try {
      clientCa = Gio.TlsFileDatabase.new(files.ca);
    } catch (e) {
      throw new GatewayConfigError(`cannot load the CA certificates ${files.ca}: ${describe(e)}`);
    }
  }
  return { certificate, clientCa };
}

function describeSecurity(tls: GatewayTls | null, password: string | null, readOnly: string | null): string {
  const login = password === null ? "no password" : readOnly === null ? "password" : "password, read-only password";
  if (tls === null) return password === null ? "no authentication" : `VNC ${login}`;
  return `VeNCrypt X509, ${login}${tls.clientCa !== null ? ", client certificates required" : ""}`;
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
    usage: [
      "--listen ADDR --vnc ADDR [--stream SPEC]… [--password-file F [--readonly-password-file F]] " +
        "[--tls-cert F --tls-key F [--tls-ca F]] [--insecure]",
    ],
    description:
      "ADDR is tcp:HOST:PORT or unix:PATH. --vnc is QEMU's VNC server (-vnc unix:PATH, no\n" +
      "authentication); every viewer gets its own connection to it.\n" +
      "SPEC is NAME=BACKEND[,label=TEXT][,kind=KIND][,history=SIZE][,readonly]: BACKEND is\n" +
      "unix:/PATH or tcp:HOST:PORT (QEMU -chardev socket,server=on) or pty:/dev/pts/N; KIND is\n" +
      "serial, console, parallel, monitor or channel; SIZE is the output kept for late readers\n" +
      "(default 1M).\n" +
      "Without --password-file viewers need no password. --tls-cert and --tls-key (PEM) make\n" +
      "the gateway offer only VeNCrypt X509 (TLS, then the password inside it); --tls-ca makes\n" +
      "viewers present a certificate issued by that CA. A TCP listener off loopback needs TLS\n" +
      "and authentication (a password or --tls-ca), or --insecure.\n" +
      "--write-window BYTES: the credit a writer gets (default 65536). --slow-reader-timeout S:\n" +
      "how long one reader may hold the others back before its stream is closed (default 5).",
  },
  async (args) => {
    let gateway: Gateway;
    try {
      const options = parseGatewayOptions(args);
      const password = options.passwordFile === null ? null : readPassword(options.passwordFile);
      const readOnlyPassword =
        options.readOnlyPasswordFile === null ? null : readPassword(options.readOnlyPasswordFile);
      const tls = options.tls === null ? null : loadTls(options.tls);
      if (tls !== null && options.tls !== null) {
        const files = options.tls;
        await checkCertificatePair(tls.certificate).catch((e: unknown) => {
          throw new GatewayConfigError(
            `the certificate ${files.cert} and the key ${files.key} do not work together: ${describe(e)}`,
          );
        });
      }
      gateway = new Gateway({ options, tls, password, readOnlyPassword, log });
      try {
        gateway.start();
      } catch (e) {
        throw new GatewayConfigError(e instanceof Error ? e.message : String(e));
      }
      const streams = options.streams.map((s) => s.name).join(", ") || "none";
      log(
        `listening on ${formatAddress(options.listen)} for ${formatAddress(options.vnc)}` +
          ` (${describeSecurity(tls, password, readOnlyPassword)}; streams: ${streams})`,
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
