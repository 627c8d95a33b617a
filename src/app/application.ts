// The `porthole` application: one window per server address given on the command line
// (or one empty window), single instance through GApplication's D-Bus activation.

import Adw from "gi://Adw";
import Gdk from "gi://Gdk?version=4.0";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { APP_ID, buildConfig, viewerSettings } from "../platform/config.js";
import { _ } from "../platform/i18n.js";
import { log } from "../platform/log.js";
import { parseServerAddress } from "../protocol/address.js";
import { ProtocolError } from "../protocol/errors.js";
import { PortholeWindow } from "./window.js";

export class PortholeApplication extends Adw.Application {
  static {
    GObject.registerClass({ GTypeName: "PortholeApplication" }, this);
  }

  #settings: Gio.Settings | null = null;

  constructor() {
    super({ application_id: APP_ID, flags: Gio.ApplicationFlags.HANDLES_COMMAND_LINE });
    this.add_main_option("version", 0, GLib.OptionFlags.NONE, GLib.OptionArg.NONE, _("Show the version"), null);
    this.set_option_context_parameter_string(_("[URI…]"));
    this.set_option_context_summary(_("Show a virtual machine’s display, consoles and sound over VNC."));

    this.connect("handle-local-options", (_app, options: GLib.VariantDict) => {
      if (options.contains("version")) {
        print(`porthole ${buildConfig().version}`);
        return 0;
      }
      return -1;
    });
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
    const uris = commandLine.get_arguments().slice(1);
    if (uris.length === 0) {
      new PortholeWindow(this, settings).present();
      return 0;
    }
    for (const uri of uris) {
      const window = new PortholeWindow(this, settings);
      try {
        window.showServer(parseServerAddress(uri));
      } catch (e) {
        // main.ts rejects bad addresses before starting; one can still arrive from a
        // second instance, which has no terminal of ours to print to.
        if (!(e instanceof ProtocolError)) throw e;
        log.warning(e.message);
      }
      window.present();
    }
    return 0;
  }
}

/**
 * Checks the server addresses on a `porthole` command line before the application starts,
 * so a typo gets an error on the terminal instead of a window. Returns the first problem.
 */
export function checkCommandLine(args: readonly string[]): string | null {
  for (const arg of args) {
    if (arg.startsWith("-")) continue;
    try {
      parseServerAddress(arg);
    } catch (e) {
      if (e instanceof ProtocolError) return e.message;
      throw e;
    }
  }
  return null;
}
