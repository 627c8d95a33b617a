// A QEMU guest with a still picture, for porthole-bench serial and the specs that compare
// QEMU's display pixel for pixel (tests/gjs/qemu.ts boots the same sector): a boot sector
// sets VGA mode 13h (320×200, 256 colours, which QEMU's std VGA shows as 640×400), paints
// every pixel with (offset >> 8) ^ ((offset & 0xff) >> 4), i.e. runs of 16 equal pixels in
// many colours, and halts with interrupts off. The picture never changes afterwards (no
// text cursor to blink), so QEMU sends a client nothing it did not ask for.

import GLib from "gi://GLib";

import { ChildProcess, delay } from "./child-process.js";
import { bootSectorGuestArgv, Qmp } from "./tone-guest.js";

/** Loaded at 0000:7C00. */
const PAINT_AND_HALT = [
  [0xfc], // cld
  [0xb8, 0x13, 0x00], // mov ax, 13h
  [0xcd, 0x10], // int 10h: VGA mode 13h
  [0xb8, 0x00, 0xa0], // mov ax, 0A000h
  [0x8e, 0xc0], // mov es, ax
  [0x31, 0xff], // xor di, di
  [0x89, 0xf8], // paint: mov ax, di
  [0xc0, 0xe8, 0x04], // shr al, 4
  [0x30, 0xe0], // xor al, ah
  [0xaa], // stosb
  [0x81, 0xff, 0x00, 0xfa], // cmp di, 64000
  [0x72, 0xf2], // jb paint
  [0xfa], // cli
  [0xf4], // halt: hlt
  [0xeb, 0xfd], // jmp halt
].flat();

/** Writes the guest's boot disk (one sector) to `path`. */
export function writeStillBootImage(path: string): void {
  const sector = new Uint8Array(512);
  sector.set(PAINT_AND_HALT);
  sector.set([0x55, 0xaa], 510);
  GLib.file_set_contents(path, sector);
}

/** The picture's size as QEMU shows it: mode 13h's pixels doubled horizontally and vertically. */
export const STILL_WIDTH = 640;
export const STILL_HEIGHT = 400;

/**
 * Waits until QEMU's screen (a QMP screendump, PPM) is the painted picture: mode 13h's size,
 * many colours (SeaBIOS's text screen before it has a handful), and the same in two dumps
 * in a row, so the paint is over.
 */
async function waitForPicture(qmp: Qmp, child: ChildProcess, path: string): Promise<void> {
  const deadline = GLib.get_monotonic_time() + 60_000_000;
  let previous: Uint8Array | null = null;
  for (;;) {
    await qmp.execute("screendump", { filename: path });
    const [, ppm] = GLib.file_get_contents(path);
    // "P6\n640 400\n255\n" then RGB triples (netpbm's PPM as QEMU writes it).
    const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(new TextDecoder().decode(ppm.subarray(0, 32)));
    if (header && Number(header[1]) === STILL_WIDTH && Number(header[2]) === STILL_HEIGHT) {
      const colours = new Set<number>();
      const rgb = ppm.subarray(header[0].length);
      for (let i = 0; i + 2 < rgb.length; i += 3)
        colours.add(((rgb[i] ?? 0) << 16) | ((rgb[i + 1] ?? 0) << 8) | (rgb[i + 2] ?? 0));
      const same = previous !== null && previous.length === ppm.length && previous.every((b, i) => b === ppm[i]);
      if (colours.size > 100 && same) return;
      previous = ppm;
    }
    if (!child.running) throw new Error(`QEMU exited before the guest painted:\n${child.logTail()}`);
    if (GLib.get_monotonic_time() > deadline) throw new Error("the guest did not paint its picture within 60 s");
    await delay(100);
  }
}

export interface StillGuest {
  readonly child: ChildProcess;
  readonly qmp: Qmp;
  /** Where its VNC server listens. */
  readonly vncSocket: string;
  /** Closes QMP and stops QEMU by PID. */
  stop(): Promise<void>;
  /** The same without returning to the main loop (for signal handlers). */
  stopNow(): void;
}

export interface StillGuestOptions {
  /** Told of QEMU's process as soon as it runs (a caller that must stop it on a signal). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/**
 * Starts QEMU booting the still guest, VNC on DIR/vnc.sock and QMP on DIR/qmp.sock (its
 * output in DIR/qemu.log), and resolves once the picture is painted: the guest has halted.
 */
export async function startStillGuest(dir: string, options: StillGuestOptions = {}): Promise<StillGuest> {
  GLib.mkdir_with_parents(dir, 0o700);
  const vncSocket = `${dir}/vnc.sock`;
  const qmpSocket = `${dir}/qmp.sock`;
  writeStillBootImage(`${dir}/boot.img`);
  const child = new ChildProcess(
    bootSectorGuestArgv({ image: `${dir}/boot.img`, vnc: `unix:${vncSocket}`, qmpSocket }),
    { log: `${dir}/qemu.log`, name: "QEMU" },
  );
  options.onSpawn?.(child);
  let qmp: Qmp | null = null;
  try {
    const exists = (path: string) => () => GLib.file_test(path, GLib.FileTest.EXISTS);
    await child.waitUntil("its QMP socket", exists(qmpSocket));
    await child.waitUntil("its VNC socket", exists(vncSocket));
    qmp = await Qmp.connect(qmpSocket);
    await waitForPicture(qmp, child, `${dir}/screen.ppm`);
  } catch (e) {
    qmp?.close();
    await child.stop();
    throw e;
  }
  const control = qmp;
  return {
    child,
    qmp: control,
    vncSocket,
    async stop(): Promise<void> {
      control.close();
      await child.stop();
    },
    stopNow(): void {
      control.close();
      child.stopNow();
    },
  };
}
