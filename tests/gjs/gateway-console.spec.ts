// The serial-console side of porthole-gateway end to end, with real parts only: keys typed
// with xdotool into a PortholeSerialConsole come back from the QEMU echo guest while the
// PortholeVncDisplay on the same connection keeps updating, and a flood into that console
// leaves the window responsive and the display moving; porthole-console in a pipe echoes
// through the guest and exits on stdin's end after draining; 100 MiB go through
// porthole-console and a local echo server and back with small windows; a flooding device
// leaves framebuffer updates flowing to a client reading it; two viewers at once, one
// logged in read-only; and a gateway restart, after which the history holds only what the
// device said since. Figures go into the test log; the bounds are generous on purpose.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { parseServerAddress } from "../../src/protocol/address.js";
import type { Extension, ExtensionHost } from "../../src/protocol/extension.js";
import { QemuInputExtension } from "../../src/protocol/extensions/qemu-input.js";
import { parseKeyCombo } from "../../src/protocol/keys/keysyms.js";
import { evdevToQnum } from "../../src/protocol/keys/xt-scancodes.js";
import { PortholeSerialConsole } from "../../src/widgets/serial-console.js";
import { PortholeStreamList } from "../../src/widgets/stream.js";
import { PortholeVncDisplay } from "../../src/widgets/vnc-display.js";
import { ECHO_BANNER, type EchoGuest, startEchoGuest } from "./echo-guest.js";
import { bytesOf, Gateway, randomBytes, startEchoServer, StreamClient, text } from "./gateway-harness.js";
import { type Picture } from "./pictures.js";
import { Child, delay, programBundle, run, tempDir, waitFor, xdotool } from "./processes.js";
import { renderWidget } from "./render.js";
import { type ScancodeGuest, startScancodeGuest } from "./scancode-guest.js";

const MiB = 1024 * 1024;

/** porthole-console in a pipe: its stdout is collected, its stdin written; stopped by PID. */
class ConsolePipe {
  readonly proc: Gio.Subprocess;
  readonly stderrPath: string;
  readonly #chunks: Uint8Array[] = [];
  #stdin: Gio.OutputStream | null;
  /** Bytes read from its stdout so far. */
  length = 0;
  /** Exit status once it exited (128 + signal when killed). */
  status: number | null = null;

  constructor(dir: string, args: string[]) {
    this.stderrPath = `${dir}/console-${GLib.random_int()}.log`;
    const launcher = new Gio.SubprocessLauncher({
      flags: Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE,
    });
    launcher.set_stderr_file_path(this.stderrPath);
    this.proc = launcher.spawnv(["gjs", "-m", programBundle("porthole-console"), ...args]);
    this.#stdin = this.proc.get_stdin_pipe();
    const stdout = this.proc.get_stdout_pipe();
    if (!stdout) throw new Error("no stdout pipe");
    // Plain callbacks (see gateway-harness.ts): a read is always pending on stdout.
    const read = (): void => {
      stdout.read_bytes_async(65536, GLib.PRIORITY_DEFAULT, null, (_s, result) => {
        let bytes: Uint8Array;
        try {
          bytes = stdout.read_bytes_finish(result).toArray();
        } catch {
          return;
        }
        if (bytes.length === 0) return;
        this.#chunks.push(bytes);
        this.length += bytes.length;
        read();
      });
    };
    read();
    this.proc.wait_async(null, (_p, result) => {
      try {
        this.proc.wait_finish(result);
      } catch {
        // The status below says what happened.
      }
      this.status = this.proc.get_if_exited() ? this.proc.get_exit_status() : 128 + this.proc.get_term_sig();
    });
  }

  /** What it wrote on stdout so far. */
  output(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  stderr(): string {
    try {
      return text(GLib.file_get_contents(this.stderrPath)[1]);
    } catch {
      return "";
    }
  }

  /** Writes all of `bytes` to its stdin. */
  write(bytes: Uint8Array): Promise<void> {
    const stdin = this.#stdin;
    if (!stdin) return Promise.reject(new Error("stdin is closed"));
    return new Promise((resolve, reject) => {
      const next = (at: number): void => {
        if (at >= bytes.length) {
          resolve();
          return;
        }
        const chunk = new GLib.Bytes(bytes.subarray(at, Math.min(bytes.length, at + 65536)));
        stdin.write_bytes_async(chunk, GLib.PRIORITY_DEFAULT, null, (_o, result) => {
          try {
            next(at + stdin.write_bytes_finish(result));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      };
      next(0);
    });
  }

  /** Ends its stdin. */
  closeInput(): void {
    this.#stdin?.close(null);
    this.#stdin = null;
  }

  async until(what: string, ready: () => boolean, timeoutMs = 30000): Promise<void> {
    await waitFor(
      what,
      () => {
        if (ready()) return true;
        if (this.status !== null)
          throw new Error(`porthole-console exited (${this.status}) before ${what}: ${this.stderr()}`);
        return false;
      },
      timeoutMs,
    );
  }

  /** Waits for it to exit; returns the status. */
  async exited(timeoutMs = 15000): Promise<number> {
    await waitFor("porthole-console to exit", () => this.status !== null, timeoutMs);
    return this.status ?? -1;
  }

  async stop(): Promise<void> {
    if (this.status !== null) return;
    this.proc.send_signal(15);
    try {
      await this.exited(5000);
    } catch {
      this.proc.force_exit();
      await this.exited(5000);
    }
  }
}

/** Gives the window titled `title` the X input focus, as a window manager would on a click. */
async function focusWindow(title: string): Promise<void> {
  await xdotool(["search", "--sync", "--name", `^${title}$`, "windowfocus", "--sync"]);
}

function samePicture(a: Picture | undefined, b: Picture | undefined): boolean {
  if (!a || !b) return false;
  return a.width === b.width && a.height === b.height && a.rgb.every((v, i) => v === b.rgb[i]);
}

/** Lets a spec send raw client messages on a real connection (what a broken client would). */
class RawSender implements Extension {
  #host: ExtensionHost | null = null;

  attach(host: ExtensionHost): void {
    this.#host = host;
  }

  detach(): void {
    this.#host = null;
  }

  /** An RFB Streams client message (spec §3): 255, 2, operation, stream id, payload. */
  streamMessage(op: number, id: number, payload: Uint8Array): void {
    if (!this.#host) throw new Error("not connected");
    const m = new Uint8Array(12 + payload.length);
    const v = new DataView(m.buffer);
    v.setUint8(0, 255);
    v.setUint8(1, 2);
    v.setUint16(2, op);
    v.setUint32(4, id);
    v.setUint32(8, payload.length);
    m.set(payload, 12);
    this.#host.send(m);
  }
}

/**
 * The gaps between a client's framebuffer updates, in ms. The client asks for the next
 * update as soon as one is complete, so each gap is how long a request waited for its
 * answer (the echo guest's animation changes the screen every 55 ms).
 */
class UpdateClock {
  readonly gaps: number[] = [];
  #last = 0;

  constructor(client: StreamClient) {
    this.#last = GLib.get_monotonic_time();
    client.onUpdate = (now) => {
      this.gaps.push((now - this.#last) / 1000);
      this.#last = now;
    };
  }

  /** Starts a new measurement from now. */
  restart(): void {
    this.gaps.length = 0;
    this.#last = GLib.get_monotonic_time();
  }

  /** The longest gap so far, counting the time since the last update. */
  longest(): number {
    return Math.max(0, ...this.gaps, (GLib.get_monotonic_time() - this.#last) / 1000);
  }

  describe(): string {
    const sorted = [...this.gaps].sort((a, b) => a - b);
    const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(0);
    return `${this.gaps.length} updates, gap median ${at(0.5)} ms, p95 ${at(0.95)} ms, longest ${this.longest().toFixed(0)} ms`;
  }
}

describe("PortholeSerialConsole and PortholeVncDisplay on one connection through porthole-gateway", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;
  let uri: string;
  let window: Gtk.Window;
  let display: PortholeVncDisplay;
  let console: PortholeSerialConsole;
  let list: PortholeStreamList;
  let title: string;
  let flood: Child;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir, "socket", { animate: true });
    flood = new Child(["gjs", "-m", programBundle("porthole-stream-device"), "flood", `${dir}/flood.sock`]);
    await flood.waitForLine("ready");
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gateway.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `serial0=${guest.serial},label="Serial port 1",kind=serial`,
        "--stream",
        `flood=unix:${dir}/flood.sock,kind=console,history=64K`,
      ],
      `${dir}/gateway.sock`,
      ["serial0: connected", "flood: connected"],
    );
    uri = `vnc+unix://${dir}/gateway.sock`;
    await guest.start();

    title = `porthole-serial-${GLib.random_int()}`;
    display = new PortholeVncDisplay();
    display.scaling = "one-to-one";
    console = new PortholeSerialConsole();
    console.set_size_request(-1, 240);
    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    box.append(display);
    box.append(console);
    window = new Gtk.Window({ title, default_width: 660, default_height: 680, child: box });
    window.present();
    list = new PortholeStreamList();
    display.open(parseServerAddress(uri), { extensions: [list.extension] });
    await waitFor("the connection", () => display.connected, 15000);
  });

  afterAll(async () => {
    console.bind(null);
    display.close();
    window.destroy();
    await gateway.stop();
    await flood.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  /** Renders the display widget every 300 ms until the returned function is called. */
  function sampleDisplay(pictures: Picture[]): () => Promise<void> {
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        await delay(300);
        pictures.push(renderWidget(display));
      }
    })();
    return async () => {
      sampling.on = false;
      await sampler;
    };
  }

  /** How many consecutive pictures differ. */
  function changes(pictures: readonly Picture[]): number {
    let n = 0;
    for (let i = 1; i < pictures.length; i++) if (!samePicture(pictures[i - 1], pictures[i])) n++;
    return n;
  }

  it("echoes keys typed with xdotool exactly while the display keeps updating", async () => {
    await waitFor("serial0 in the stream list", () => list.find("serial0") !== null);
    const stream = list.find("serial0");
    if (!stream) throw new Error("no serial0");
    const live: Uint8Array[] = [];
    const handler = stream.connect("data", (_s, bytes: GLib.Bytes, history: boolean) => {
      if (!history) live.push(bytes.toArray().slice());
    });
    const meter = new StreamClient(uri);
    try {
      console.bind(stream);
      // The history: the banner the guest printed when it started.
      await waitFor("the banner in the terminal", () => console.contents().includes(ECHO_BANNER.trimEnd()), 20000);
      expect(stream.can_write).toBeTrue();

      await focusWindow(title);
      console.terminal.grab_focus();
      await waitFor("keyboard focus in the terminal", () => console.terminal.has_focus);
      await meter.until("a first update on a second connection", () => meter.updates > 0);
      let before = renderWidget(display);
      await waitFor("the display widget's first picture", () => (before = renderWidget(display)).width > 0);
      const clock = new UpdateClock(meter);
      const typed = "Hello, World! 0123456789 (a+b)*c=d/e-f_g;h:i'j\"k<l>m?n[o]p{q}r|s\\t~u#v$w%x^y&z@";
      // Pictures of the display widget while typing: they must keep changing.
      const pictures: Picture[] = [before];
      const stopSampling = sampleDisplay(pictures);
      const expected = `${typed}\r`;
      const echoed = () => text(concat(live));
      try {
        await xdotool(["type", "--delay", "25", typed]);
        await xdotool(["key", "Return"]);
        await waitFor("the echo", () => echoed().length >= expected.length, 20000);
      } finally {
        await stopSampling();
      }
      expect(echoed()).toBe(expected);
      await waitFor("the echo in the terminal", () => console.contents().includes(typed), 10000);

      print(`# gateway-console: while typing, a second connection saw ${clock.describe()}`);
      const changed = changes(pictures);
      print(`# gateway-console: the display widget changed between ${changed} of ${pictures.length - 1} samples`);
      expect(display.remote_width).toBe(640);
      // The guest changes its top lines 18 times a second: most samples differ.
      expect(changed).toBeGreaterThanOrEqual(Math.max(2, Math.ceil((pictures.length - 1) / 2)));
      expect(clock.gaps.length).toBeGreaterThan(5);
      expect(clock.longest()).toBeLessThan(2000);
    } finally {
      stream.disconnect(handler);
      meter.close();
    }
  });

  it("stays responsive and keeps the display updating while a device floods the console", async () => {
    const stream = list.find("flood");
    if (!stream) throw new Error("no flood stream");
    let received = 0;
    const handler = stream.connect("data", (_s, bytes: GLib.Bytes) => {
      received += bytes.get_size();
    });
    // How late a 20 ms timer of the main loop runs: input and redraws wait as long.
    let last = GLib.get_monotonic_time();
    let worst = 0;
    const ticker = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20, () => {
      const now = GLib.get_monotonic_time();
      worst = Math.max(worst, (now - last) / 1000);
      last = now;
      return GLib.SOURCE_CONTINUE;
    });
    const pictures: Picture[] = [];
    try {
      console.bind(stream);
      await waitFor("the flood stream to open", () => stream.state === "open");
      expect(stream.write(bytesOf("T"))).toBe("accepted");
      const stopSampling = sampleDisplay(pictures);
      const started = GLib.get_monotonic_time();
      try {
        await delay(5000);
      } finally {
        await stopSampling();
      }
      const seconds = (GLib.get_monotonic_time() - started) / 1e6;
      const during = received;
      const worstDuring = worst;
      expect(stream.write(bytesOf("S"))).toBe("accepted");
      // The rest in flight reaches the terminal; then its last lines must follow each other.
      let seen = -1;
      await waitFor(
        "the flood to settle",
        () => {
          const settled = seen === received;
          seen = received;
          return settled;
        },
        20000,
      );
      const lines = console
        .contents()
        .split("\n")
        .filter((l) => /^\d{10} x{52}$/.test(l))
        .map((l) => Number(l.slice(0, 10)));
      const changed = changes(pictures);
      print(
        `# gateway-console: a flooded console took ${(during / MiB / seconds).toFixed(1)} MiB/s; ` +
          `main loop at most ${worstDuring.toFixed(0)} ms late; display changed in ${changed} of ${pictures.length - 1} samples`,
      );
      expect(during).toBeGreaterThan(256 * 1024);
      expect(worstDuring).toBeLessThan(1000);
      expect(changed).toBeGreaterThanOrEqual(Math.max(2, Math.ceil((pictures.length - 1) / 2)));
      expect(lines.length).toBeGreaterThan(100);
      const tail = lines.slice(-100);
      expect(tail.every((n, i) => i === 0 || n === (tail[i - 1] ?? 0) + 1))
        .withContext(`the last lines: ${tail.slice(0, 3).join(", ")} … ${tail.slice(-3).join(", ")}`)
        .toBeTrue();
      expect(console.status).toBe("");
    } finally {
      GLib.source_remove(ticker);
      stream.disconnect(handler);
      console.bind(null);
    }
  });
});

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("porthole-console through porthole-gateway to the QEMU echo guest", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;
  let uri: string;
  // A 1 KiB write window: input of a few KiB has to wait for credit on the way.
  const gatewayArgs = () => [
    "--listen",
    `unix:${dir}/gateway.sock`,
    "--vnc",
    `unix:${guest.vncSocket}`,
    "--stream",
    `serial0=${guest.serial},kind=serial`,
    "--write-window",
    "1024",
  ];

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir);
    gateway = await Gateway.start(gatewayArgs(), `${dir}/gateway.sock`, ["serial0: connected"]);
    uri = `vnc+unix://${dir}/gateway.sock`;
    await guest.start();
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("echoes stdin on stdout byte for byte, and exits 0 when stdin ends", async () => {
    // Every byte value, 16 times, in a scrambled order.
    const payload = randomBytes(4096, 6);
    for (let i = 0; i < 256; i++) payload[i * 16] = i;
    const c = new ConsolePipe(dir, ["--stream", "serial0", uri]);
    try {
      await c.write(payload);
      await c.until("the echo", () => c.length >= payload.length, 60000);
      expect(c.output()).toEqual(payload);
      c.closeInput();
      expect(await c.exited()).toBe(0);
      expect(c.stderr()).toBe("");
      expect(c.length).toBe(payload.length);
    } finally {
      await c.stop();
    }
  });

  it("sends everything it read before stdin ended, then exits", async () => {
    const watcher = new StreamClient(uri);
    const c = new ConsolePipe(dir, [uri]);
    try {
      await watcher.open(1, { history: false });
      // Several windows' worth: the console must wait for credit before it may exit.
      const lines = Array.from({ length: 128 }, (_, i) => `line ${i} of the drain test\r\n`).join("");
      await c.write(bytesOf(lines));
      c.closeInput();
      expect(await c.exited(30000)).toBe(0);
      // The guest echoed all of it, to every reader: here, the watcher.
      await watcher.until("the whole echo", () => watcher.data(1).length >= lines.length, 30000);
      expect(text(watcher.data(1))).toBe(lines);
    } finally {
      watcher.close();
      await c.stop();
    }
  });

  // Last in this group: it restarts the gateway.
  it("sees the end when the gateway stops; after a restart it connects again and the history holds only the new output", async () => {
    const client = new StreamClient(uri);
    const old = new ConsolePipe(dir, ["--history", uri]);
    try {
      await client.open(1, { history: true });
      await client.write(1, bytesOf("before the restart\r\n"));
      await client.until("the echo", () => text(client.data(1)).endsWith("before the restart\r\n"));
      // The console replays the history, so it shows the line too once attached.
      await old.until("the console's copy", () => text(old.output()).includes("before the restart\r\n"));

      expect(await gateway.stop()).toBe(0);
      await client.until("CLOSED reason 6", () => client.events.includes("closed 1 6"));
      await waitFor("the connection's end", () => client.failure !== null);
      expect(await old.exited()).toBe(1);
      expect(old.stderr()).toMatch(/^porthole-console: .*shutting down/);
    } finally {
      client.close();
      await old.stop();
    }

    gateway = await Gateway.start(gatewayArgs(), `${dir}/gateway.sock`, ["serial0: connected"]);
    const first = new StreamClient(uri);
    try {
      // The new gateway's ring holds what the device said since it started: nothing yet.
      await first.open(1, { history: true });
      expect(first.events).toContain("opened 1 history=0");
      await first.write(1, bytesOf("after the restart\r\n"));
      await first.until("the echo", () => text(first.data(1)) === "after the restart\r\n");
    } finally {
      first.close();
    }
    const again = new ConsolePipe(dir, ["--history", uri]);
    try {
      await again.until("the history", () => again.length >= "after the restart\r\n".length);
      await again.write(bytesOf("and again\r\n"));
      await again.until("the echo", () => text(again.output()).endsWith("and again\r\n"));
      expect(text(again.output())).toBe("after the restart\r\nand again\r\n");
      again.closeInput();
      expect(await again.exited()).toBe(0);
    } finally {
      await again.stop();
    }
  });
});

/**
 * Runs `input` through porthole-console (`consoleArgs`) and counts what comes back, all in
 * child processes: stdin stays open until all `size` bytes came back (porthole-console
 * exits on stdin's end once its input is sent, which would cut the echo short), the
 * console runs under `timeout` so that a stalled transfer still ends the pipeline.
 */
function consolePipeline(dir: string, input: string, size: number, consoleArgs: string[]): Child {
  const script = [
    "n=$1 input=$2 dir=$3; shift 3",
    '{ cat "$input"; while [ ! -e "$dir/received" ]; do sleep 0.1; done; } |',
    '  { timeout 280 "$@"; echo $? > "$dir/console-status"; } |',
    '  { head -c "$n" | sha256sum > "$dir/received.sha256"; touch "$dir/received"; wc -c > "$dir/extra"; }',
  ].join("\n");
  return new Child([
    "bash",
    "-c",
    script,
    "bash",
    String(size),
    input,
    dir,
    "gjs",
    "-m",
    programBundle("porthole-console"),
    ...consoleArgs,
  ]);
}

const fileText = (path: string) => text(GLib.file_get_contents(path)[1]).trim();

describe("porthole-gateway with fast local devices", () => {
  let dir: string;
  let guest: EchoGuest;
  let echo: Child;
  let flood: Child;
  let gateway: Gateway;
  let uri: string;

  beforeAll(async () => {
    dir = tempDir();
    // The display: changing 18 times a second, so that updates keep coming.
    guest = await startEchoGuest(dir, "socket", { animate: true });
    await guest.start();
    echo = await startEchoServer(`${dir}/echo.sock`);
    flood = new Child(["gjs", "-m", programBundle("porthole-stream-device"), "flood", `${dir}/flood.sock`]);
    await flood.waitForLine("ready");
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gw.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `echo=unix:${dir}/echo.sock,kind=channel,history=64K`,
        "--stream",
        `flood=unix:${dir}/flood.sock,kind=channel,history=64K`,
        "--write-window",
        "8192",
      ],
      `${dir}/gw.sock`,
      ["echo: connected", "flood: connected"],
    );
    uri = `vnc+unix://${dir}/gw.sock`;
  });

  afterAll(async () => {
    await gateway.stop();
    await flood.stop();
    await echo.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("carries 100 MiB from porthole-console's stdin through the echo device back to its stdout, byte-exact with 8 KiB windows", async () => {
    const size = 100 * MiB;
    const input = `${dir}/input.bin`;
    const made = await run(["sh", "-c", `head -c ${size} /dev/urandom > "$1" && sha256sum < "$1"`, "sh", input]);
    expect(made.status).toBe(0);
    const sent = text(made.stdout).split(" ")[0] ?? "";
    const started = GLib.get_monotonic_time();
    const pipeline = consolePipeline(dir, input, size, ["--stream", "echo", "--window", "8192", uri]);
    try {
      await pipeline.waitUntil("the pipeline to end", () => !pipeline.running, 300000);
    } finally {
      await pipeline.stop();
      GLib.unlink(input);
    }
    const seconds = (GLib.get_monotonic_time() - started) / 1e6;
    print(
      `# gateway-console: 100 MiB through porthole-console and the echo device with 8 KiB windows: ` +
        `${seconds.toFixed(1)} s, ${(size / MiB / seconds).toFixed(1)} MiB/s each way`,
    );
    expect(fileText(`${dir}/console-status`))
      .withContext(pipeline.logTail())
      .toBe("0");
    expect(fileText(`${dir}/received.sha256`).split(" ")[0]).toBe(sent);
    expect(fileText(`${dir}/extra`)).toBe("0");
  }, 320000);

  it("keeps answering framebuffer update requests while a device floods the stream", async () => {
    const client = new StreamClient(uri);
    try {
      await client.open(2, { history: false });
      await client.until("updates", () => client.updates > 2);
      const clock = new UpdateClock(client);
      await delay(3000);
      const idle = clock.describe();

      // The flood: a counter (byte n is n % 251), checked as it arrives.
      client.keep = false;
      let got = 0;
      let wrong = -1;
      client.onData((id, bytes) => {
        if (id !== 2) return;
        for (let i = 0; i < bytes.length; i++) if (bytes[i] !== (got + i) % 251 && wrong < 0) wrong = got + i;
        got += bytes.length;
      });
      clock.restart();
      await client.write(2, bytesOf("F"));
      const started = GLib.get_monotonic_time();
      await delay(6000);
      const flooding = clock.describe();
      const longest = clock.longest();
      const updates = clock.gaps.length;
      const seconds = (GLib.get_monotonic_time() - started) / 1e6;
      const received = got;
      await client.write(2, bytesOf("S"));
      print(`# gateway-console: idle: ${idle}`);
      print(
        `# gateway-console: flooding (${(received / MiB / seconds).toFixed(1)} MiB/s of stream output): ${flooding}`,
      );
      expect(received).toBeGreaterThan(MiB);
      expect(wrong).withContext("the first byte out of sequence").toBe(-1);
      expect(longest).toBeLessThan(2000);
      expect(updates).toBeGreaterThan(10);
      expect(client.failure).toBeNull();
    } finally {
      client.close();
    }
  }, 60000);
});

describe("two viewers through porthole-gateway, one logged in read-only", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;
  let uri: string;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir);
    GLib.file_set_contents(`${dir}/password`, "sesame\n");
    GLib.file_set_contents(`${dir}/readonly`, "peekaboo\n");
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gw.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `serial0=${guest.serial},kind=serial`,
        "--password-file",
        `${dir}/password`,
        "--readonly-password-file",
        `${dir}/readonly`,
      ],
      `${dir}/gw.sock`,
      ["serial0: connected"],
    );
    uri = `vnc+unix://${dir}/gw.sock`;
    await guest.start();
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("shows both the stream's output, refuses the read-only one's writes and echoes the writer's", async () => {
    const raw = new RawSender();
    const writer = new StreamClient(uri, "sesame");
    const reader = new StreamClient(uri, "peekaboo", [raw]);
    // A client that opens before the guest has booted sees its banner live (not as history).
    const live = (c: StreamClient) => {
      const t = text(c.data(1));
      return t.startsWith(ECHO_BANNER) ? t.slice(ECHO_BANNER.length) : t;
    };
    try {
      await writer.open(1, { history: false });
      // The read-only login's listing says the stream is not writable, so its client does
      // not even ask for write access (a write OPEN is DENIED: gateway-relay.spec.ts) …
      await reader.until("the stream list", () => reader.streams.listComplete);
      expect(() => reader.streams.open(1, { write: true, history: false })).toThrowError(/not writable/);
      // … and a read-only open gets no write credit.
      await reader.open(1, { write: false, history: false });
      expect(reader.streams.writeCredit(1)).toBe(0);

      await writer.write(1, bytesOf("from the writer\r\n"));
      await writer
        .until("the writer's echo", () => live(writer) === "from the writer\r\n")
        .catch((e: unknown) => {
          throw new Error(`${String(e)}: the writer got ${JSON.stringify(live(writer))}`);
        });
      await reader
        .until("the reader's copy of the echo", () => live(reader) === "from the writer\r\n")
        .catch((e: unknown) => {
          throw new Error(`${String(e)}: the reader got ${JSON.stringify(live(reader))}`);
        });

      // DATA on the read-only open: CLOSED reason 4 (spec §7), and none of it reaches the guest.
      raw.streamMessage(2, 1, bytesOf("from the read-only viewer\r\n"));
      await reader.until("CLOSED reason 4", () => reader.events.includes("closed 1 4"));
      await writer.write(1, bytesOf("marker\r\n"));
      await writer.until("the marker", () => live(writer).endsWith("marker\r\n"));
      expect(live(writer)).toBe("from the writer\r\nmarker\r\n");
      expect(writer.failure).toBeNull();
      expect(reader.failure).toBeNull();
    } finally {
      writer.close();
      reader.close();
    }
    expect(gateway.log()).toMatch(/logged in \(VNC password, read-only/);
  });

  it("lets the read-only login follow the stream with porthole-console", async () => {
    const writer = new StreamClient(uri, "sesame");
    try {
      await writer.open(1, { history: false });
      await writer.write(1, bytesOf("for the follower\r\n"));
      await writer.until("the echo", () => text(writer.data(1)).endsWith("for the follower\r\n"));
    } finally {
      writer.close();
    }
    // With --history it gets the line from the gateway's ring.
    const c = new ConsolePipe(dir, ["--history", "--password-file", `${dir}/readonly`, uri]);
    try {
      await c.until("the output", () => text(c.output()).includes("for the follower\r\n"));
    } finally {
      await c.stop();
    }
  });
});

describe("porthole-gateway with a read-only viewer's input", () => {
  let dir: string;
  let guest: ScancodeGuest;
  let gateway: Gateway;
  let uri: string;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startScancodeGuest(dir);
    GLib.file_set_contents(`${dir}/password`, "sesame\n");
    GLib.file_set_contents(`${dir}/readonly`, "peekaboo\n");
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gw.sock`,
        "--vnc",
        `unix:${dir}/vnc.sock`,
        "--password-file",
        `${dir}/password`,
        "--readonly-password-file",
        `${dir}/readonly`,
      ],
      `${dir}/gw.sock`,
    );
    uri = `vnc+unix://${dir}/gw.sock`;
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("keeps the read-only viewer's keys and pointer from the guest and passes the writer's", async () => {
    const acked = { writer: false, reader: false };
    const writerInput = new QemuInputExtension({ extendedKeyEventsEnabled: () => (acked.writer = true) });
    const readerInput = new QemuInputExtension({ extendedKeyEventsEnabled: () => (acked.reader = true) });
    const writer = new StreamClient(uri, "sesame", [writerInput]);
    const reader = new StreamClient(uri, "peekaboo", [readerInput]);
    const [a] = parseKeyCombo("a");
    if (!a) throw new Error("no key a");
    try {
      await reader.until("the QEMU extended key event ack", () => acked.reader);
      await writer.until("the QEMU extended key event ack", () => acked.writer);
      expect(await guest.collect(200)).toEqual([]);
      // Both kinds of key event, and the pointer, from the read-only login.
      expect(readerInput.keyEvent(true, a.keysym, evdevToQnum(a.evdev))).toBeTrue();
      expect(readerInput.keyEvent(false, a.keysym, evdevToQnum(a.evdev))).toBeTrue();
      expect(reader.connection.client.sendKey(true, a.keysym)).toBeTrue();
      expect(reader.connection.client.sendKey(false, a.keysym)).toBeTrue();
      expect(reader.connection.client.sendPointer(10, 10, 1)).toBeTrue();
      expect(reader.connection.client.sendPointer(10, 10, 0)).toBeTrue();
      expect(await guest.collect(1000)).toEqual([]);
      // The writer's key arrives, and nothing of the reader's after it.
      expect(writerInput.keyEvent(true, a.keysym, evdevToQnum(a.evdev))).toBeTrue();
      expect(writerInput.keyEvent(false, a.keysym, evdevToQnum(a.evdev))).toBeTrue();
      expect(await guest.readScancodes(2)).toEqual([0x1e, 0x9e]);
      expect(await guest.collect(300)).toEqual([]);
      expect(reader.failure).toBeNull();
      expect(writer.failure).toBeNull();
    } finally {
      writer.close();
      reader.close();
    }
  });
});
