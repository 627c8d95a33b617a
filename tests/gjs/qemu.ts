// A real QEMU for the GJS specs: a small machine booting a one-sector program that paints
// the VGA screen and halts, VNC on a unix socket, QMP on another, KVM when /dev/kvm can be
// opened and TCG otherwise. Stopped by PID.

import GLib from "gi://GLib";

import { kvmUsable, Qmp } from "../../src/tools/tone-guest.js";
import { Child } from "./processes.js";

// The QMP client and the KVM check live with the tone guest in src/tools (porthole-bench
// boots guests too); the specs take them from there.
export { kvmUsable, Qmp } from "../../src/tools/tone-guest.js";

export interface Qemu {
  readonly child: Child;
  /** Where its VNC server listens: vnc+unix:///… or vnc://localhost:PORT. */
  readonly vncUri: string;
  readonly qmp: Qmp;
}

/**
 * A boot sector that sets VGA mode 13h (320×200, 256 colours), paints every pixel with
 * (offset >> 8) ^ ((offset & 0xff) >> 4), i.e. runs of 16 equal pixels in many colours,
 * and halts: a picture that never changes afterwards (no text cursor to blink).
 */
const PAINT_AND_HALT = [
  0xfc, // cld
  0xb8,
  0x13,
  0x00,
  0xcd,
  0x10, // mov ax, 13h; int 10h
  0xb8,
  0x00,
  0xa0,
  0x8e,
  0xc0, // mov ax, 0A000h; mov es, ax
  0x31,
  0xff, // xor di, di
  0x89,
  0xf8, // paint: mov ax, di
  0xc0,
  0xe8,
  0x04, // shr al, 4
  0x30,
  0xe0, // xor al, ah
  0xaa, // stosb
  0x81,
  0xff,
  0x00,
  0xfa, // cmp di, 64000
  0x72,
  0xf2, // jb paint
  0xfa, // cli
  0xf4, // halt: hlt
  0xeb,
  0xfd, // jmp halt
];

function writeBootImage(path: string): void {
  const sector = new Uint8Array(512);
  sector.set(PAINT_AND_HALT);
  sector.set([0x55, 0xaa], 510);
  GLib.file_set_contents(path, sector);
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
  writeBootImage(`${dir}/boot.img`);
  // "to=99": QEMU takes the first free display from 5900 up; QMP then says which.
  const vnc = options.tcp ? `127.0.0.1:0,to=99` : `unix:${vncSocket}`;
  const child = new Child([
    "qemu-system-x86_64",
    "-nodefaults",
    "-machine",
    "pc",
    "-accel",
    kvmUsable() ? "kvm" : "tcg",
    "-m",
    "64",
    "-vga",
    "std",
    "-display",
    "none",
    "-drive",
    `file=${dir}/boot.img,format=raw,if=ide`,
    ...(options.extraArgs ?? []),
    "-vnc",
    `${vnc}${options.vncOptions ?? ""}`,
    "-qmp",
    `unix:${qmpSocket},server=on,wait=off`,
  ]);
  await child.waitUntil("its QMP socket", () => GLib.file_test(qmpSocket, GLib.FileTest.EXISTS));
  const qmp = await Qmp.connect(qmpSocket);
  if (!options.tcp) {
    await child.waitUntil("its VNC socket", () => GLib.file_test(vncSocket, GLib.FileTest.EXISTS));
    return { child, vncUri: `vnc+unix://${vncSocket}`, qmp };
  }
  const info = (await qmp.execute("query-vnc")) as { service?: string };
  return { child, vncUri: `vnc://localhost:${info.service ?? "?"}`, qmp };
}
