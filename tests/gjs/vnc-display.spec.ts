// PortholeVncDisplay against a real TigerVNC Xvnc, in a real GTK window on the suite's
// Xvfb: the picture it draws (1:1 and fitted), keys typed with xdotool arriving as text in
// an entry on the server (Xvnc has no QEMU extended key events: the keysym path), the
// clipboard both ways, and resize-remote.

import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { parseServerAddress } from "../../src/protocol/address.js";
import { PortholeVncDisplay } from "../../src/widgets/vnc-display.js";
import { differingPixels, xwdRoot } from "./pictures.js";
import {
  Child,
  delay,
  fixturePath,
  freeDisplay,
  freePort,
  run,
  startXvnc,
  tempDir,
  waitFor,
  xdotool,
} from "./processes.js";
import { meanDifference, renderWidget, shrink } from "./render.js";
import { type ScancodeGuest, startScancodeGuest } from "./scancode-guest.js";

const WIDTH = 320;
const HEIGHT = 200;

/** The suite's own X display (run-gjs.mjs starts an Xvfb), where the viewer window lives. */
function localDisplay(): string {
  const d = GLib.getenv("DISPLAY");
  if (!d) throw new Error("no DISPLAY");
  return d;
}

/** Gives `window` the X input focus, as a window manager would on a click. */
async function focusWindow(title: string): Promise<void> {
  await xdotool(["search", "--sync", "--name", `^${title}$`, "windowfocus", "--sync"], localDisplay());
}

async function windowId(title: string): Promise<number> {
  const r = await xdotool(["search", "--sync", "--name", `^${title}$`], localDisplay());
  const id = Number(new TextDecoder().decode(r.stdout).trim().split("\n")[0]);
  if (!Number.isInteger(id)) throw new Error(`no window “${title}”: ${r.stderr}`);
  return id;
}

/**
 * Types with xdotool into the viewer window, and with typeText(), and checks what an
 * entry on the server's X display received: shifted letters, punctuation, a space, and
 * BackSpace (a key-up must follow each key-down or the server would auto-repeat).
 */
async function typingRoundTrip(
  serverDisplay: number,
  display: PortholeVncDisplay,
  title: string,
  scancodes: boolean,
): Promise<void> {
  const entry = new Child(["gjs", "-m", fixturePath("x11-entry.js")], { DISPLAY: `:${serverDisplay}` });
  try {
    await entry.waitForLine("ready");
    await xdotool(["search", "--sync", "--name", "^porthole-entry$", "windowfocus", "--sync"], `:${serverDisplay}`);
    expect(display.scancodes).toBe(scancodes);
    await focusWindow(title);
    display.grab_focus();
    await waitFor("keyboard focus", () => display.has_focus);
    await xdotool(["type", "--delay", "30", "Hello, World!"]);
    await entry.waitForLine('text:"Hello, World!"');
    expect(display.typeText(" ok?")).toBe(0);
    await entry.waitForLine('text:"Hello, World! ok?"');
    await xdotool(["key", "BackSpace"]);
    await entry.waitForLine('text:"Hello, World! ok"');
  } finally {
    await entry.stop();
  }
}

/** Text on an X display's CLIPBOARD selection, read with xclip. */
async function clipboardOn(display: string): Promise<string> {
  const r = await run(["xclip", "-o", "-selection", "clipboard"], { DISPLAY: display });
  return r.status === 0 ? new TextDecoder().decode(r.stdout) : "";
}

/** Makes an xclip process own CLIPBOARD on `display` with `text` (stopped by PID after). */
function offerClipboard(dir: string, display: string, text: string): Child {
  const file = `${dir}/clip-${GLib.random_int()}.txt`;
  GLib.file_set_contents(file, new TextEncoder().encode(text));
  return new Child(["xclip", "-quiet", "-selection", "clipboard", "-i", file], { DISPLAY: display });
}

describe("PortholeVncDisplay with TigerVNC Xvnc", () => {
  let dir: string;
  let socket: string;
  let displayNumber: number;
  let xvnc: Child;
  let content: Child | null = null;
  let window: Gtk.Window;
  let display: PortholeVncDisplay;
  let title: string;

  beforeAll(async () => {
    dir = tempDir();
    socket = `${dir}/vnc.sock`;
    displayNumber = freeDisplay();
    xvnc = startXvnc(displayNumber, { width: WIDTH, height: HEIGHT }, { unix: socket }, ["-SecurityTypes", "None"]);
    await xvnc.waitUntil("its socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
    content = new Child(["gjs", "-m", fixturePath("x11-content.js"), String(WIDTH), String(HEIGHT)], {
      DISPLAY: `:${displayNumber}`,
    });
    await content.waitForLine("ready");

    title = `porthole-display-${GLib.random_int()}`;
    display = new PortholeVncDisplay();
    display.scaling = "one-to-one";
    window = new Gtk.Window({ title, default_width: WIDTH, default_height: HEIGHT, child: display });
    window.present();
    display.open(parseServerAddress(`vnc+unix://${socket}`));
    await waitFor("the connection", () => display.connected, 15000);
  });

  afterAll(async () => {
    display.close();
    window.destroy();
    await content?.stop();
    await xvnc.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("shows exactly the server's pixels at one-to-one", async () => {
    expect([display.remote_width, display.remote_height]).toEqual([WIDTH, HEIGHT]);
    const ref = await xwdRoot(displayNumber);
    expect(new Set(ref.rgb).size).toBeGreaterThan(100);
    let differing = -1;
    await waitFor(
      "the widget to show the server's picture",
      () => {
        if (display.get_width() !== WIDTH) return false;
        const shown = renderWidget(display);
        differing = shown.width === WIDTH && shown.height === HEIGHT ? differingPixels(shown, ref) : -1;
        return differing === 0;
      },
      15000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)} (last: ${differing} pixels differ)`);
    });
  });

  it("follows changes on the server", async () => {
    // Stopping the content window uncovers the root window: every tile changes.
    await content?.stop();
    content = null;
    await delay(300);
    const ref = await xwdRoot(displayNumber);
    await waitFor(
      "the widget to show the uncovered root window",
      () => differingPixels(renderWidget(display), ref) === 0,
      15000,
    );
    content = new Child(["gjs", "-m", fixturePath("x11-content.js"), String(WIDTH), String(HEIGHT)], {
      DISPLAY: `:${displayNumber}`,
    });
    await content.waitForLine("ready");
  });

  it("scales the picture down to fit, keeping its look", async () => {
    const ref = shrink(await xwdRoot(displayNumber), 2);
    display.scaling = "fit";
    window.set_default_size(WIDTH / 2, HEIGHT / 2);
    await waitFor(
      "the smaller allocation",
      () => display.get_width() === WIDTH / 2 && display.get_height() === HEIGHT / 2,
    );
    let diff = -1;
    await waitFor(
      "a fitted picture close to the server's",
      () => {
        const shown = renderWidget(display);
        diff = shown.width === ref.width && shown.height === ref.height ? meanDifference(shown, ref) : 255;
        return diff < 6;
      },
      10000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)} (mean difference ${diff.toFixed(1)})`);
    });
    // Letterboxing: in a wider widget the picture keeps its aspect ratio, centred on black.
    window.set_default_size(WIDTH, HEIGHT / 2);
    await waitFor("the wider allocation", () => display.get_width() === WIDTH);
    const wide = renderWidget(display);
    expect(wide.rgb[0]).toBe(0);
    expect(wide.rgb[wide.width - 1]).toBe(0);
    const middle = wide.rgb[(HEIGHT / 4) * wide.width + WIDTH / 2] ?? 0;
    expect(middle).not.toBe(0);
    window.set_default_size(WIDTH, HEIGHT);
    display.scaling = "one-to-one";
  });

  it("types into the server with scancodes (Xvnc takes QEMU extended key events)", async () => {
    await typingRoundTrip(displayNumber, display, title, true);
  });

  it("sends nothing in read-only mode", async () => {
    const entry = new Child(["gjs", "-m", fixturePath("x11-entry.js")], { DISPLAY: `:${displayNumber}` });
    try {
      await entry.waitForLine("ready");
      await xdotool(["search", "--sync", "--name", "^porthole-entry$", "windowfocus", "--sync"], `:${displayNumber}`);
      display.read_only = true;
      await focusWindow(title);
      display.grab_focus();
      await xdotool(["type", "--delay", "30", "no"]);
      expect(display.typeText("no")).toBe(0);
      // Then a key with read-only off again: the entry's first text is that key alone.
      await delay(500);
      display.read_only = false;
      await xdotool(["type", "y"]);
      await entry.waitForLine('text:"y"');
    } finally {
      display.read_only = false;
      await entry.stop();
    }
  });

  it("passes the clipboard both ways as UTF-8", async () => {
    await focusWindow(title);
    display.grab_focus();
    await waitFor("keyboard focus", () => display.has_focus);

    const fromGuest = "from the guest: grüße ✓";
    let received = "";
    const handler = display.connect("server-cut-text", (_d, text: string) => {
      received = text;
    });
    const owner = offerClipboard(dir, `:${displayNumber}`, fromGuest);
    try {
      await waitFor("the server's clipboard", () => received === fromGuest, 10000);
      expect(await clipboardOn(localDisplay())).toBe(fromGuest);
    } finally {
      display.disconnect(handler);
      await owner.stop();
    }

    const toGuest = "to the guest: naïve ☃";
    const local = offerClipboard(dir, localDisplay(), toGuest);
    try {
      let onServer = "";
      const deadline = GLib.get_monotonic_time() + 10e6;
      while (onServer !== toGuest && GLib.get_monotonic_time() < deadline) {
        await delay(200);
        onServer = await clipboardOn(`:${displayNumber}`);
      }
      expect(onServer).toBe(toGuest);
    } finally {
      await local.stop();
    }
  });

  it("resizes the remote desktop to the widget in resize-remote mode", async () => {
    const sizes: [number, number][] = [];
    const handler = display.connect("desktop-resize", (_d, w: number, h: number) => sizes.push([w, h]));
    try {
      display.scaling = "resize-remote";
      window.set_default_size(400, 300);
      await waitFor(
        "the remote desktop to take the widget's size",
        () => display.remote_width === 400 && display.remote_height === 300,
        15000,
      );
      expect(sizes).toContain([400, 300]);
      // The server's own picture changed size too.
      const ref = await xwdRoot(displayNumber);
      expect([ref.width, ref.height]).toEqual([400, 300]);
    } finally {
      display.disconnect(handler);
      display.scaling = "one-to-one";
    }
  });

  it("shows the remote cursor shape as the local pointer", async () => {
    // Xvnc starts with an empty cursor (nothing under the pointer defines one): hidden.
    const empty = display.get_cursor()?.get_texture();
    expect(empty?.get_width()).toBe(1);
    // Over the entry, the server's pointer is its text cursor: the shape follows.
    const entry = new Child(["gjs", "-m", fixturePath("x11-entry.js")], { DISPLAY: `:${displayNumber}` });
    try {
      await entry.waitForLine("ready");
      await focusWindow(title);
      await xdotool(["mousemove", "--window", (await windowId(title)).toString(), "20", "20"]);
      await waitFor("the entry's cursor shape", () => (display.get_cursor()?.get_texture()?.get_width() ?? 0) > 1);
    } finally {
      await entry.stop();
    }
  });

  it("ends cleanly when closed, keeping the last picture", async () => {
    const events: [string, boolean][] = [];
    const handler = display.connect("disconnected", (_d, reason: string, clean: boolean) =>
      events.push([reason, clean]),
    );
    display.close();
    display.disconnect(handler);
    expect(events.length).toBe(1);
    expect(events[0]?.[1]).toBeTrue();
    expect(display.connected).toBeFalse();
    expect(display.screenshot()?.get_width()).toBe(400);
    // Reopening works on the same widget.
    display.open(parseServerAddress(`vnc+unix://${socket}`));
    await waitFor("the connection again", () => display.connected, 15000);
  });
});

describe("PortholeVncDisplay with x11vnc (no scancode support)", () => {
  let dir: string;
  let serverDisplay: number;
  let xvfb: Child;
  let x11vnc: Child | null = null;
  let window: Gtk.Window;
  let display: PortholeVncDisplay;
  let title: string;

  beforeAll(async () => {
    dir = tempDir();
    serverDisplay = freeDisplay();
    xvfb = new Child(["Xvfb", `:${serverDisplay}`, "-screen", "0", `${WIDTH}x${HEIGHT}x24`, "-nolisten", "tcp"]);
    await xvfb.waitUntil("its socket", () => GLib.file_test(`/tmp/.X11-unix/X${serverDisplay}`, GLib.FileTest.EXISTS));
    const port = freePort();
    x11vnc = new Child([
      "x11vnc",
      "-display",
      `:${serverDisplay}`,
      "-rfbport",
      String(port),
      "-localhost",
      "-nopw",
      "-forever",
      "-shared",
      "-quiet",
      "-noxdamage",
    ]);
    await x11vnc.waitForPort(port);
    title = `porthole-x11vnc-${GLib.random_int()}`;
    display = new PortholeVncDisplay();
    window = new Gtk.Window({ title, default_width: WIDTH, default_height: HEIGHT, child: display });
    window.present();
    display.open(parseServerAddress(`localhost::${port}`));
    await waitFor("the connection", () => display.connected, 15000);
  });

  afterAll(async () => {
    display.close();
    window.destroy();
    await x11vnc?.stop();
    await xvfb.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("types with keysyms", async () => {
    await typingRoundTrip(serverDisplay, display, title, false);
  });
});

describe("PortholeVncDisplay with QEMU (keys as XT scancodes)", () => {
  let dir: string;
  let guest: ScancodeGuest | null = null;
  let window: Gtk.Window;
  let display: PortholeVncDisplay;
  let title: string;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startScancodeGuest(dir);
    title = `porthole-qemu-${GLib.random_int()}`;
    display = new PortholeVncDisplay();
    window = new Gtk.Window({ title, default_width: 640, default_height: 400, child: display });
    window.present();
    display.open(parseServerAddress(guest.vncUri));
    await waitFor("scancode support", () => display.scancodes, 20000);
    await focusWindow(title);
    display.grab_focus();
    await waitFor("keyboard focus", () => display.has_focus);
    // Anything focusing may have sent (lock-key sync) is not part of the specs below.
    await guest.collect(300);
  });

  afterAll(async () => {
    display.close();
    window.destroy();
    await guest?.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  // What xdotool presses on the suite's X server (US layout), and the bytes a PC keyboard
  // sends for those physical keys: so keycode → evdev → qnum → i8042 is right end to end.
  for (const [keys, bytes] of [
    ["a", "1E 9E"],
    // xdotool lets go of the modifier first.
    ["shift+a", "2A 1E AA 9E"],
    // The AltGr key (Alt_R on the US layout). xdotool holds Left Alt, Mod1's first key,
    // around any key whose keysym is a Mod1 modifier: 38 … B8 are that key, not ours.
    ["Alt_R", "38 E0 38 B8 E0 B8"],
    ["Up", "E0 48 E0 C8"],
    ["KP_Enter", "E0 1C E0 9C"],
    ["Delete", "E0 53 E0 D3"],
    ["Home", "E0 47 E0 C7"],
    ["F12", "58 D8"],
  ] as const) {
    it(`sends ${keys} as ${bytes}`, async () => {
      const g = guest;
      if (!g) throw new Error("no guest");
      await xdotool(["key", keys]);
      const want = bytes.split(" ").map((b) => parseInt(b, 16));
      const got = await g.readScancodes(want.length);
      expect(got.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ")).toBe(bytes);
      expect(await g.collect(200)).toEqual([]);
    });
  }

  it("sends a combination from the menu: Ctrl+Alt+Del", async () => {
    const g = guest;
    if (!g) throw new Error("no guest");
    display.sendKeys("ctrl+alt+del");
    const got = await g.readScancodes(8);
    expect(got).toEqual([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
  });

  it("releases every key it pressed when the focus goes away", async () => {
    const g = guest;
    if (!g) throw new Error("no guest");
    await xdotool(["keydown", "shift"]);
    expect(await g.readScancodes(1)).toEqual([0x2a]);
    const other = new Gtk.Window({ title: `${title}-other` });
    other.present();
    try {
      await focusWindow(`${title}-other`);
      expect(await g.readScancodes(1)).toEqual([0xaa]);
    } finally {
      await xdotool(["keyup", "shift"]);
      other.destroy();
      await focusWindow(title);
      display.grab_focus();
      await g.collect(300);
    }
  });
});

describe("PortholeVncDisplay failures", () => {
  it("reports a dead server once, not cleanly", async () => {
    const display = new PortholeVncDisplay();
    // In a window that is destroyed after, as in an app: a widget finalized by the garbage
    // collector would run its controllers' callbacks during the sweep.
    const window = new Gtk.Window({ child: display });
    const events: [string, boolean][] = [];
    display.connect("disconnected", (_d, reason: string, clean: boolean) => events.push([reason, clean]));
    display.open(parseServerAddress(`vnc+unix:///nonexistent/porthole-${GLib.random_int()}.sock`));
    await waitFor("the failure", () => events.length > 0);
    await delay(100);
    expect(events.length).toBe(1);
    expect(events[0]?.[1]).toBeFalse();
    expect(display.lastError).not.toBeNull();
    window.destroy();
  });
});
