// A QEMU guest whose COM1 echoes every byte it receives, for the gateway specs: a boot
// sector that paints the VGA screen once (mode 13h, the same still picture as qemu.ts's
// guest), sets up COM1 at 115200 8N1, says READY, then halts, and its COM1 interrupt
// handler writes each received byte straight back. Optionally (`animate`) the BIOS timer
// hook (INT 1Ch, 18.2 times a second) also changes the colour of the top 8 lines, so that
// the display keeps changing for specs that need a steady flow of framebuffer updates;
// otherwise the picture never changes after the paint. COM1 is a QEMU socket chardev
// (server=on) or a pty; QEMU starts paused so that the banner is not lost before the
// gateway has connected (a socket chardev drops output while nobody is connected).

import GLib from "gi://GLib";

import { Child } from "./processes.js";
import { bootSectorGuestArgv, Qmp } from "./qemu.js";

/**
 * Assembled with GNU as (.code16) and checked with objdump; loaded at 0000:7C00. The echo
 * runs in COM1's interrupt handler (IRQ 4, vector 0Ch as SeaBIOS programs the PIC) and the
 * main loop halts, so an idle guest costs no CPU (a polling loop kept a TCG QEMU at 50 %).
 */
const PAINT_AND_ECHO = [
  0xfc, // 7C00 cld
  0x31,
  0xc0, // xor ax, ax
  0x8e,
  0xd8, // mov ds, ax
  0x8e,
  0xd0, // mov ss, ax
  0xbc,
  0x00,
  0x7c, // mov sp, 7C00h
  0xb8,
  0x13,
  0x00, // mov ax, 13h
  0xcd,
  0x10, // int 10h: VGA mode 13h
  0xfa, // cli
  0xb8,
  0x00,
  0xa0, // mov ax, 0A000h
  0x8e,
  0xc0, // mov es, ax
  0x31,
  0xff, // xor di, di
  0x89,
  0xf8, // 7C17 paint: mov ax, di
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
  0xba,
  0xf9,
  0x03,
  0xb0,
  0x00,
  0xee, // IER = 0 while setting up
  0xba,
  0xfb,
  0x03,
  0xb0,
  0x80,
  0xee, // LCR = 80h: DLAB
  0xba,
  0xf8,
  0x03,
  0xb0,
  0x01,
  0xee, // DLL = 1: 115200 baud
  0xba,
  0xf9,
  0x03,
  0xb0,
  0x00,
  0xee, // DLM = 0
  0xba,
  0xfb,
  0x03,
  0xb0,
  0x03,
  0xee, // LCR = 3: 8N1
  0xba,
  0xfa,
  0x03,
  0xb0,
  0x07,
  0xee, // FCR = 7: FIFOs on and cleared, trigger at 1 byte
  0xba,
  0xfc,
  0x03,
  0xb0,
  0x0b,
  0xee, // MCR = 0Bh: DTR, RTS, OUT2 (the IRQ line)
  0xbe,
  0x00,
  0x7d, // mov si, 7D00h: the banner
  0xac, // 7C52 ready: lodsb
  0x84,
  0xc0, // test al, al
  0x74,
  0x05, // jz irqs
  0xe8,
  0x3c,
  0x00, // call putc
  0xeb,
  0xf6, // jmp ready
  0xc7,
  0x06,
  0x30,
  0x00,
  0x78,
  0x7c, // 7C5C irqs: mov word [30h], isr
  0xc7,
  0x06,
  0x32,
  0x00,
  0x00,
  0x00, // mov word [32h], 0
  0xe4,
  0x21, // in al, 21h
  0x24,
  0xef, // and al, 0EFh: unmask IRQ 4
  0xe6,
  0x21, // out 21h, al
  0xe8,
  0x34,
  0x00, // 7C6E call setup
  0x90,
  0x90,
  0x90, // nop; nop; nop
  0xfb, // 7C74 idle: sti
  0xf4, // hlt
  0xeb,
  0xfc, // jmp idle
  0x50, // 7C78 isr: push ax
  0x52, // push dx
  0xba,
  0xfd,
  0x03, // 7C7A drain: mov dx, 3FDh (LSR)
  0xec, // in al, dx
  0xa8,
  0x01, // test al, 1: data ready?
  0x74,
  0x09, // jz done
  0xba,
  0xf8,
  0x03, // mov dx, 3F8h (RBR)
  0xec, // in al, dx
  0xe8,
  0x0d,
  0x00, // call putc
  0xeb,
  0xef, // jmp drain
  0xba,
  0xfa,
  0x03, // 7C8B done: mov dx, 3FAh (IIR)
  0xec, // in al, dx
  0xb0,
  0x20, // mov al, 20h
  0xe6,
  0x20, // out 20h, al: end of interrupt
  0x5a, // pop dx
  0x58, // pop ax
  0xcf, // iret
  0x50, // 7C96 putc: push ax
  0xba,
  0xfd,
  0x03, // mov dx, 3FDh (LSR)
  0xec, // wait: in al, dx
  0xa8,
  0x20, // test al, 20h: transmitter holding register empty?
  0x74,
  0xfb, // jz wait
  0x58, // pop ax
  0xba,
  0xf8,
  0x03, // mov dx, 3F8h (THR)
  0xee, // out dx, al
  0xc3, // ret
  0xba,
  0xf9,
  0x03,
  0xb0,
  0x01,
  0xee, // 7CA5 setup: IER = 1: interrupt on received data
  0x80,
  0x3e,
  0xf0,
  0x7d,
  0x00, // cmp byte [7DF0h], 0: animate?
  0x74,
  0x0c, // je still
  0xc7,
  0x06,
  0x70,
  0x00,
  0xbf,
  0x7c, // mov word [70h], tick: the BIOS timer hook (INT 1Ch, 18.2 Hz)
  0xc7,
  0x06,
  0x72,
  0x00,
  0x00,
  0x00, // mov word [72h], 0
  0xc3, // 7CBE still: ret
  0x50, // 7CBF tick: push ax
  0x51, // push cx
  0x57, // push di
  0x06, // push es
  0xb8,
  0x00,
  0xa0, // mov ax, 0A000h
  0x8e,
  0xc0, // mov es, ax
  0x31,
  0xff, // xor di, di
  0xb9,
  0x00,
  0x0a, // mov cx, 2560: the top 8 lines
  0x26,
  0xfe,
  0x05, // 7CCD next: inc byte [es:di]
  0x47, // inc di
  0xe2,
  0xfa, // loop next
  0x07, // pop es
  0x5f, // pop di
  0x59, // pop cx
  0x58, // pop ax
  0xcf, // iret
];

export const ECHO_BANNER = "PORTHOLE ECHO GUEST READY\r\n";

/** Where the code looks for the animation flag (7DF0h): non-zero hooks the timer. */
const ANIMATE_FLAG = 0x1f0;

function writeBootImage(path: string, animate: boolean): void {
  const sector = new Uint8Array(512);
  sector.set(PAINT_AND_ECHO);
  sector.set(new TextEncoder().encode(`${ECHO_BANNER}\0`), 0x100);
  sector[ANIMATE_FLAG] = animate ? 1 : 0;
  sector.set([0x55, 0xaa], 510);
  GLib.file_set_contents(path, sector);
}

export interface EchoGuest {
  readonly child: Child;
  readonly qmp: Qmp;
  readonly vncSocket: string;
  /** unix:PATH of the serial socket, or pty:/dev/pts/N. */
  readonly serial: string;
  /** Lets the paused guest run. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EchoGuestOptions {
  /** Change the top 8 lines 18.2 times a second (see the header), for a steady flow of updates. */
  readonly animate?: boolean;
  /**
   * Give QEMU's VNC server an audio backend (the null driver, no sound card), so that it
   * offers QEMU audio to its clients; the guest plays nothing.
   */
  readonly audio?: boolean;
}

/** Starts QEMU paused with the echo guest: VNC on DIR/vnc.sock, COM1 on a socket or a pty. */
export async function startEchoGuest(
  dir: string,
  serial: "socket" | "pty" = "socket",
  options: EchoGuestOptions = {},
): Promise<EchoGuest> {
  const vncSocket = `${dir}/vnc.sock`;
  const qmpSocket = `${dir}/qmp.sock`;
  const serialSocket = `${dir}/serial.sock`;
  writeBootImage(`${dir}/boot.img`, options.animate ?? false);
  const audio = options.audio ?? false;
  const child = new Child(
    bootSectorGuestArgv({
      image: `${dir}/boot.img`,
      // Start paused: a socket chardev drops what the guest writes while nobody is connected.
      paused: true,
      extra: [
        "-chardev",
        serial === "socket" ? `socket,id=ser0,path=${serialSocket},server=on,wait=off` : "pty,id=ser0",
        "-serial",
        "chardev:ser0",
        ...(audio ? ["-audiodev", "none,id=snd0"] : []),
      ],
      vnc: `unix:${vncSocket}${audio ? ",audiodev=snd0" : ""}`,
      qmpSocket,
    }),
  );
  const exists = (path: string) => () => GLib.file_test(path, GLib.FileTest.EXISTS);
  await child.waitUntil("its QMP socket", exists(qmpSocket));
  await child.waitUntil("its VNC socket", exists(vncSocket));
  const qmp = await Qmp.connect(qmpSocket);
  let serialPath = `unix:${serialSocket}`;
  if (serial === "pty") {
    const chardevs = (await qmp.execute("query-chardev")) as { label: string; filename: string }[];
    const pty = chardevs.find((c) => c.label === "ser0")?.filename ?? "";
    if (!pty.startsWith("pty:")) throw new Error(`QEMU's ser0 is ${pty}, not a pty`);
    serialPath = pty;
  } else {
    await child.waitUntil("its serial socket", exists(serialSocket));
  }
  return {
    child,
    qmp,
    vncSocket,
    serial: serialPath,
    async start() {
      await qmp.execute("cont");
    },
    async stop() {
      qmp.close();
      await child.stop();
    },
  };
}
