// A QEMU guest that makes a known sound, for porthole-bench audio and the specs of Porthole's
// audio path (tests/gjs/tone-guest.ts re-exports this module): a boot sector programs the PC speaker (PIT channel 2 as a square-wave generator, gated onto the
// speaker through port 0x61) and switches the tone on and off in a fixed pattern, timed by
// the BIOS tick counter. QEMU 7.2 renders the speaker into an audiodev of the null driver
// that VNC captures for its clients (`-vnc …,audiodev=snd0`), so the sound reaches a VNC
// client and nowhere else.
//
// What QEMU 7.2's VNC audio delivered for this guest, measured here (QEMU 7.2.22 from
// Debian 12, TCG, no KVM) with Porthole's own client: VncConnection + QemuAudioExtension,
// set-format S16 stereo 48000, enable, 30 s:
// - The ack (an empty -259 rectangle) came within ~50 ms of connecting, before the first
//   picture: ui/vnc.c set_encodings() sends it while handling SetEncodings.
// - Enabled while the tone was on: BEGIN at once (within ~3 ms), data after it. Enabled
//   while it was off: nothing at all until the guest turned the speaker on, then BEGIN.
//   Every speaker-on brought one BEGIN and every speaker-off one END (ui/vnc.c
//   audio_capture_notify() relays the capture's enable/disable, which follows the guest's
//   voice: AUD_set_active_out() in hw/audio/pcspk.c), and between END and the next BEGIN
//   nothing was sent for the whole 3.02 s pause: silence is not padded.
// - Disable: no END and not one byte of data in the next 500 ms. Enable again mid-tone:
//   BEGIN at once.
// - DATA every ~10 ms (the audio timer; intervals p10 10.0 ms, median 10.1, p90 10.3, p99
//   11.7; 2.9% arrived less than 1 ms after the previous one). Sizes median 1948 bytes
//   (487 frames), p1 344, p99 2196, min 12, max 4456 — not the 1920 bytes of 10.0 ms: each
//   holds what the mixer produced since the last timer run.
// - A tone of 127 ticks (6.975 s) gave 6.967 s of samples, arriving over 6.977 s between
//   BEGIN and END; END to BEGIN took 3.021 s (55 ticks are 3.0209 s). The stream's rate
//   follows QEMU's virtual clock, which under TCG without -icount is the host's.
// - The samples: a square wave between −24320 and +24831 (the speaker's U8 levels 32 and
//   224 around 128, ≈ ±3/4 of full scale), the same on both channels, at 500.000 Hz by
//   zero crossings over 6.5 s (pcspkFrequency below). Captured in mono, left and right are
//   added, so the tone clips to full scale (U8 0 and 255, S16 ±32767/−32768, measured).

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { ChildProcess, delay } from "./child-process.js";

Gio._promisify(Gio.DataInputStream.prototype, "read_line_async", "read_line_finish");

/** Whether this process may use KVM (/dev/kvm opens read-write); QEMU falls back to TCG. */
export function kvmUsable(): boolean {
  try {
    Gio.File.new_for_path("/dev/kvm").open_readwrite(null).close(null);
    return true;
  } catch {
    return false;
  }
}

export interface BootSectorGuestOptions {
  /** The raw boot image (one boot sector), booted from IDE. */
  readonly image: string;
  /** -vnc's argument: unix:PATH[,audiodev=…] or HOST:DISPLAY. */
  readonly vnc: string;
  readonly qmpSocket: string;
  /** -machine's argument (default "pc"). */
  readonly machine?: string;
  /** Start with the CPU stopped (-S), for a guest whose first output must not be lost. */
  readonly paused?: boolean;
  /** Devices and backends (chardevs, audiodevs) before -vnc. */
  readonly extra?: readonly string[];
}

/**
 * The command line of QEMU 7.2 running one of the specs' and benches' boot-sector guests:
 * 64 MiB, KVM when it can, a standard VGA (QEMU's VNC server hands key events to the
 * console it shows: without a graphic console they go nowhere, measured), no window, VNC
 * and QMP as given.
 */
export function bootSectorGuestArgv(options: BootSectorGuestOptions): string[] {
  return [
    "qemu-system-x86_64",
    "-nodefaults",
    "-machine",
    options.machine ?? "pc",
    "-accel",
    kvmUsable() ? "kvm" : "tcg",
    "-m",
    "64",
    "-vga",
    "std",
    "-display",
    "none",
    ...(options.paused ? ["-S"] : []),
    "-drive",
    `file=${options.image},format=raw,if=ide`,
    ...(options.extra ?? []),
    "-vnc",
    options.vnc,
    "-qmp",
    `unix:${options.qmpSocket},server=on,wait=off`,
  ];
}

/** A QMP connection (qemu/docs/interop/qmp-spec): one command at a time. */
export class Qmp {
  #conn: Gio.SocketConnection;
  #in: Gio.DataInputStream;

  private constructor(conn: Gio.SocketConnection) {
    this.#conn = conn;
    this.#in = new Gio.DataInputStream({ base_stream: conn.get_input_stream() });
  }

  static async connect(path: string): Promise<Qmp> {
    const conn = new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(path), null);
    const qmp = new Qmp(conn);
    await qmp.#readReply(); // the greeting
    await qmp.execute("qmp_capabilities");
    return qmp;
  }

  async #readReply(): Promise<Record<string, unknown>> {
    for (;;) {
      const [line] = await this.#in.read_line_async(GLib.PRIORITY_DEFAULT, null);
      if (line === null) throw new Error("QMP closed");
      const msg = JSON.parse(new TextDecoder().decode(line)) as Record<string, unknown>;
      if (!("event" in msg)) return msg; // events arrive interleaved; skip them
    }
  }

  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const text = JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n";
    // A few bytes to a local socket: written synchronously, so no Uint8Array is held by an
    // asynchronous write while the garbage collector may move it.
    this.#conn.get_output_stream().write_all(new TextEncoder().encode(text), null);
    const reply = await this.#readReply();
    if ("error" in reply) throw new Error(`QMP ${command}: ${JSON.stringify(reply.error)}`);
    return reply.return;
  }

  close(): void {
    this.#conn.close(null);
  }
}

/** QEMU's PIT input clock (include/hw/timer/i8254.h PIT_FREQ; a real PC has 1193181.67). */
export const PIT_FREQUENCY = 1193182;
/** The BIOS timer: PIT channel 0 with divisor 65536 increments 0040:006C at ~18.2065 Hz. */
export const BIOS_TICK_HZ = PIT_FREQUENCY / 65536;

/**
 * The frequency QEMU's PC speaker actually plays for a PIT channel 2 divisor. hw/audio/pcspk.c
 * does not follow the PIT's output: it renders one loop of the square wave at 32 kHz
 * (generate_samples()) and repeats it. The loop is the whole periods that fit in 1792
 * samples (PCSPK_BUF_LEN), rounded to a whole number of samples, so the tone is
 * periods × 32000 / loop length, which can differ slightly from PIT_FREQUENCY / divisor.
 */
export function pcspkFrequency(divisor: number): number {
  const rate = 32000;
  const m = rate * divisor;
  const periods = Math.floor((1792 * PIT_FREQUENCY) / m);
  const samples = (Math.floor((periods * m) / Math.floor(PIT_FREQUENCY / 2)) + 1) >> 1;
  return (periods * rate) / samples;
}

/**
 * The default divisor: 1193182 / 2386 = 500.08 Hz at the PIT, and in QEMU's speaker exactly
 * 28 periods in a loop of 1792 samples at 32 kHz, i.e. exactly 500 Hz (96 samples a period
 * at 48 kHz).
 */
export const TONE_PIT_DIVISOR = 2386;
/** The tone QEMU plays with the default divisor, in Hz: 500 exactly. */
export const TONE_FREQUENCY = pcspkFrequency(TONE_PIT_DIVISOR);
/** BIOS ticks the tone stays on: 127 ticks = 6.975 s. */
export const TONE_ON_TICKS = 127;
/** BIOS ticks the tone stays off: 55 ticks = 3.021 s. */
export const TONE_OFF_TICKS = 55;
export const TONE_ON_SECONDS = TONE_ON_TICKS / BIOS_TICK_HZ;
export const TONE_OFF_SECONDS = TONE_OFF_TICKS / BIOS_TICK_HZ;
/**
 * The square wave's amplitude in S16 samples, about: the speaker's U8 levels are 128 ± 96
 * (pcspk.c generate_samples(): (64 & …) - 32 as uint8_t), 3/4 of full scale; QEMU's mixer
 * delivered −24320 and +24831 (measured).
 */
export const TONE_AMPLITUDE_S16 = 24576;

/** Where the guest keeps its segment counter (a word at physical 0x500, free low memory). */
const COUNTER_ADDRESS = 0x500;
/** And the low word of the BIOS tick count when the current segment began. */
const SEGMENT_TICK_ADDRESS = 0x502;
/** The BIOS data area's tick count (0040:006C), a dword; its low word is enough here. */
const BIOS_TICKS_ADDRESS = 0x46c;

const u16 = (v: number): [number, number] => [v & 0xff, v >> 8];

/**
 * The boot sector's code, loaded at 0000:7C00 (checked with objdump -D -b binary -mi8086
 * --adjust-vma=0x7c00). Interrupts stay on so that SeaBIOS's IRQ0 handler counts ticks at
 * 0040:006C; the guest sleeps in hlt between them. Right after each switch of the speaker
 * it notes the tick count at 0000:0502 and counts the segment at 0000:0500: odd while the
 * tone is on, even while it is off, 0 before the first tone, so a host can tell the phase
 * through QMP without listening.
 */
function toneProgram(onTicks: number, offTicks: number, divisor: number): number[] {
  return [
    [0xfa], // 7C00 cli
    [0x31, 0xc0], // 7C01 xor ax, ax
    [0x8e, 0xd8], // 7C03 mov ds, ax
    [0x8e, 0xd0], // 7C05 mov ss, ax
    [0xbc, 0x00, 0x7c], // 7C07 mov sp, 7C00h: the stack grows down below the code
    [0xa3, ...u16(COUNTER_ADDRESS)], // 7C0A mov [0500h], ax: no segment yet
    [0xfb], // 7C0D sti: the BIOS timer interrupt counts ticks from now on
    [0xb0, 0xb6], // 7C0E mov al, 0B6h: PIT channel 2, low then high byte, mode 3 (square wave), binary
    [0xe6, 0x43], // 7C10 out 43h, al
    [0xb0, divisor & 0xff], // 7C12 mov al, low byte of the divisor
    [0xe6, 0x42], // 7C14 out 42h, al
    [0xb0, divisor >> 8], // 7C16 mov al, high byte of the divisor
    [0xe6, 0x42], // 7C18 out 42h, al
    [0xe4, 0x61], // 7C1A cycle: in al, 61h
    [0x0c, 0x03], // 7C1C or al, 3: bit 0 gates PIT channel 2, bit 1 connects it to the speaker
    [0xe6, 0x61], // 7C1E out 61h, al: tone on
    [0xe8, 0x17, 0x00], // 7C20 call mark (7C3A)
    [0xb9, ...u16(onTicks)], // 7C23 mov cx, ON_TICKS
    [0xe8, 0x1c, 0x00], // 7C26 call wait_ticks (7C45)
    [0xe4, 0x61], // 7C29 in al, 61h
    [0x24, 0xfc], // 7C2B and al, 0FCh: gate and speaker off
    [0xe6, 0x61], // 7C2D out 61h, al: tone off
    [0xe8, 0x08, 0x00], // 7C2F call mark (7C3A)
    [0xb9, ...u16(offTicks)], // 7C32 mov cx, OFF_TICKS
    [0xe8, 0x0d, 0x00], // 7C35 call wait_ticks (7C45)
    [0xeb, 0xe0], // 7C38 jmp cycle (7C1A)
    [0xa1, ...u16(BIOS_TICKS_ADDRESS)], // 7C3A mark: mov ax, [046Ch]: low word of the BIOS tick count
    [0xa3, ...u16(SEGMENT_TICK_ADDRESS)], // 7C3D mov [0502h], ax: when this segment began
    [0xff, 0x06, ...u16(COUNTER_ADDRESS)], // 7C40 inc word [0500h]: the segment's number
    [0xc3], // 7C44 ret
    [0xa1, ...u16(BIOS_TICKS_ADDRESS)], // 7C45 wait_ticks: mov ax, [046Ch]
    [0xf4], // 7C48 tick: hlt until the next interrupt
    [0x3b, 0x06, ...u16(BIOS_TICKS_ADDRESS)], // 7C49 cmp ax, [046Ch]
    [0x74, 0xf9], // 7C4D je tick (7C48): not a timer tick
    [0xe2, 0xf4], // 7C4F loop wait_ticks (7C45): CX ticks in all
    [0xc3], // 7C51 ret
  ].flat();
}

function writeBootImage(path: string, onTicks: number, offTicks: number, divisor: number): void {
  const sector = new Uint8Array(512);
  sector.set(toneProgram(onTicks, offTicks, divisor));
  sector.set([0x55, 0xaa], 510);
  GLib.file_set_contents(path, sector);
}

export interface ToneGuestOptions {
  /** BIOS ticks (1/18.2065 s) of tone per cycle, 1–65535; default TONE_ON_TICKS. */
  readonly onTicks?: number;
  /** BIOS ticks of silence per cycle, 1–65535; default TONE_OFF_TICKS. */
  readonly offTicks?: number;
  /**
   * PIT channel 2 divisor, 75–65535 (pcspk.c plays nothing below PIT_FREQUENCY / 16000);
   * default TONE_PIT_DIVISOR. The tone is pcspkFrequency(divisor).
   */
  readonly divisor?: number;
  /** Appended to the -vnc value, e.g. ",password=on". */
  readonly vncOptions?: string;
  /** Told of QEMU's process as soon as it runs (a caller that must stop it on a signal). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/** Where the guest is in its pattern, by its own clock (the BIOS ticks). */
export interface TonePhase {
  /** 0 before the first tone, then odd while the tone is on and even while it is off. */
  readonly segment: number;
  readonly on: boolean;
  /** Seconds since the current segment began (whole BIOS ticks, 55 ms each). */
  readonly elapsed: number;
  /** Seconds until the next switch. */
  readonly remaining: number;
}

export interface ToneGuest {
  readonly child: ChildProcess;
  readonly qmp: Qmp;
  /** Where its VNC server listens: vnc+unix:///… */
  readonly vncUri: string;
  /** The tone's frequency in Hz as QEMU plays it. */
  readonly frequency: number;
  readonly onSeconds: number;
  readonly offSeconds: number;
  /** The guest's phase, read from its memory through QMP (not from the audio; ~2.6 ms). */
  phase(): Promise<TonePhase>;
  /**
   * Waits until the guest switches the tone `to` on or off and resolves with the new
   * segment number, within ~12 ms of the switch (it polls every 10 ms; one QMP read took
   * ~1.3 ms here). A switch that already happened does not count: this waits for the next.
   */
  nextSwitch(to: "on" | "off", timeoutMs?: number): Promise<number>;
  /** Closes QMP and stops QEMU by PID. */
  stop(): Promise<void>;
  /** The same without returning to the main loop (for signal handlers). */
  stopNow(): void;
}

/** Words of guest-physical memory at `address`. */
async function readWords(qmp: Qmp, address: number, count: number): Promise<number[]> {
  // HMP's xp reads guest-physical memory; QMP itself has no read (pmemsave writes a file).
  const text = (await qmp.execute("human-monitor-command", {
    "command-line": `xp /${count}hx ${address}`,
  })) as string;
  const words = [...text.matchAll(/0x([0-9a-f]{4})\b/gi)].map((m) => parseInt(m[1] ?? "", 16));
  if (words.length !== count) throw new Error(`unexpected xp output ${JSON.stringify(text)}`);
  return words;
}

/**
 * Starts QEMU 7.2 booting the tone guest, with VNC (and its audio capture) on DIR/vnc.sock
 * and QMP on DIR/qmp.sock (its output in DIR/qemu.log), and resolves as soon as the first
 * tone has started (segment 1).
 */
export async function startToneGuest(dir: string, options: ToneGuestOptions = {}): Promise<ToneGuest> {
  const onTicks = options.onTicks ?? TONE_ON_TICKS;
  const offTicks = options.offTicks ?? TONE_OFF_TICKS;
  const divisor = options.divisor ?? TONE_PIT_DIVISOR;
  for (const [name, v, min] of [
    ["onTicks", onTicks, 1],
    ["offTicks", offTicks, 1],
    ["divisor", divisor, Math.ceil(PIT_FREQUENCY / 16000)],
  ] as const)
    if (!Number.isInteger(v) || v < min || v > 0xffff) throw new Error(`${name} must be an integer ${min}–65535`);
  GLib.mkdir_with_parents(dir, 0o700);
  const vncSocket = `${dir}/vnc.sock`;
  const qmpSocket = `${dir}/qmp.sock`;
  writeBootImage(`${dir}/boot.img`, onTicks, offTicks, divisor);
  const child = new ChildProcess(
    bootSectorGuestArgv({
      image: `${dir}/boot.img`,
      // The speaker plays into audiodev snd0; the null driver ("none") plays nowhere but
      // runs the mixer on its timer, so captures (VNC's) see the samples.
      machine: "pc,pcspk-audiodev=snd0",
      extra: ["-audiodev", "none,id=snd0"],
      vnc: `unix:${vncSocket},audiodev=snd0${options.vncOptions ?? ""}`,
      qmpSocket,
    }),
    { log: `${dir}/qemu.log`, name: "QEMU" },
  );
  options.onSpawn?.(child);
  const onSeconds = onTicks / BIOS_TICK_HZ;
  const offSeconds = offTicks / BIOS_TICK_HZ;
  const phase = async (qmp: Qmp): Promise<TonePhase> => {
    const [segment = 0, began = 0] = await readWords(qmp, COUNTER_ADDRESS, 2);
    const [ticks = 0] = await readWords(qmp, BIOS_TICKS_ADDRESS, 1);
    const on = segment % 2 === 1;
    const elapsed = segment === 0 ? 0 : ((ticks - began) & 0xffff) / BIOS_TICK_HZ;
    return { segment, on, elapsed, remaining: Math.max(0, (on ? onSeconds : offSeconds) - elapsed) };
  };
  let qmp: Qmp | null = null;
  try {
    const exists = (path: string) => () => GLib.file_test(path, GLib.FileTest.EXISTS);
    await child.waitUntil("its QMP socket", exists(qmpSocket));
    await child.waitUntil("its VNC socket", exists(vncSocket));
    qmp = await Qmp.connect(qmpSocket);
    const control = qmp;
    const deadline = GLib.get_monotonic_time() + 30_000_000;
    while ((await phase(control)).segment === 0) {
      if (!child.running) throw new Error(`QEMU exited before the guest played:\n${child.logTail()}`);
      if (GLib.get_monotonic_time() > deadline) throw new Error("the guest did not start its tone within 30 s");
      await delay(10);
    }
  } catch (e) {
    qmp?.close();
    await child.stop();
    throw e;
  }
  const control = qmp;

  return {
    child,
    qmp: control,
    vncUri: `vnc+unix://${vncSocket}`,
    frequency: pcspkFrequency(divisor),
    onSeconds,
    offSeconds,
    phase: () => phase(control),
    async nextSwitch(to: "on" | "off", timeoutMs = 30000): Promise<number> {
      const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
      const [start = 0] = await readWords(control, COUNTER_ADDRESS, 1);
      for (;;) {
        const [now = 0] = await readWords(control, COUNTER_ADDRESS, 1);
        // Odd segments are tone-on ones; a poll may miss a whole short segment, so the
        // parity of the current segment decides, not the count of switches seen.
        if (now !== start && now % 2 === (to === "on" ? 1 : 0)) return now;
        if (!child.running) throw new Error("QEMU exited");
        if (GLib.get_monotonic_time() > deadline)
          throw new Error(`the tone did not switch ${to} within ${timeoutMs} ms`);
        await delay(10);
      }
    },
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
