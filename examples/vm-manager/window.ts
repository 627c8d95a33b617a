// The example's one window: how a virtual-machine manager would lay out a machine's
// console with Porthole's widgets. A PortholeSession owns the connection and its three
// parts; the window only arranges them: a sidebar with the machine's display and one row
// per console the server lists (added and removed as it hot-plugs them), the chosen one in
// the main area, a mute toggle and Ctrl+Alt+Del in the header, and a status line.
//
// Every status line is also printed on stdout, so a script (or the spec that runs this
// example, tests/gjs/vm-manager.spec.ts) can follow what the window shows.

import Adw from "gi://Adw";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";
import Pango from "gi://Pango";

import { PortholeSession } from "../../src/widgets/session.js";
import { PortholeStream } from "../../src/widgets/stream.js";

const APP_TITLE = "Porthole VM Manager";

export class VmManagerWindow extends Adw.ApplicationWindow {
  static {
    GObject.registerClass({ GTypeName: "PortholeExampleVmManagerWindow" }, this);
  }

  readonly session = new PortholeSession();
  readonly #title = new Adw.WindowTitle({ title: APP_TITLE });
  readonly #sidebar = new Gtk.ListBox({ css_classes: ["navigation-sidebar"], vexpand: true });
  readonly #displayRow: Adw.ActionRow;
  /** Sidebar rows of the consoles, in the order of session.streams.model (after the display's). */
  readonly #consoleRows: Adw.ActionRow[] = [];
  readonly #main = new Gtk.Stack({ transition_type: Gtk.StackTransitionType.CROSSFADE, hexpand: true });
  readonly #status = new Gtk.Label({ xalign: 0, hexpand: true, ellipsize: Pango.EllipsizeMode.END });
  readonly #reconnect = new Gtk.Button({ label: "_Reconnect", use_underline: true, visible: false });
  readonly #mute = new Gtk.ToggleButton({ icon_name: "audio-volume-high-symbolic", sensitive: false });
  readonly #uri: string;
  readonly #password: string | null;
  #passwordTried = false;

  constructor(application: Adw.Application, uri: string, password: string | null) {
    super({ application, title: APP_TITLE, default_width: 1000, default_height: 700 });
    this.#uri = uri;
    this.#password = password;
    const { display, audio } = this.session;

    // Header: the machine's name, mute, Ctrl+Alt+Del.
    const header = new Adw.HeaderBar({ title_widget: this.#title });
    const cad = new Gtk.Button({ icon_name: "input-keyboard-symbolic", tooltip_text: "Send Ctrl+Alt+Del" });
    cad.connect("clicked", () => {
      display.sendKeys("ctrl+alt+del");
    });
    header.pack_start(cad);
    header.pack_end(this.#mute);
    // The toggle is the player's `muted` property: either side changes the other.
    audio.bind_property(
      "muted",
      this.#mute,
      "active",
      GObject.BindingFlags.BIDIRECTIONAL | GObject.BindingFlags.SYNC_CREATE,
    );
    this.#mute.connect("notify::active", () => {
      this.#mute.set_icon_name(this.#mute.active ? "audio-volume-muted-symbolic" : "audio-volume-high-symbolic");
    });
    audio.connect("notify::state", () => {
      this.#syncAudio();
    });
    this.#syncAudio();

    // Sidebar: the display, then one row per console.
    // Activatable: Adw.ActionRow is not by default, and activation moves the focus (below).
    this.#displayRow = new Adw.ActionRow({ title: "Display", subtitle: "Graphical console", activatable: true });
    this.#displayRow.add_prefix(new Gtk.Image({ icon_name: "video-display-symbolic" }));
    this.#sidebar.append(this.#displayRow);
    this.#sidebar.connect("row-selected", (_l, row: Gtk.ListBoxRow | null) => {
      this.#show(row);
    });
    // A click (or Enter) on a row hands the keyboard to what it shows; moving through the
    // sidebar with the arrow keys leaves it there. (Activation comes after the list box
    // has focused the row itself, which selection does not.)
    this.#sidebar.connect("row-activated", (_l, row: Gtk.ListBoxRow) => {
      if (row === this.#displayRow) this.session.display.grab_focus();
      else this.session.consoleFor(row.get_name())?.terminal.grab_focus();
    });
    this.session.streams.model.connect("items-changed", (_m, position: number, removed: number, added: number) => {
      this.#syncRows(position, removed, added);
    });

    // Main area: the display (scrolled, for one-to-one scaling) and the consoles, one page each.
    this.#main.add_named(new Gtk.ScrolledWindow({ child: display, hexpand: true, vexpand: true }), "display");

    const statusBar = new Gtk.Box({ spacing: 12, margin_start: 12, margin_end: 12, margin_top: 6, margin_bottom: 6 });
    statusBar.append(this.#status);
    statusBar.append(this.#reconnect);
    this.#reconnect.connect("clicked", () => {
      this.open();
    });

    const side = new Gtk.ScrolledWindow({ child: this.#sidebar, hscrollbar_policy: Gtk.PolicyType.NEVER });
    side.set_size_request(220, -1);
    // The sidebar keeps its width when the window grows; the machine's screen takes the rest.
    const paned = new Gtk.Paned({
      start_child: side,
      end_child: this.#main,
      resize_start_child: false,
      shrink_start_child: false,
      vexpand: true,
    });
    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    box.append(header);
    box.append(paned);
    box.append(new Gtk.Separator());
    box.append(statusBar);
    this.set_content(box);
    this.#sidebar.select_row(this.#displayRow);

    this.#connectSession();
    this.connect("close-request", () => {
      // Ends the connection and releases the sound device; nothing reconnects after this.
      this.session.close();
      return false;
    });
  }

  /** Connects (again) to the machine. */
  open(): void {
    this.#passwordTried = false;
    this.#reconnect.set_visible(false);
    this.#setStatus(`Connecting to ${this.#uri}…`, `connecting ${this.#uri}`);
    this.session.open(this.#uri);
  }

  #connectSession(): void {
    const s = this.session;
    s.connect("connected", () => {
      const d = s.display;
      this.#setStatus(
        `Connected to ${d.desktop_name || s.address}, ${d.remote_width}×${d.remote_height}`,
        `connected: ${d.desktop_name} ${d.remote_width}x${d.remote_height}`,
      );
      this.#showName();
      d.grab_focus();
    });
    s.display.connect("notify::desktop-name", () => {
      this.#showName();
    });
    s.connect("disconnected", (_s, reason: string, clean: boolean) => {
      this.#setStatus(`Disconnected: ${reason}`, `disconnected (${clean ? "clean" : "unclean"}): ${reason}`);
      // A VM manager would reconnect when the machine comes back; here the user decides.
      this.#reconnect.set_visible(!clean);
    });
    s.connect("auth-credential", (_s, username: boolean) => {
      if (this.#password !== null && !this.#passwordTried && !username) {
        this.#passwordTried = true;
        s.setCredentials({ password: this.#password });
      } else this.#askPassword(username);
    });
    s.connect("auth-failure", (_s, reason: string) => {
      print(`auth-failure: ${reason}`);
    });
    s.connect("certificate-untrusted", () => {
      // A VM manager knows its hosts' CAs (OpenOptions.caFile) rather than asking.
      print("certificate-untrusted");
    });
    s.connect("error", (_s, message: string) => {
      print(`error: ${message}`);
    });
  }

  /** Rows follow the streams model: the same positions, shifted past the display's row. */
  #syncRows(position: number, removed: number, added: number): void {
    for (const row of this.#consoleRows.splice(position, removed)) {
      if (row === this.#sidebar.get_selected_row()) this.#sidebar.select_row(this.#displayRow);
      this.#sidebar.remove(row);
    }
    const rows: Adw.ActionRow[] = [];
    for (let i = position; i < position + added; i++) {
      const stream = this.session.streams.model.get_item(i);
      if (!(stream instanceof PortholeStream)) continue;
      const row = new Adw.ActionRow({
        title: stream.label,
        subtitle: `${stream.name} · ${stream.kind}`,
        name: stream.name,
        activatable: true,
      });
      row.add_prefix(new Gtk.Image({ icon_name: "utilities-terminal-symbolic" }));
      this.#sidebar.insert(row, 1 + i);
      rows.push(row);
      print(`console: ${stream.name} (${stream.label}, ${stream.kind})`);
    }
    this.#consoleRows.splice(position, 0, ...rows);
  }

  /** Shows what the sidebar's row stands for; a console is made the first time it is shown. */
  #show(row: Gtk.ListBoxRow | null): void {
    if (!row || row === this.#displayRow) {
      this.#main.set_visible_child_name("display");
      print("showing: display");
      return;
    }
    // The row's name is its stream's; the session keeps one console per name, rebound to
    // the new stream after a reconnection, so its page is made once and stays.
    const name = row.get_name();
    const console = this.session.consoleFor(name);
    if (!console) return;
    const page = `console:${name}`;
    if (!this.#main.get_child_by_name(page)) this.#main.add_named(console, page);
    this.#main.set_visible_child_name(page);
    print(`showing: ${name}`);
  }

  #showName(): void {
    const name = this.session.display.desktop_name;
    this.#title.set_title(name || APP_TITLE);
    this.#title.set_subtitle(this.session.address);
    this.set_title(name ? `${name} — ${APP_TITLE}` : APP_TITLE);
  }

  #syncAudio(): void {
    const state = this.session.audio.state;
    this.#mute.set_sensitive(state !== "unavailable");
    this.#mute.set_tooltip_text(state === "unavailable" ? "The machine has no sound" : "Mute the machine's sound");
    print(`audio: ${state}`);
  }

  #setStatus(text: string, line: string): void {
    this.#status.set_label(text);
    print(line);
  }

  #askPassword(username: boolean): void {
    if (username) {
      // This example asks for a password only; VeNCrypt Plain wants a user name as well.
      this.session.close();
      this.#setStatus("The machine wants a user name, which this example does not ask for", "needs a user name");
      return;
    }
    const entry = new Gtk.PasswordEntry({ show_peek_icon: true, activates_default: true });
    const dialog = new Adw.MessageDialog({
      transient_for: this,
      modal: true,
      heading: "Password Required",
      body: `Enter the password for ${this.#uri}.`,
      extra_child: entry,
    });
    dialog.add_response("cancel", "_Cancel");
    dialog.add_response("connect", "C_onnect");
    dialog.set_default_response("connect");
    dialog.set_close_response("cancel");
    dialog.connect("response", (_d, response: string) => {
      if (response === "connect") this.session.setCredentials({ password: entry.get_text() });
      else this.session.close();
    });
    dialog.set_focus(entry);
    dialog.present();
  }
}
