// The viewer window end to end against a real Xvnc with VNC authentication: it asks for
// the password (again, saying why, after a wrong one), shows the desktop, and when the
// server goes away it counts down, reconnects by itself once the server is back, and logs
// in again with the password that worked, without asking.

import Adw from "gi://Adw";
import GdkPixbuf from "gi://GdkPixbuf";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { PortholeCredentialsDialog } from "../../src/app/credentials-dialog.js";
import { PortholeWindow } from "../../src/app/window.js";
import { viewerSettings } from "../../src/platform/config.js";
import { parseServerAddress } from "../../src/protocol/address.js";
import { Child, delay, freeDisplay, run, startXvnc, tempDir, waitFor } from "./processes.js";

const OPTIONS = {
  fullScreen: false,
  title: null,
  readOnly: false,
  releaseCombo: "ctrl+alt",
  scaling: null,
  caFile: null,
};

function openDialog(): PortholeCredentialsDialog | null {
  for (const w of Gtk.Window.list_toplevels()) if (w instanceof PortholeCredentialsDialog && w.get_visible()) return w;
  return null;
}

function find<T extends Gtk.Widget>(root: Gtk.Widget, type: abstract new (...args: never[]) => T): T | null {
  if (root instanceof type) return root;
  for (let c = root.get_first_child(); c; c = c.get_next_sibling()) {
    const found = find(c, type);
    if (found) return found;
  }
  return null;
}

function labels(root: Gtk.Widget): string[] {
  const out: string[] = [];
  const walk = (w: Gtk.Widget) => {
    if (w instanceof Gtk.Label) out.push(w.get_label());
    for (let c = w.get_first_child(); c; c = c.get_next_sibling()) walk(c);
  };
  walk(root);
  return out;
}

async function answer(password: string): Promise<PortholeCredentialsDialog> {
  await waitFor("the password dialog", () => openDialog() !== null, 15000);
  const d = openDialog();
  if (!d) throw new Error("no dialog");
  const entry = find(d, Gtk.PasswordEntry);
  if (!entry) throw new Error("the dialog has no password entry");
  entry.set_text(password);
  d.response("connect");
  return d;
}

describe("the viewer window with a password-protected server", () => {
  let app: Adw.Application;
  let settings: Gio.Settings;
  let dir: string;
  let socket: string;
  let displayNumber: number;
  let xvnc: Child | null = null;
  let window: PortholeWindow;

  const startServer = async () => {
    xvnc = startXvnc(displayNumber, { width: 200, height: 120 }, { unix: socket }, [
      "-SecurityTypes",
      "VncAuth",
      "-PasswordFile",
      `${dir}/passwd`,
    ]);
    await xvnc.waitUntil("its socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
  };

  beforeAll(async () => {
    app = new Adw.Application({ application_id: "dev.porthole.ViewerSpec", flags: Gio.ApplicationFlags.NON_UNIQUE });
    app.register(null);
    settings = viewerSettings();
    dir = tempDir();
    socket = `${dir}/vnc.sock`;
    displayNumber = freeDisplay();
    const passwd = await run(["sh", "-c", `printf 'sesame\\nsesame\\nn\\n' | vncpasswd -f > ${dir}/passwd`]);
    expect(passwd.status).toBe(0);
    await startServer();
    window = new PortholeWindow(app, settings);
    window.present();
  });

  afterAll(async () => {
    window.close();
    await xvnc?.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("asks for the password, again after a wrong one, and shows the desktop", async () => {
    window.openServer(parseServerAddress(`vnc+unix://${socket}`), OPTIONS);
    expect(window.phase).toBe("connecting");
    const first = await answer("wrong");
    await waitFor("the first dialog to go", () => !first.get_visible() || openDialog() !== first);
    // The server said no: a new dialog says so.
    await waitFor("the second dialog", () => ![null, first].includes(openDialog()), 15000);
    const again = openDialog();
    if (!again) throw new Error("no second dialog");
    expect(labels(again).some((l) => l.startsWith("The password was not accepted"))).toBeTrue();
    await answer("sesame");
    await waitFor("the desktop", () => window.phase === "connected", 15000);
    expect(window.vncDisplay.connected).toBeTrue();
    expect(window.vncDisplay.remote_width).toBe(200);
    // Screenshots are the remote picture, as PNG.
    const file = Gio.File.new_for_path(`${dir}/shot.png`);
    expect(window.saveScreenshot(file)).toBeTrue();
    const png = GdkPixbuf.Pixbuf.new_from_file(`${dir}/shot.png`);
    expect([png.get_width(), png.get_height()]).toEqual([200, 120]);
  });

  it("reconnects with back-off when the server goes away, using the password that worked", async () => {
    await xvnc?.stop();
    await waitFor("the countdown", () => window.phase === "waiting", 10000);
    expect(window.vncDisplay.connected).toBeFalse();
    await startServer();
    await waitFor("the reconnection", () => window.phase === "connected", 30000);
    expect(openDialog()).toBeNull();
    expect(window.vncDisplay.connected).toBeTrue();
  });

  it("stops trying when the user cancels", async () => {
    await xvnc?.stop();
    xvnc = null;
    await waitFor("the countdown", () => window.phase === "waiting", 10000);
    window.activate_action("cancel-reconnect", null);
    expect(window.phase).toBe("failed");
    await delay(1500);
    expect(window.phase).toBe("failed");
  });
});
