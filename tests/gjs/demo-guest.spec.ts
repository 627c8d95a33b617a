// The seed's test plan, automated on the demo guest (build-aux/build-guest.mjs: Debian's
// kernel, busybox, ALSA) that `npm start` shows, behind porthole-gateway, through the
// viewer's own window (PortholeWindow: display, a tab per stream, audio):
// 1. "Deploy a guest, ensure a getty runs on ttyS0, open the console remotely, use the
//    serial console": keys typed with xdotool into the window's SerialConsole log in at
//    the ttyS0 getty and run a command; the same through porthole-console in a pipe.
// 2. "Play an audio file inside the guest, listen for audio on the local desktop": a
//    command over the serial console plays the guest's WAV; the window's AudioPlayer plays
//    it into a headless PulseAudio null sink, whose recording shows the tone.
// 3. The display shows the guest's framebuffer console: the widget's picture equals QEMU's
//    own `screendump` (asked through the monitor stream).

import Adw from "gi://Adw";
import GdkPixbuf from "gi://GdkPixbuf";
import Gio from "gi://Gio";
import GLib from "gi://GLib";

import type { ViewerOptions } from "../../src/app/options.js";
import { PortholeWindow } from "../../src/app/window.js";
import { viewerSettings } from "../../src/platform/config.js";
import { parseServerAddress } from "../../src/protocol/address.js";
import { type DemoGuest, type GuestImage, guestImage, startDemoGuest } from "../../src/tools/demo-guest.js";
import type { PortholeSerialConsole } from "../../src/widgets/serial-console.js";
import type { PortholeStream } from "../../src/widgets/stream.js";
import { channelOf, findSegments, seconds, slice, steadyPart, zeroCrossingFrequency } from "./audio-analysis.js";
import { differingPixels, parsePpm, pictureFromPixbuf } from "./pictures.js";
import { ChildProcess } from "../../src/tools/child-process.js";
import { delay, fixturePath, programBundle, run, tempDir, waitFor, xdotool } from "./processes.js";
import { type PulseServer, startPulse } from "./pulse.js";

const TITLE = "Porthole demo guest under test";
const RATE = 48000;

/** The cached guest (built on first use, about 20 s; then a second). */
async function buildGuest(): Promise<string> {
  const script = Gio.File.new_for_path(fixturePath("../../build-aux/build-guest.mjs")).get_path() ?? "";
  const r = await run(["node", script, "--quiet"]);
  if (r.status !== 0) throw new Error(`build-guest.mjs failed: ${r.stderr}`);
  return new TextDecoder().decode(r.stdout).trim();
}

/** Types a line into the focused window: the text, then Return. */
async function typeLine(text: string): Promise<void> {
  if (text !== "") await xdotool(["type", "--delay", "15", text]);
  await xdotool(["key", "Return"]);
}

function streamNamed(window: PortholeWindow, name: string): PortholeStream {
  const model = window.streams.model;
  for (let i = 0; i < model.get_n_items(); i++) {
    const s = model.get_item(i) as PortholeStream | null;
    if (s?.name === name) return s;
  }
  throw new Error(`no stream ${name}`);
}

describe("the seed's test plan on the demo guest", () => {
  let dir: string;
  let pulse: PulseServer;
  let restoreEnvironment: () => void = () => undefined;
  let image: GuestImage;
  let guest: DemoGuest;
  let app: Adw.Application;
  let window: PortholeWindow;
  let serial: PortholeSerialConsole;

  /** The serial console's text, once `pattern` shows in it after `from` characters. */
  async function serialShows(pattern: RegExp, from: number, what: string, timeoutMs = 30000): Promise<string> {
    let text = "";
    await waitFor(
      what,
      () => {
        text = serial.contents().slice(from);
        return pattern.test(text);
      },
      timeoutMs,
    ).catch((e: unknown) => {
      const state = `stream ${serial.stream?.state ?? "unbound"}`;
      throw new Error(`${String(e)}; ${state}; the console shows:\n${serial.contents().slice(-600)}`);
    });
    return text;
  }

  beforeAll(async () => {
    dir = tempDir();
    image = guestImage(await buildGuest());
    GLib.mkdir_with_parents(`${dir}/pulse`, 0o700);
    pulse = await startPulse(`${dir}/pulse`);
    restoreEnvironment = pulse.useInThisProcess();
    guest = await startDemoGuest(image, `${dir}/guest`);
    app = new Adw.Application({ application_id: "dev.porthole.DemoTest", flags: Gio.ApplicationFlags.NON_UNIQUE });
    app.register(null);
    window = new PortholeWindow(app, viewerSettings());
    window.audio.sink = `pulsesink server=${pulse.server} device=${pulse.sink}`;
    window.set_default_size(1000, 760);
    window.present();
    const options: ViewerOptions = {
      fullScreen: false,
      title: TITLE,
      readOnly: false,
      releaseCombo: "ctrl+alt",
      scaling: "one-to-one",
      caFile: null,
    };
    window.openServer(parseServerAddress(guest.uri), options);
    await waitFor("the serial0 tab", () => window.consoleFor("serial0") !== null, 30000);
    const found = window.consoleFor("serial0");
    if (!found) throw new Error("no serial0 console");
    serial = found;
    window.showConsole(serial);
    // The guest boots while the gateway keeps its output: the login prompt is in the history.
    await serialShows(/porthole-demo login:\s*$/, 0, "the ttyS0 getty's login prompt", 90000);
  }, 180000);

  afterAll(async () => {
    window.destroy();
    await guest.stop();
    restoreEnvironment();
    await pulse.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("lists every stream as a tab and logs in at the ttyS0 getty with keys typed into the SerialConsole", async () => {
    expect(["serial0", "console0", "monitor"].map((n) => window.consoleFor(n) !== null)).toEqual([true, true, true]);
    window.showConsole(serial);
    await xdotool(["search", "--sync", "--name", `^${TITLE}$`, "windowfocus", "--sync"]);
    let at = serial.contents().length;
    await typeLine("root");
    await serialShows(/Password:\s*$/, at, "the password prompt");
    at = serial.contents().length;
    await typeLine(image.rootPassword);
    await serialShows(/porthole-demo:~# /, at, "the root shell's prompt");
    at = serial.contents().length;
    await typeLine("uname -sr; echo answer-$((6 * 7))");
    const out = await serialShows(/answer-42\s/, at, "the command's output");
    expect(out).toMatch(/Linux 6\.\d+\.\d+-\d+-amd64/);
  }, 120000);

  it("plays the guest's WAV, started over the serial console, into the sound server: the tone's pitch and length", async () => {
    const recording = pulse.startRecording();
    // parec can take over half a second to start here, longer than the guest takes to
    // start playing: the tone's beginning would be missing.
    await recording.started();
    const at = serial.contents().length;
    await typeLine("play-tone && echo played-$((1 + 1))");
    await serialShows(/played-2\s/, at, "play-tone to finish", 60000);
    // What the guest played is still on its way through VNC, the player and the server.
    await delay(1500);
    const left = channelOf(await recording.stop(), 2);
    const tones = findSegments(left, RATE, 200);
    const a = window.audio;
    expect(tones.length)
      .withContext(
        `tone segments (player ${a.state}, enabled ${a.enabled}, extension ${a.extension.available}/${a.extension.enabled}, ` +
          `buffered ${a.buffered_ms} ms, underruns ${a.underruns})`,
      )
      .toBeGreaterThan(0);
    const longest = tones.reduce((a, b) => (seconds(b, RATE) > seconds(a, RATE) ? b : a));
    expect(Math.abs(seconds(longest, RATE) - image.tone.seconds) / image.tone.seconds).toBeLessThan(0.1);
    const pitch = zeroCrossingFrequency(slice(left, steadyPart(longest, RATE, 100)), RATE);
    expect(Math.abs(pitch - image.tone.hz) / image.tone.hz)
      .withContext(`${pitch} Hz`)
      .toBeLessThan(0.02);
    expect(window.audio.underruns).toBe(0);
  }, 120000);

  it("shows the guest's framebuffer console exactly as QEMU's screendump does", async () => {
    // A steady picture: no blinking cursor on the framebuffer console.
    const at = serial.contents().length;
    await typeLine("echo 0 > /sys/class/graphics/fbcon/cursor_blink; echo blink-off");
    await serialShows(/blink-off\s/, at, "the cursor to stop blinking");
    await delay(1000);
    const ppm = `${dir}/screendump.ppm`;
    streamNamed(window, "monitor").write(new TextEncoder().encode(`screendump ${ppm}\n`));
    await waitFor("QEMU's screendump", () => GLib.file_test(ppm, GLib.FileTest.EXISTS), 15000);
    await delay(500);
    const reference = parsePpm(GLib.file_get_contents(ppm)[1]);
    expect([reference.width, reference.height]).toEqual([800, 600]);
    let differing = -1;
    await waitFor(
      "the display to equal the screendump",
      () => {
        const texture = window.vncDisplay.screenshot();
        if (!texture) return false;
        const loader = new GdkPixbuf.PixbufLoader();
        loader.write_bytes(texture.save_to_png_bytes());
        loader.close();
        const pixbuf = loader.get_pixbuf();
        if (!pixbuf) return false;
        differing = differingPixels(pictureFromPixbuf(pixbuf), reference);
        return differing === 0;
      },
      10000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)} (last: ${differing} pixels differ)`);
    });
    // The framebuffer console shows the guest's tty1 getty: text, not an empty screen.
    expect(new Set(reference.rgb).size).toBeGreaterThan(1);
  }, 60000);

  it("logs in at the same getty through porthole-console in a pipe", async () => {
    // Log the viewer's session out, so that the ttyS0 getty asks again.
    await typeLine("exit");
    await serialShows(/porthole-demo login:\s*$/, 0, "the login prompt again");
    const log = `${dir}/console.log`;
    const console = new ChildProcess(
      ["gjs", "-m", programBundle("porthole-console"), "--stream", "serial0", guest.uri],
      {
        log,
        stdinPipe: true,
      },
    );
    const output = () => new TextDecoder().decode(GLib.file_get_contents(log)[1]);
    try {
      console.writeLine("");
      await waitFor("a login prompt in the pipe", () => output().endsWith("login: "), 30000);
      console.writeLine("root");
      await waitFor("the password prompt in the pipe", () => output().endsWith("Password: "), 30000);
      console.writeLine(image.rootPassword);
      await waitFor("the shell in the pipe", () => output().includes("porthole-demo:~# "), 30000);
      console.writeLine("echo piped-$((40 + 2)); exit");
      await waitFor("the command's output in the pipe", () => /piped-42\s/.test(output()), 30000);
    } finally {
      await console.stop();
    }
    expect(output()).toMatch(/piped-42/);
  }, 120000);
});
