// The `porthole` application: one window per server address given on the command line,
// or a window and the connect dialog without one; single instance through GApplication's
// D-Bus activation, so `porthole URI` from a terminal opens its window in the running one.

import Adw from "gi://Adw";
import Gdk from "gi://Gdk?version=4.0";
import Gio from "gi://Gio";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { APP_ID, buildConfig, viewerSettings } from "../platform/config.js";
import { _ } from "../platform/i18n.js";
import { log } from "../platform/log.js";
import { parseServerAddress, type ServerAddress } from "../protocol/address.js";
import { PortholeConnectDialog, rememberConnection } from "./connect-dialog.js";
import {
  type CommandLineOptions,
  parseCommandLine,
  type ViewerOptions,
  viewerOptions,
  ViewerOptionsError,
} from "./options.js";
import { PortholeWindow } from "./window.js";

export class PortholeApplication extends Adw.Application {
  static {
    GObject.registerClass({ GTypeName: "PortholeApplication" }, this);
  }

  #settings: Gio.Settings | null = null;

  constructor() {
    // No main options are added: GApplication then passes every argument through
    // untouched (it would reject the ones it does not know) and leaves --help to us.
    // main.ts has parsed them already; the primary instance parses them again below.
    super({ application_id: APP_ID, flags: Gio.ApplicationFlags.HANDLES_COMMAND_LINE });
    this.connect("startup", () => {
      const { icondir } = buildConfig();
      const display = Gdk.Display.get_default();
      if (icondir !== null && display) Gtk.IconTheme.get_for_display(display).add_search_path(icondir);
      this.#settings = viewerSettings();
      this.#addActions();
    });
    this.connect("command-line", (_app, commandLine: Gio.ApplicationCommandLine) => this.#commandLine(commandLine));
  }

  #addActions(): void {
    const quit = new Gio.SimpleAction({ name: "quit" });
    quit.connect("activate", () => {
      for (const w of this.get_windows()) w.close();
    });
    this.add_action(quit);
    this.set_accels_for_action("app.quit", ["<Control>q"]);

    const about = new Gio.SimpleAction({ name: "about" });
    about.connect("activate", () => {
      new Adw.AboutWindow({
        transient_for: this.get_active_window(),
        application_name: _("Porthole"),
        application_icon: APP_ID,
        version: buildConfig().version,
        developer_name: _("The Porthole developers"),
        license_type: Gtk.License.GPL_3_0,
        comments: _("A virtual machine’s display, serial consoles and sound over one secured VNC connection."),
      }).present();
    });
    this.add_action(about);
  }

  #commandLine(commandLine: Gio.ApplicationCommandLine): number {
    const settings = this.#settings;
    if (!settings) return 1;
    let parsed: CommandLineOptions;
    try {
      parsed = parseCommandLine(commandLine.get_arguments().slice(1), _);
    } catch (e) {
      // main.ts rejects a bad command line on its terminal before starting; one can still
      // arrive from another launcher, and GLib 2.74 gives no way to print to its terminal.
      if (!(e instanceof ViewerOptionsError)) throw e;
      log.warning(e.message);
      return 2;
    }
    // main.ts answered these on the terminal they were typed in.
    if (parsed.help || parsed.version) return 0;
    const options: ViewerOptions = {
      ...viewerOptions(parsed),
      // Relative to where `porthole` was run, which need not be this process's directory.
      caFile:
        parsed.caFile === null ? null : (commandLine.create_file_for_arg(parsed.caFile).get_path() ?? parsed.caFile),
    };
    if (parsed.addresses.length === 0) {
      this.#askForServer(settings, options);
      return 0;
    }
    for (const address of parsed.addresses) this.#openServer(new PortholeWindow(this, settings), address, options);
    return 0;
  }

  /** An empty window with the connect dialog on it. */
  #askForServer(settings: Gio.Settings, options: ViewerOptions): void {
    const window = new PortholeWindow(this, settings);
    window.present();
    const dialog = new PortholeConnectDialog(window, settings);
    dialog.connect("connect-requested", (_dialog, uri: string) => {
      rememberConnection(settings, uri);
      this.#openServer(window, parseServerAddress(uri), options);
    });
    dialog.present();
  }

  #openServer(window: PortholeWindow, address: ServerAddress, options: ViewerOptions): void {
    window.openServer(address, options);
    window.present();
  }
}
