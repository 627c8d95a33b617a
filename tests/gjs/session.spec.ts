// PortholeSession end to end, with real parts only: porthole-gateway in front of the QEMU
// echo guest (with an audio backend, so QEMU offers VNC audio) and its COM1 as serial0.
// The session's display shows the guest exactly as QEMU's screendump does, its stream list
// fills, a console from consoleFor("serial0") echoes what is typed into it, the audio
// player reports what the server offers (available here, unavailable on a TigerVNC Xvnc,
// which has no QEMU audio), the console follows serial0 across a reconnection, and close()
// ends everything cleanly. Then the example VM manager (examples/vm-manager) runs as a
// child process on the suite's X display against the same gateway: its window appears,
// connects and lists the console, and SIGTERM closes its session cleanly.

import Gio from "gi://Gio";
import GdkPixbuf from "gi://GdkPixbuf";
import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { parseServerAddress } from "../../src/protocol/address.js";
import type { PortholeSerialConsole } from "../../src/widgets/serial-console.js";
import { PortholeSession } from "../../src/widgets/session.js";
import { ECHO_BANNER, type EchoGuest, startEchoGuest } from "./echo-guest.js";
import { Gateway, text } from "./gateway-harness.js";
import { differingPixels, parsePpm, type Picture, pictureFromPixbuf } from "./pictures.js";
import { type Child, delay, freeDisplay, startXvnc, tempDir, waitFor, xdotool } from "./processes.js";
import type { Qmp } from "./qemu.js";

async function screendump(qmp: Qmp, path: string): Promise<Picture> {
  await qmp.execute("screendump", { filename: path });
  return parsePpm(GLib.file_get_contents(path)[1]);
}

/** Waits for the guest's picture (mode 13h, many colours): it never changes after that. */
async function waitForPicture(qmp: Qmp, dir: string): Promise<Picture> {
  const deadline = GLib.get_monotonic_time() + 60e6;
  for (;;) {
    const now = await screendump(qmp, `${dir}/wait.ppm`);
    if (now.width === 640 && new Set(now.rgb).size > 100) return now;
    if (GLib.get_monotonic_time() > deadline) throw new Error("the guest did not paint its screen");
    await delay(250);
  }
}

/** What the session's display holds, as pixels. */
function displayPicture(session: PortholeSession): Picture | null {
  const texture = session.display.screenshot();
  if (!texture) return null;
  const loader = new GdkPixbuf.PixbufLoader();
  loader.write_bytes(texture.save_to_png_bytes());
  loader.close();
  const pixbuf = loader.get_pixbuf();
  return pixbuf ? pictureFromPixbuf(pixbuf) : null;
}

/** A property read through GObject (get_property), not the JS accessor. */
function gobjectProperty(object: GObject.Object, name: string, type: GObject.GType): unknown {
  const value = new GObject.Value();
  value.init(type);
  object.get_property(name, value);
  return type === GObject.TYPE_BOOLEAN ? value.get_boolean() : value.get_object();
}

/** The example's window title ends with this (after the machine's name). */
const WINDOW_TITLE = "Porthole VM Manager$";

/** The example's build-tree bundle (meson passes the directory in PORTHOLE_EXAMPLES). */
function exampleBundle(): string {
  const dir = GLib.getenv("PORTHOLE_EXAMPLES");
  if (!dir) throw new Error("PORTHOLE_EXAMPLES is not set");
  return `${dir}/vm-manager/porthole-vm-manager.js`;
}

describe("PortholeSession through porthole-gateway with the QEMU echo guest", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;
  let uri: string;
  let reference: Picture;
  let session: PortholeSession;
  let window: Gtk.Window;
  let box: Gtk.Box;
  /** The session's signals, in order, as text. */
  const events: string[] = [];
  let console: PortholeSerialConsole | null = null;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir, "socket", { audio: true });
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gateway.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `serial0=${guest.serial},label="Serial port 1",kind=serial`,
      ],
      `${dir}/gateway.sock`,
      ["serial0: connected"],
    );
    uri = `vnc+unix://${dir}/gateway.sock`;
    await guest.start();
    reference = await waitForPicture(guest.qmp, dir);

    session = new PortholeSession();
    // No sound server in the suite: nothing is played (the guest has no sound card), and a
    // sink that needs none keeps it that way should anything arrive.
    session.audio.sink = "fakesink";
    session.connect("connected", () => events.push("connected"));
    session.connect("disconnected", (_s, reason: string, clean: boolean) => {
      events.push(`disconnected ${clean ? "clean" : "unclean"}: ${reason}`);
    });
    session.connect("auth-credential", () => events.push("auth-credential"));
    session.connect("error", (_s, message: string) => events.push(`error: ${message}`));
    session.display.scaling = "one-to-one";
    box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    box.append(session.display);
    window = new Gtk.Window({ title: `porthole-session-${GLib.random_int()}`, child: box });
    window.set_default_size(660, 700);
    window.present();
  });

  afterAll(async () => {
    session.close();
    window.destroy();
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("opens the connection with its parts as read-only properties", async () => {
    expect(gobjectProperty(session, "display", GObject.Object.$gtype)).toBe(session.display);
    expect(gobjectProperty(session, "streams", GObject.Object.$gtype)).toBe(session.streams);
    expect(gobjectProperty(session, "audio", GObject.Object.$gtype)).toBe(session.audio);
    expect(session.connected).toBeFalse();
    expect(session.address).toBe("");
    let notified = 0;
    const handler = session.connect("notify::connected", () => notified++);
    try {
      session.open(uri);
      expect(session.address).toBe(uri);
      await waitFor("the connection", () => session.connected, 15000);
    } finally {
      session.disconnect(handler);
    }
    expect(events).toEqual(["connected"]);
    expect(notified).toBe(1);
    expect(gobjectProperty(session, "connected", GObject.TYPE_BOOLEAN)).toBeTrue();
  });

  it("shows the guest exactly as QEMU's screendump does", async () => {
    let differing = -1;
    await waitFor(
      "the display to equal the screendump",
      () => {
        const picture = displayPicture(session);
        if (!picture) return false;
        differing = differingPixels(picture, reference);
        return differing === 0;
      },
      15000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)} (last: ${differing} pixels differ)`);
    });
    expect([session.display.remote_width, session.display.remote_height]).toEqual([reference.width, reference.height]);
  });

  it("fills the stream list and reports the server's audio", async () => {
    await waitFor("serial0 in the stream list", () => session.streams.find("serial0") !== null, 15000);
    expect(session.streams.available).toBeTrue();
    expect(session.streams.model.get_n_items()).toBe(1);
    const serial = session.streams.find("serial0");
    expect(serial?.label).toBe("Serial port 1");
    expect(serial?.kind).toBe("serial");
    expect(serial?.writable).toBeTrue();
    // QEMU has an audio backend: the player asked for audio and waits for the guest's sound.
    await waitFor("audio to be available", () => session.audio.state !== "unavailable", 10000);
    expect(session.audio.state).toBe("idle");
  });

  it("gives a console bound to serial0 that echoes what is typed into it", async () => {
    expect(session.consoleFor("no-such-stream")).toBeNull();
    console = session.consoleFor("serial0");
    if (!console) throw new Error("no console for serial0");
    expect(session.consoleFor("serial0")).toBe(console);
    expect(console.stream).toBe(session.streams.find("serial0"));
    console.set_size_request(-1, 200);
    box.append(console);
    const shown = console;
    // The history: the banner the guest printed when it started.
    await waitFor("the banner in the terminal", () => shown.contents().includes(ECHO_BANNER.trimEnd()), 20000);
    await waitFor("the stream to open for writing", () => shown.stream?.can_write === true);
    // As if typed: VTE hands it to the console on `commit`, which writes it to the stream.
    shown.terminal.feed_child(new TextEncoder().encode("porthole session echo"));
    await waitFor("the echo in the terminal", () => shown.contents().includes("porthole session echo"), 10000);
  });

  it("follows the server: no audio and no streams on Xvnc, then serial0 again on the gateway", async () => {
    const shown = console;
    if (!shown) throw new Error("the previous spec made no console");
    const socket = `${dir}/xvnc.sock`;
    const xvnc: Child = startXvnc(freeDisplay(), { width: 320, height: 200 }, { unix: socket }, [
      "-SecurityTypes",
      "None",
    ]);
    try {
      await xvnc.waitUntil("its socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
      events.length = 0;
      // open() replaces the current connection; an address object works as well as text.
      session.open(parseServerAddress(`vnc+unix://${socket}`));
      await waitFor("the connection to Xvnc", () => session.connected && session.display.remote_width === 320, 15000);
      expect(events).toEqual(["disconnected clean: the connection was closed", "connected"]);
      // TigerVNC offers neither QEMU audio nor RFB Streams.
      await delay(500);
      expect(session.audio.state).toBe("unavailable");
      expect(session.streams.available).toBeFalse();
      expect(session.streams.model.get_n_items()).toBe(0);
      expect(shown.stream?.state).toBe("removed");

      events.length = 0;
      session.open(uri);
      await waitFor("the gateway again", () => session.connected && session.streams.find("serial0") !== null, 15000);
      // The same console widget, bound to the new connection's serial0.
      const serial = session.streams.find("serial0");
      expect(session.consoleFor("serial0")).toBe(shown);
      await waitFor("the console to rebind", () => shown.stream === serial && serial?.state === "open", 10000);
      shown.terminal.feed_child(new TextEncoder().encode("after reconnecting"));
      await waitFor("the new echo in the terminal", () => shown.contents().includes("after reconnecting"), 10000);
      await waitFor("audio to be available again", () => session.audio.state === "idle", 10000);
    } finally {
      await xvnc.stop();
    }
  });

  it("runs the example VM manager in its own window against the same gateway", async () => {
    const out = `${dir}/vm-manager.out`;
    const err = `${dir}/vm-manager.err`;
    const logins = () => gateway.log().match(/logged in/g)?.length ?? 0;
    const loginsBefore = logins();
    const launcher = new Gio.SubprocessLauncher({ flags: Gio.SubprocessFlags.NONE });
    launcher.set_stdout_file_path(out);
    launcher.set_stderr_file_path(err);
    const proc = launcher.spawnv(["gjs", "-m", exampleBundle(), uri]);
    // Set by the wait below (an object: TypeScript would narrow a plain variable to null).
    const exit: { status: number | null } = { status: null };
    proc.wait_async(null, (_p, result) => {
      try {
        proc.wait_finish(result);
      } catch {
        // The status below says what happened.
      }
      exit.status = proc.get_if_exited() ? proc.get_exit_status() : 128 + proc.get_term_sig();
    });
    const read = (path: string) => {
      try {
        return text(GLib.file_get_contents(path)[1]);
      } catch {
        return "";
      }
    };
    const lines = () => read(out).split("\n");
    const until = async (what: string, ready: () => boolean, timeoutMs = 20000) => {
      await waitFor(
        what,
        () => {
          if (ready()) return true;
          if (exit.status !== null) throw new Error(`the example exited (${exit.status}) before ${what}: ${read(err)}`);
          return false;
        },
        timeoutMs,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\nstdout:\n${read(out)}\nstderr:\n${read(err)}`);
      });
    };
    try {
      await until("the example to connect", () => lines().some((l) => /^connected: .* 640x400$/.test(l)));
      await until("serial0 in its sidebar", () => lines().includes("console: serial0 (Serial port 1, serial)"));
      await until("its audio to be available", () => lines().includes("audio: idle"));
      expect(lines().indexOf("audio: unavailable")).toBeGreaterThanOrEqual(0);
      expect(lines().indexOf("audio: unavailable")).toBeLessThan(lines().indexOf("audio: idle"));
      expect(lines()).toContain(`connecting ${uri}`);
      // Its window is on the suite's X display, titled with the machine's name.
      const search = await xdotool(["search", "--sync", "--name", `^QEMU .+ ${WINDOW_TITLE}`]);
      expect(text(search.stdout).trim()).not.toBe("");
      // The gateway saw it log in as a viewer of its own.
      expect(logins()).toBe(loginsBefore + 1);

      // Its console of serial0 works: shown with a click on its row, what is typed into it
      // reaches the guest, whose echo every viewer with serial0 open sees, this one too.
      const shown = console;
      if (!shown) throw new Error("an earlier spec made no console");
      await xdotool(["search", "--sync", "--name", WINDOW_TITLE, "windowfocus", "--sync"]);
      await xdotool(["search", "--name", WINDOW_TITLE, "mousemove", "--window", "%1", "100", "135", "click", "1"]);
      await until("its serial console to show", () => lines().includes("showing: serial0"));
      await xdotool(["type", "--delay", "25", "typed in the VM manager"]);
      await waitFor("the echo in this process's console", () => shown.contents().includes("typed in the VM manager"));

      proc.send_signal(15);
      await waitFor("the example to exit", () => exit.status !== null, 10000);
      expect(exit.status).withContext(read(err)).toBe(0);
      expect(lines()).toContain("disconnected (clean): the connection was closed");
      expect(read(err)).not.toMatch(/CRITICAL|TypeError|ReferenceError/);
      for (const line of lines()) if (line !== "") print(`# vm-manager: ${line}`);
    } finally {
      if (exit.status === null) proc.force_exit();
    }
  });

  it("closes everything cleanly", async () => {
    const departures = () => gateway.log().match(/client \d+: disconnected/g)?.length ?? 0;
    const before = departures();
    events.length = 0;
    session.close();
    expect(events).toEqual(["disconnected clean: the connection was closed"]);
    expect(session.connected).toBeFalse();
    expect(session.lastError).toBeNull();
    expect(session.audio.state).toBe("unavailable");
    expect(session.streams.model.get_n_items()).toBe(0);
    // A second close() has nothing left to end.
    session.close();
    expect(events.length).toBe(1);
    await waitFor("the gateway to see the viewer go", () => departures() > before, 10000);
  });
});
