import Adw from "gi://Adw";
import Gdk from "gi://Gdk?version=4.0";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { PortholeApplication } from "../../src/app/application.js";
import { PortholeConnectDialog } from "../../src/app/connect-dialog.js";
import type { ViewerOptions } from "../../src/app/options.js";
import { PortholeWindow } from "../../src/app/window.js";
import { buildConfig, viewerSettings } from "../../src/platform/config.js";
import { parseServerAddress } from "../../src/protocol/address.js";
import { programBundle, run } from "./processes.js";

describe("the viewer window", () => {
  let app: Adw.Application;

  beforeAll(() => {
    // Registered (which runs startup) but not unique, so no session bus is needed.
    app = new Adw.Application({ application_id: "dev.porthole.ViewerTest", flags: Gio.ApplicationFlags.NON_UNIQUE });
    app.register(null);
  });

  it("shows the server it is for", () => {
    const window = new PortholeWindow(app, viewerSettings());
    window.showServer(parseServerAddress("localhost:2"));
    expect(window.get_title()).toBe("vnc://localhost:5902");
    window.destroy();
  });

  it("remembers its size when closed", () => {
    const settings = viewerSettings();
    const window = new PortholeWindow(app, settings);
    window.set_default_size(640, 480);
    window.present();
    window.close();
    expect([settings.get_int("window-width"), settings.get_int("window-height")]).toEqual([640, 480]);
    settings.reset("window-width");
    settings.reset("window-height");
  });

  it("starts up with its actions and finds its icons when run uninstalled", () => {
    const porthole = new PortholeApplication();
    porthole.set_flags(porthole.get_flags() | Gio.ApplicationFlags.NON_UNIQUE);
    porthole.register(null);
    expect(porthole.list_actions().sort()).toEqual(["about", "quit"]);
    expect(porthole.get_accels_for_action("app.quit")).toEqual(["<Control>q"]);
    const display = Gdk.Display.get_default();
    if (!display) throw new Error("no display");
    const theme = Gtk.IconTheme.get_for_display(display);
    expect(theme.has_icon("dev.porthole.Viewer")).toBeTrue();
    expect(theme.has_icon("dev.porthole.Viewer-symbolic")).toBeTrue();
  });
});

describe("the porthole command line", () => {
  const encoder = new TextEncoder();
  /** What GApplication hands the primary instance for `porthole ARGS…` run in `cwd`. */
  function commandLine(args: string[], cwd = "/elsewhere"): Gio.ApplicationCommandLine {
    const bytes = (s: string) => encoder.encode(`${s}\0`);
    return new Gio.ApplicationCommandLine({
      arguments: new GLib.Variant("aay", ["porthole", ...args].map(bytes)),
      platform_data: new GLib.Variant("a{sv}", { cwd: new GLib.Variant("ay", bytes(cwd)) }),
    });
  }

  let app: PortholeApplication;
  let settings: Gio.Settings;
  let opened: jasmine.Spy<PortholeWindow["openServer"]>;

  beforeEach(() => {
    app = new PortholeApplication();
    app.set_flags(app.get_flags() | Gio.ApplicationFlags.NON_UNIQUE);
    app.register(null);
    settings = viewerSettings();
    settings.reset("recent-connections");
    // The window's own connecting is its spec's business; here: what it is asked to open.
    opened = spyOn(PortholeWindow.prototype, "openServer");
  });
  afterEach(() => {
    for (const window of Gtk.Window.list_toplevels())
      if (window instanceof PortholeConnectDialog || window instanceof PortholeWindow) window.close();
    settings.reset("recent-connections");
  });

  function descendants(widget: Gtk.Widget): Gtk.Widget[] {
    const all: Gtk.Widget[] = [];
    for (let child = widget.get_first_child(); child; child = child.get_next_sibling())
      all.push(child, ...descendants(child));
    return all;
  }

  function windows(): PortholeWindow[] {
    return app.get_windows().filter((w): w is PortholeWindow => w instanceof PortholeWindow);
  }

  it("opens a window per URI with the options of the command line", () => {
    const status = app.emit(
      "command-line",
      commandLine([
        "-f",
        "--title",
        "Test VM",
        "--scaling=one-to-one",
        "--ca-file",
        "certs/ca.pem",
        "--hotkeys=release-cursor=shift+f12",
        "-r",
        "host:1",
        "vnc+unix:///run/vm.sock",
      ]),
    ) as unknown;
    expect(status).toBe(0);
    const options: ViewerOptions = {
      fullScreen: true,
      title: "Test VM",
      readOnly: true,
      releaseCombo: "shift+f12",
      scaling: "one-to-one",
      // Relative to where porthole was typed, not to the running instance.
      caFile: "/elsewhere/certs/ca.pem",
    };
    expect(opened.calls.allArgs()).toEqual([
      [{ kind: "tcp", host: "host", port: 5901 }, options],
      [{ kind: "unix", path: "/run/vm.sock" }, options],
    ]);
    // By identity: the toplevel list's order is GTK's, and a deep comparison of two windows
    // would walk their GObject wrappers.
    const openedIn = opened.calls.all().map((c) => c.object as unknown);
    expect(windows().length).toBe(2);
    expect(windows().every((w) => openedIn.includes(w))).toBeTrue();
  });

  it("asks for a server without a URI, remembers it and opens it in the window", () => {
    expect(app.emit("command-line", commandLine(["--read-only"])) as unknown).toBe(0);
    expect(windows().length).toBe(1);
    const dialog = Gtk.Window.list_toplevels().find((w) => w instanceof PortholeConnectDialog);
    if (!(dialog instanceof PortholeConnectDialog)) throw new Error("no connect dialog");
    expect(dialog.get_transient_for()).toBe(windows()[0] ?? null);
    expect(dialog.get_visible()).toBeTrue();
    expect(opened).not.toHaveBeenCalled();

    // Typed into the dialog and Enter pressed, as a user would.
    const entry = descendants(dialog).find((w): w is Adw.EntryRow => w instanceof Adw.EntryRow);
    const text = entry?.get_delegate();
    if (!entry || !(text instanceof Gtk.Text)) throw new Error("the dialog has no address entry");
    entry.set_text("example.org:3");
    text.emit("activate");
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://example.org:5903"]);
    expect(opened).toHaveBeenCalledOnceWith(
      { kind: "tcp", host: "example.org", port: 5903 },
      jasmine.objectContaining({ readOnly: true, fullScreen: false, caFile: null, releaseCombo: "ctrl+alt" }),
    );
    expect(opened.calls.mostRecent().object as unknown).toBe(windows()[0]);
    expect(dialog.get_visible()).toBeFalse();
  });

  it("opens nothing for a bad command line or for --help", () => {
    expect(app.emit("command-line", commandLine(["--bogus"])) as unknown).toBe(2);
    expect(app.emit("command-line", commandLine(["http://example.org"])) as unknown).toBe(2);
    expect(app.emit("command-line", commandLine(["--help", "host"])) as unknown).toBe(0);
    expect(windows()).toEqual([]);
    expect(opened).not.toHaveBeenCalled();
  });

  describe("in the terminal", () => {
    const porthole = (...args: string[]) => run(["gjs", "-m", programBundle("porthole"), ...args]);
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

    it("prints its help and exits 0", async () => {
      const r = await porthole("--help");
      expect(r.status).toBe(0);
      expect(text(r.stdout)).toContain("-f, --full-screen");
      expect(text(r.stdout)).toContain("--hotkeys=NAME=KEYS");
    });

    it("prints its version and exits 0", async () => {
      const r = await porthole("--version");
      expect(r.status).toBe(0);
      expect(text(r.stdout)).toBe(`porthole ${buildConfig().version}\n`);
    });

    it("explains a usage error in one line and exits 2", async () => {
      for (const [args, message] of [
        [["--bogus"], "porthole: unknown option --bogus"],
        [["--hotkeys=release-mouse=ctrl+alt"], "porthole: unknown hotkey “release-mouse”"],
        [["vnc://ok", "http://example.org"], "http://example.org"],
      ] as const) {
        const r = await porthole(...args);
        expect(r.status).withContext(args.join(" ")).toBe(2);
        expect(r.stderr.trimEnd().split("\n").length).withContext(r.stderr).toBe(1);
        expect(r.stderr).toContain(message);
        expect(r.stdout.length).toBe(0);
      }
    });
  });
});
