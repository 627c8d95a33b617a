import Adw from "gi://Adw";
import Gdk from "gi://Gdk?version=4.0";
import Gio from "gi://Gio";
import Gtk from "gi://Gtk?version=4.0";

import { checkCommandLine, PortholeApplication } from "../../src/app/application.js";
import { PortholeWindow } from "../../src/app/window.js";
import { viewerSettings } from "../../src/platform/config.js";
import { parseServerAddress } from "../../src/protocol/address.js";

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

  it("rejects a bad address on the command line before starting", () => {
    expect(checkCommandLine(["--verbose", "vnc://localhost"])).toBeNull();
    expect(checkCommandLine(["vnc://localhost", "http://x"])).toContain("http://x");
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
