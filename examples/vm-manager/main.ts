// An example of another application embedding Porthole's widgets: a minimal
// virtual-machine manager window on one machine's console (display, serial and text
// consoles, sound) over one VNC connection, through PortholeSession. See window.ts.
//
//   gjs -m _build/examples/vm-manager/porthole-vm-manager.js [--password-file F] URI
//
// SIGTERM and SIGINT close the window, which closes the session cleanly.

import Adw from "gi://Adw";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { runProgram, UsageError } from "../../src/platform/command-line.js";
import { initI18n } from "../../src/platform/i18n.js";
import { parseServerAddress, formatServerAddress } from "../../src/protocol/address.js";
import { VmManagerWindow } from "./window.js";

runProgram(
  {
    name: "porthole-vm-manager",
    summary: "A virtual-machine manager's console window built from Porthole's widgets (an example)",
    usage: ["[--password-file FILE] URI"],
    description:
      "URI is a VNC server: vnc://host[:port], vnc+unix:///path, host:N or /path/to/socket.\n" +
      "--password-file FILE answers a VNC password request with the file's first line.",
  },
  (args) => {
    let passwordFile: string | null = null;
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? "";
      if (arg === "--password-file") {
        passwordFile = args[++i] ?? null;
        if (passwordFile === null) throw new UsageError("--password-file needs a file name");
      } else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
      else rest.push(arg);
    }
    if (rest.length !== 1) throw new UsageError("give exactly one server URI");
    let uri: string;
    try {
      uri = formatServerAddress(parseServerAddress(rest[0] ?? ""));
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const password =
      passwordFile === null
        ? null
        : (new TextDecoder().decode(GLib.file_get_contents(passwordFile)[1]).split("\n")[0] ?? "");

    // The widgets' own strings (a console's status, the display's accessible name) are in
    // Porthole's gettext domain; the example's are plain English.
    initI18n();
    const app = new Adw.Application({
      application_id: "dev.porthole.examples.VmManager",
      // One process per machine, and no D-Bus session needed.
      flags: Gio.ApplicationFlags.NON_UNIQUE,
    });
    app.connect("activate", () => {
      const window = new VmManagerWindow(app, uri, password);
      window.present();
      window.open();
    });
    const quit = () => {
      for (const w of app.get_windows()) w.close();
      return GLib.SOURCE_REMOVE;
    };
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, 15, quit);
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, 2, quit);
    // Our arguments are parsed already: GApplication gets none of them.
    return app.run([system.programInvocationName]);
  },
);
