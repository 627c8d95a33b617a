// The demo guest running: QEMU 7.2 booting the guest build-aux/build-guest.mjs made (KVM when
// /dev/kvm works, TCG otherwise), and porthole-gateway in front of it. What `npm start`
// shows, and what the seed's test plan (tests/gjs/demo-guest.spec.ts) drives:
//
//   QEMU     VNC on DIR/vnc.sock with its audio (intel-hda + hda-duplex into audiodev snd0),
//            COM1 on DIR/serial0.sock, a virtio-console on DIR/console0.sock, the HMP monitor
//            on DIR/monitor.sock (unix-socket chardevs, server=on, wait=off)
//   gateway  DIR/gateway.sock, streams serial0 (serial), console0 (console), monitor (monitor)
//
// Every process is started here and stopped by its PID.

import GLib from "gi://GLib";

import { buildConfig } from "../platform/config.js";
import { ChildProcess } from "./child-process.js";
import { kvmUsable } from "./tone-guest.js";

/** build-aux/build-guest.mjs's output: a kernel, an initramfs, and what it put inside. */
export interface GuestImage {
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  /** root's password on the guest's consoles. */
  readonly rootPassword: string;
  /** What the guest's `play-tone` plays. */
  readonly tone: { readonly hz: number; readonly seconds: number };
}

/** The guest in `dir`, as its guest.json (written by the build) describes it. */
export function guestImage(dir: string): GuestImage {
  const kernel = `${dir}/vmlinuz`;
  const initrd = `${dir}/initrd.img`;
  const manifest = `${dir}/guest.json`;
  for (const f of [kernel, initrd, manifest])
    if (!GLib.file_test(f, GLib.FileTest.EXISTS))
      throw new Error(`${f} is missing: build the guest with node build-aux/build-guest.mjs`);
  const info = JSON.parse(new TextDecoder().decode(GLib.file_get_contents(manifest)[1])) as {
    rootPassword?: unknown;
    tone?: { hz?: unknown; seconds?: unknown };
  };
  const { rootPassword, tone } = info;
  if (typeof rootPassword !== "string" || typeof tone?.hz !== "number" || typeof tone.seconds !== "number")
    throw new Error(`${manifest} does not say the root password and the tone: rebuild the guest`);
  return { dir, kernel, initrd, rootPassword, tone: { hz: tone.hz, seconds: tone.seconds } };
}

export interface DemoGuest {
  readonly qemu: ChildProcess;
  readonly gateway: ChildProcess;
  readonly dir: string;
  /** The gateway, for viewers: vnc+unix://DIR/gateway.sock. */
  readonly uri: string;
  readonly vncSocket: string;
  readonly monitorSocket: string;
  readonly accelerator: "kvm" | "tcg";
  stop(): Promise<void>;
}

export interface DemoGuestOptions {
  /** Memory in MiB (default 256). */
  readonly memory?: number;
  /** Called with each child as soon as it is spawned (to stop it from a signal handler). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

function exists(path: string): () => boolean {
  return () => GLib.file_test(path, GLib.FileTest.EXISTS);
}

/**
 * Boots the guest and starts the gateway in `dir` (created; logs qemu.log, gateway.log);
 * resolves once the gateway listens. The guest boots on: its getty appears some seconds
 * later (about 8 s with TCG here).
 */
export async function startDemoGuest(
  image: GuestImage,
  dir: string,
  options: DemoGuestOptions = {},
): Promise<DemoGuest> {
  GLib.mkdir_with_parents(dir, 0o700);
  const socket = (name: string) => `${dir}/${name}.sock`;
  const chardev = (id: string) => `socket,id=${id},path=${socket(id)},server=on,wait=off`;
  const accelerator = kvmUsable() ? "kvm" : "tcg";
  const qemu = new ChildProcess(
    [
      "qemu-system-x86_64",
      "-nodefaults",
      "-machine",
      "pc",
      "-accel",
      accelerator,
      "-m",
      String(options.memory ?? 256),
      "-kernel",
      image.kernel,
      "-initrd",
      image.initrd,
      // vga=0x314: an 800×600 VESA mode, so the console on tty1 is the framebuffer's.
      "-append",
      "console=tty0 console=ttyS0,115200 vga=0x314 quiet",
      "-vga",
      "std",
      "-display",
      "none",
      "-audiodev",
      "none,id=snd0",
      "-device",
      "intel-hda",
      "-device",
      "hda-duplex,audiodev=snd0",
      "-chardev",
      chardev("serial0"),
      "-serial",
      "chardev:serial0",
      "-device",
      "virtio-serial",
      "-chardev",
      chardev("console0"),
      "-device",
      "virtconsole,chardev=console0",
      "-chardev",
      chardev("monitor"),
      "-mon",
      "chardev=monitor,mode=readline",
      "-vnc",
      `unix:${socket("vnc")},audiodev=snd0`,
    ],
    { log: `${dir}/qemu.log`, name: "QEMU" },
  );
  options.onSpawn?.(qemu);
  let gateway: ChildProcess | null = null;
  try {
    for (const name of ["vnc", "serial0", "console0", "monitor"])
      await qemu.waitUntil(`its ${name} socket`, exists(socket(name)));
    const bundle = `${buildConfig().pkgdatadir}/porthole-gateway.js`;
    gateway = new ChildProcess(
      [
        "gjs",
        "-m",
        bundle,
        "--listen",
        `unix:${socket("gateway")}`,
        "--vnc",
        `unix:${socket("vnc")}`,
        "--stream",
        `serial0=unix:${socket("serial0")},label=Serial port,kind=serial`,
        "--stream",
        `console0=unix:${socket("console0")},label=Console,kind=console`,
        "--stream",
        `monitor=unix:${socket("monitor")},label=QEMU monitor,kind=monitor`,
      ],
      { log: `${dir}/gateway.log`, name: "porthole-gateway" },
    );
    options.onSpawn?.(gateway);
    await gateway.waitUntil("its listening socket", exists(socket("gateway")));
  } catch (e) {
    await gateway?.stop();
    await qemu.stop();
    throw e;
  }
  const gw = gateway;
  return {
    qemu,
    gateway: gw,
    dir,
    uri: `vnc+unix://${socket("gateway")}`,
    vncSocket: socket("vnc"),
    monitorSocket: socket("monitor"),
    accelerator,
    stop: async () => {
      await gw.stop();
      await qemu.stop();
    },
  };
}
