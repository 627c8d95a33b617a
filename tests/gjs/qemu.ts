// A real QEMU for the GJS specs: a small machine booting a one-sector program that paints
// the VGA screen and halts (the still guest of src/tools/still-guest.ts, which porthole-bench
// serial boots too), VNC on a unix socket, QMP on another, KVM when /dev/kvm can be opened
// and TCG otherwise. Stopped by PID.

import GLib from "gi://GLib";

import { writeStillBootImage } from "../../src/tools/still-guest.js";
import { bootSectorGuestArgv, Qmp } from "../../src/tools/tone-guest.js";
import { Child } from "./processes.js";

// The QMP client and the KVM check live with the tone guest in src/tools (porthole-bench
// boots guests too); the specs take them from there.
export { bootSectorGuestArgv, kvmUsable, Qmp } from "../../src/tools/tone-guest.js";

export interface Qemu {
  readonly child: Child;
  /** Where its VNC server listens: vnc+unix:///… or vnc://localhost:PORT. */
  readonly vncUri: string;
  readonly qmp: Qmp;
}

export interface QemuOptions {
  /** Appended to the -vnc value, e.g. ",password=on" or ",tls-creds=tls0". */
  readonly vncOptions?: string;
  /** Listen on a loopback TCP port (QEMU picks a free display) instead of a unix socket. */
  readonly tcp?: boolean;
  /** More QEMU arguments, e.g. the -object of TLS credentials. */
  readonly extraArgs?: readonly string[];
}

/** Starts QEMU booting the painting guest, with its VNC server and QMP. */
export async function startQemu(dir: string, options: QemuOptions = {}): Promise<Qemu> {
  const vncSocket = `${dir}/vnc.sock`;
  const qmpSocket = `${dir}/qmp.sock`;
  writeStillBootImage(`${dir}/boot.img`);
  // "to=99": QEMU takes the first free display from 5900 up; QMP then says which.
  const vnc = options.tcp ? `127.0.0.1:0,to=99` : `unix:${vncSocket}`;
  const child = new Child(
    bootSectorGuestArgv({
      image: `${dir}/boot.img`,
      extra: options.extraArgs ?? [],
      vnc: `${vnc}${options.vncOptions ?? ""}`,
      qmpSocket,
    }),
  );
  await child.waitUntil("its QMP socket", () => GLib.file_test(qmpSocket, GLib.FileTest.EXISTS));
  const qmp = await Qmp.connect(qmpSocket);
  if (!options.tcp) {
    await child.waitUntil("its VNC socket", () => GLib.file_test(vncSocket, GLib.FileTest.EXISTS));
    return { child, vncUri: `vnc+unix://${vncSocket}`, qmp };
  }
  const info = (await qmp.execute("query-vnc")) as { service?: string };
  return { child, vncUri: `vnc://localhost:${info.service ?? "?"}`, qmp };
}
