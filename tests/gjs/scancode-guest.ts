// A QEMU guest that reports every byte its keyboard controller delivers, for the specs
// that check what a key event becomes inside a real PC. The boot sector below polls the
// i8042 and writes each byte to COM1 as hex; COM1 is a unix socket this helper reads. The
// BIOS leaves the i8042 translating the keyboard's set 2 into XT set 1, so the guest sees
// what an OS on real hardware sees: one byte per make code, 0xE0 prefixes for the extended
// keys, bit 7 set on release.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { Child, delay } from "./processes.js";
import { bootSectorGuestArgv, Qmp } from "./qemu.js";

Gio._promisify(Gio.InputStream.prototype, "read_bytes_async", "read_bytes_finish");

/**
 * The boot sector's code, loaded at 0000:7C00. Interrupts stay off for good: SeaBIOS's
 * IRQ1 handler would otherwise read port 0x60 first and the bytes would never reach the
 * loop. COM1 is set up without interrupts (OUT2 off) and written by polling LSR.
 */
const REPORT_KEYBOARD = [
  0xfa, // 7C00 cli
  0xfc, // 7C01 cld
  0x31,
  0xc0, // 7C02 xor ax, ax
  0x8e,
  0xd8, // 7C04 mov ds, ax
  0x8e,
  0xd0, // 7C06 mov ss, ax
  0xbc,
  0x00,
  0x7c, // 7C08 mov sp, 7C00h: the stack grows down below the code
  0xba,
  0xf9,
  0x03, // 7C0B mov dx, 3F9h (IER)
  0xb0,
  0x00, // 7C0E mov al, 0: no UART interrupts
  0xee, // 7C10 out dx, al
  0xba,
  0xfb,
  0x03, // 7C11 mov dx, 3FBh (LCR)
  0xb0,
  0x80, // 7C14 mov al, 80h: DLAB, to reach the divisor
  0xee, // 7C16 out dx, al
  0xba,
  0xf8,
  0x03, // 7C17 mov dx, 3F8h (DLL)
  0xb0,
  0x01, // 7C1A mov al, 1: divisor 1, 115200 baud
  0xee, // 7C1C out dx, al
  0xba,
  0xf9,
  0x03, // 7C1D mov dx, 3F9h (DLM)
  0xb0,
  0x00, // 7C20 mov al, 0
  0xee, // 7C22 out dx, al
  0xba,
  0xfb,
  0x03, // 7C23 mov dx, 3FBh (LCR)
  0xb0,
  0x03, // 7C26 mov al, 3: 8N1, DLAB off
  0xee, // 7C28 out dx, al
  0xba,
  0xfa,
  0x03, // 7C29 mov dx, 3FAh (FCR)
  0xb0,
  0x07, // 7C2C mov al, 7: FIFOs on and cleared
  0xee, // 7C2E out dx, al
  0xba,
  0xfc,
  0x03, // 7C2F mov dx, 3FCh (MCR)
  0xb0,
  0x03, // 7C32 mov al, 3: DTR and RTS, OUT2 off (no IRQ4)
  0xee, // 7C34 out dx, al
  0xbe,
  0x00,
  0x7d, // 7C35 mov si, 7D00h: READY_TEXT
  0xac, // 7C38 ready: lodsb
  0x84,
  0xc0, // 7C39 test al, al
  0x74,
  0x05, // 7C3B jz poll
  0xe8,
  0x2f,
  0x00, // 7C3D call putc
  0xeb,
  0xf6, // 7C40 jmp ready
  0xe4,
  0x64, // 7C42 poll: in al, 64h (i8042 status)
  0xa8,
  0x01, // 7C44 test al, 1: output buffer full?
  0x74,
  0xfa, // 7C46 jz poll
  0x88,
  0xc3, // 7C48 mov bl, al: keep the status
  0xe4,
  0x60, // 7C4A in al, 60h: the byte; reading it empties the buffer
  0xf6,
  0xc3,
  0x20, // 7C4C test bl, 20h: from the mouse port?
  0x75,
  0xf1, // 7C4F jnz poll: not a keyboard byte
  0x88,
  0xc4, // 7C51 mov ah, al
  0xc0,
  0xe8,
  0x04, // 7C53 shr al, 4
  0xe8,
  0x0c,
  0x00, // 7C56 call puthex: high digit
  0x88,
  0xe0, // 7C59 mov al, ah
  0xe8,
  0x07,
  0x00, // 7C5B call puthex: low digit
  0xb0,
  0x20, // 7C5E mov al, ' '
  0xe8,
  0x0c,
  0x00, // 7C60 call putc
  0xeb,
  0xdd, // 7C63 jmp poll
  0x24,
  0x0f, // 7C65 puthex: and al, 0Fh
  0x04,
  0x30, // 7C67 add al, '0'
  0x3c,
  0x39, // 7C69 cmp al, '9'
  0x76,
  0x02, // 7C6B jbe putc
  0x04,
  0x07, // 7C6D add al, 7: 'A'…'F'
  0x50, // 7C6F putc: push ax
  0xba,
  0xfd,
  0x03, // 7C70 mov dx, 3FDh (LSR)
  0xec, // 7C73 wait: in al, dx
  0xa8,
  0x20, // 7C74 test al, 20h: transmit holding register empty?
  0x74,
  0xfb, // 7C76 jz wait
  0x58, // 7C78 pop ax
  0xba,
  0xf8,
  0x03, // 7C79 mov dx, 3F8h (THR)
  0xee, // 7C7C out dx, al
  0xc3, // 7C7D ret
];

/** The guest's first words, NUL-terminated at sector offset 0x100 (7D00h). */
const READY = "READY\r\n";
const READY_OFFSET = 0x100;

function writeBootImage(path: string): void {
  const sector = new Uint8Array(512);
  sector.set(REPORT_KEYBOARD);
  sector.set(new TextEncoder().encode(`${READY}\0`), READY_OFFSET);
  sector.set([0x55, 0xaa], 510);
  GLib.file_set_contents(path, sector);
}

const hex = (bytes: readonly number[]) => bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");

export interface ScancodeGuest {
  readonly child: Child;
  readonly qmp: Qmp;
  /** Where its VNC server listens: vnc+unix:///… */
  readonly vncUri: string;
  /** The next `count` bytes the guest read from the i8042, in order; they are consumed. */
  readScancodes(count: number, timeoutMs?: number): Promise<number[]>;
  /** Waits `ms`, then returns and consumes every byte reported so far ([] if none came). */
  collect(ms: number): Promise<number[]>;
  /** Closes QMP and the serial socket and stops QEMU by PID. */
  stop(): Promise<void>;
}

/** Reads the guest's COM1 and turns its "XX " groups into bytes. */
class SerialReport {
  #conn: Gio.SocketConnection;
  #text = "";
  #bytes: number[] = [];
  #ready = false;
  #ended: string | null = null;

  constructor(conn: Gio.SocketConnection) {
    this.#conn = conn;
    void this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const input = this.#conn.get_input_stream();
    try {
      for (;;) {
        const chunk = await input.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, null);
        const data = chunk.toArray();
        if (data.length === 0) {
          this.#ended = "the serial socket closed";
          return;
        }
        this.#text += new TextDecoder().decode(data);
        this.#parse();
      }
    } catch (e) {
      this.#ended ??= e instanceof Error ? e.message : String(e);
    }
  }

  #parse(): void {
    if (!this.#ready) {
      const at = this.#text.indexOf(READY);
      if (at < 0) return;
      this.#ready = true;
      this.#text = this.#text.slice(at + READY.length);
    }
    let m: RegExpExecArray | null;
    while ((m = /^([0-9A-F]{2}) /.exec(this.#text)) !== null) {
      this.#bytes.push(parseInt(m[1] ?? "", 16));
      this.#text = this.#text.slice(3);
    }
    // A lone first digit waits for the rest of its group; anything else is not the guest's.
    if (!/^[0-9A-F]{0,2}$/.test(this.#text)) this.#ended = `unexpected serial output ${JSON.stringify(this.#text)}`;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get ended(): string | null {
    return this.#ended;
  }

  take(count: number): number[] {
    return this.#bytes.splice(0, count);
  }

  get available(): number {
    return this.#bytes.length;
  }

  close(): void {
    this.#ended ??= "closed";
    this.#conn.close(null);
  }
}

/**
 * Starts QEMU booting the reporting guest, with VNC on DIR/vnc.sock, QMP on DIR/qmp.sock
 * and COM1 on DIR/serial.sock, and resolves once the guest says READY.
 */
export async function startScancodeGuest(dir: string): Promise<ScancodeGuest> {
  const vncSocket = `${dir}/vnc.sock`;
  const qmpSocket = `${dir}/qmp.sock`;
  const serialSocket = `${dir}/serial.sock`;
  writeBootImage(`${dir}/boot.img`);
  const child = new Child(
    bootSectorGuestArgv({
      image: `${dir}/boot.img`,
      // Start paused: a socket chardev drops what the guest writes while nobody is connected.
      paused: true,
      extra: ["-chardev", `socket,id=ser0,path=${serialSocket},server=on,wait=off`, "-serial", "chardev:ser0"],
      vnc: `unix:${vncSocket}`,
      qmpSocket,
    }),
  );
  let serial: SerialReport | null = null;
  let qmp: Qmp | null = null;
  try {
    const exists = (path: string) => () => GLib.file_test(path, GLib.FileTest.EXISTS);
    await child.waitUntil("its serial socket", exists(serialSocket));
    await child.waitUntil("its QMP socket", exists(qmpSocket));
    await child.waitUntil("its VNC socket", exists(vncSocket));
    serial = new SerialReport(new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(serialSocket), null));
    qmp = await Qmp.connect(qmpSocket);
    await qmp.execute("cont");
    const report = serial;
    await child.waitUntil("the guest's READY on COM1", () => report.ready || report.ended !== null);
    if (!report.ready) throw new Error(`the guest's serial port ended before READY: ${report.ended ?? ""}`);
  } catch (e) {
    serial?.close();
    qmp?.close();
    await child.stop();
    throw e;
  }
  const report = serial;
  const control = qmp;

  return {
    child,
    qmp: control,
    vncUri: `vnc+unix://${vncSocket}`,
    async readScancodes(count: number, timeoutMs = 10000): Promise<number[]> {
      const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
      while (report.available < count) {
        const problem =
          report.ended ??
          (!child.running ? "QEMU exited" : GLib.get_monotonic_time() > deadline ? `${timeoutMs} ms passed` : null);
        if (problem !== null) {
          const got = report.take(report.available);
          throw new Error(
            `expected ${count} scancodes from the guest, but ${problem} after ${got.length}: [${hex(got)}]`,
          );
        }
        await delay(20);
      }
      return report.take(count);
    },
    async collect(ms: number): Promise<number[]> {
      await delay(ms);
      return report.take(report.available);
    },
    async stop(): Promise<void> {
      report.close();
      control.close();
      await child.stop();
    },
  };
}
