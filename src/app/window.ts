// The viewer's main window: header bar, primary menu, and the page for one server. The
// display, console tabs and audio controls (issues #4–#6) go into `content`.

import Adw from "gi://Adw";
import Gio from "gi://Gio";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { _ } from "../platform/i18n.js";
import { formatServerAddress, type ServerAddress } from "../protocol/address.js";

export class PortholeWindow extends Adw.ApplicationWindow {
  static {
    GObject.registerClass({ GTypeName: "PortholeWindow" }, this);
  }

  readonly #status: Adw.StatusPage;
  readonly #settings: Gio.Settings;

  constructor(application: Adw.Application, settings: Gio.Settings) {
    super({ application, title: _("Porthole") });
    this.#settings = settings;

    const menu = new Gio.Menu();
    menu.append(_("_About Porthole"), "app.about");
    menu.append(_("_Quit"), "app.quit");
    const header = new Adw.HeaderBar();
    header.pack_end(
      new Gtk.MenuButton({ icon_name: "open-menu-symbolic", menu_model: menu, tooltip_text: _("Main Menu") }),
    );

    this.#status = new Adw.StatusPage({
      icon_name: "dev.porthole.Viewer-symbolic",
      title: _("No Server"),
      description: _("Start Porthole with a server address, for example “porthole vnc://localhost:5900”."),
      vexpand: true,
    });

    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    box.append(header);
    box.append(this.#status);
    this.set_content(box);

    this.set_default_size(settings.get_int("window-width"), settings.get_int("window-height"));
    if (settings.get_boolean("window-maximized")) this.maximize();
    this.connect("close-request", () => {
      this.#saveState();
      return false;
    });
  }

  /** Shows which server this window is for. */
  showServer(address: ServerAddress): void {
    const text = formatServerAddress(address);
    this.set_title(text);
    this.#status.set_title(text);
    this.#status.set_description(null);
  }

  #saveState(): void {
    const maximized = this.is_maximized();
    this.#settings.set_boolean("window-maximized", maximized);
    if (!maximized) {
      const [width, height] = this.get_default_size();
      this.#settings.set_int("window-width", width);
      this.#settings.set_int("window-height", height);
    }
  }
}
