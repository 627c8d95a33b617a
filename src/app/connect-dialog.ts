// Asks which server to connect to when `porthole` starts without one: an address typed in
// (checked while typing, so a typo is explained before anything connects) or one of the
// recent connections kept in the `recent-connections` setting.

import Adw from "gi://Adw";
import Gio from "gi://Gio";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { _ } from "../platform/i18n.js";
import { formatServerAddress, parseServerAddress } from "../protocol/address.js";
import { ProtocolError } from "../protocol/errors.js";

const RECENT_KEY = "recent-connections";

/** Puts `uri` first in the recent connections, once, keeping at most `max` of them. */
export function rememberConnection(settings: Gio.Settings, uri: string, max = 10): void {
  const rest = settings.get_strv(RECENT_KEY).filter((u) => u !== uri);
  settings.set_strv(RECENT_KEY, [uri, ...rest].slice(0, Math.max(0, max)));
}

/** Removes `uri` from the recent connections. */
export function forgetConnection(settings: Gio.Settings, uri: string): void {
  const list = settings.get_strv(RECENT_KEY);
  if (list.includes(uri))
    settings.set_strv(
      RECENT_KEY,
      list.filter((u) => u !== uri),
    );
}

/**
 * Closes `dialog` when `parent` closes, and lets go of the parent once the dialog is gone;
 * `unrealized` runs then too. Not destroy-with-parent, nor a "destroy" handler: GJS 1.74
 * runs no JS during dispose, and the handlers GTK and libadwaita keep on a transient
 * parent are otherwise disconnected at exit from an already finalized parent (a screen of
 * GLib-GObject-CRITICALs). "unrealize" comes before dispose on close and on destroy.
 */
export function closeWithParent(dialog: Gtk.Window, parent: Gtk.Window, unrealized?: () => void): void {
  let id = parent.connect("close-request", () => {
    dialog.close();
    return false;
  });
  dialog.connect("unrealize", () => {
    if (id !== 0) parent.disconnect(id);
    id = 0;
    dialog.set_transient_for(null);
    unrealized?.();
  });
}

/** The canonical URI for what the user typed, or the reason it is not an address. */
function checkAddress(text: string): { uri: string } | { error: string } {
  try {
    return { uri: formatServerAddress(parseServerAddress(text)) };
  } catch (e) {
    if (e instanceof ProtocolError) return { error: e.message };
    throw e;
  }
}

interface ConnectDialogSignals extends Adw.Window.SignalSignatures {
  /** The user chose a server: its canonical URI (formatServerAddress). The dialog then closes. */
  "connect-requested": (uri: string) => void;
  "notify::address-valid": (pspec: GObject.ParamSpec) => void;
}

export class PortholeConnectDialog extends Adw.Window {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeConnectDialog",
        Properties: {
          "address-valid": GObject.ParamSpec.boolean(
            "address-valid",
            "Address valid",
            "Whether the address entry holds a server address",
            GObject.ParamFlags.READABLE,
            false,
          ),
        },
        Signals: {
          "connect-requested": { param_types: [GObject.TYPE_STRING] },
        },
      },
      this,
    );
  }

  declare connect: GObject.SignalMethods<this, ConnectDialogSignals>["connect"];
  declare connect_after: GObject.SignalMethods<this, ConnectDialogSignals>["connect_after"];
  declare emit: GObject.SignalMethods<this, ConnectDialogSignals>["emit"];

  readonly #settings: Gio.Settings;
  readonly #entry: Adw.EntryRow;
  readonly #error: Gtk.Label;
  readonly #connectButton: Gtk.Button;
  readonly #recentGroup: Adw.PreferencesGroup;
  #recentRows: Adw.ActionRow[] = [];
  #uri: string | null = null;
  #settingsHandler = 0;

  constructor(parent: Gtk.Window, settings: Gio.Settings) {
    super({
      transient_for: parent,
      modal: true,
      title: _("Connect to a Server"),
      default_width: 480,
      default_height: 520,
    });
    this.#settings = settings;

    const cancel = new Gtk.Button({ label: _("_Cancel"), use_underline: true, name: "cancel" });
    cancel.connect("clicked", () => {
      this.close();
    });
    this.#connectButton = new Gtk.Button({
      label: _("C_onnect"),
      use_underline: true,
      sensitive: false,
      name: "connect",
      css_classes: ["suggested-action"],
    });
    this.#connectButton.connect("clicked", () => {
      this.#requestConnect();
    });
    const header = new Adw.HeaderBar({ show_start_title_buttons: false, show_end_title_buttons: false });
    header.pack_start(cancel);
    header.pack_end(this.#connectButton);

    this.#entry = new Adw.EntryRow({
      title: _("Server Address"),
      name: "address",
      input_purpose: Gtk.InputPurpose.URL,
      input_hints: Gtk.InputHints.NO_SPELLCHECK,
    });
    this.#entry.connect("changed", () => {
      this.#validate();
    });
    this.#entry.connect("entry-activated", () => {
      this.#requestConnect();
    });
    this.#error = new Gtk.Label({
      name: "address-error",
      xalign: 0,
      wrap: true,
      visible: false,
      css_classes: ["error", "caption"],
    });
    const addressGroup = new Adw.PreferencesGroup({
      description: _("For example vnc://host:5901, host:1 or vnc+unix:///run/vm/vnc.sock"),
    });
    addressGroup.add(this.#entry);

    this.#recentGroup = new Adw.PreferencesGroup({ title: _("Recent Connections"), name: "recent" });

    const box = new Gtk.Box({
      orientation: Gtk.Orientation.VERTICAL,
      spacing: 12,
      margin_top: 24,
      margin_bottom: 24,
      margin_start: 12,
      margin_end: 12,
    });
    box.append(addressGroup);
    box.append(this.#error);
    box.append(this.#recentGroup);
    const scrolled = new Gtk.ScrolledWindow({
      hscrollbar_policy: Gtk.PolicyType.NEVER,
      vexpand: true,
      child: new Adw.Clamp({ maximum_size: 560, child: box }),
    });
    const content = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    content.append(header);
    content.append(scrolled);
    this.set_content(content);

    const escape = new Gtk.ShortcutController();
    escape.add_shortcut(
      new Gtk.Shortcut({
        trigger: Gtk.ShortcutTrigger.parse_string("Escape"),
        action: Gtk.NamedAction.new("window.close"),
      }),
    );
    this.add_controller(escape);

    // Following the setting only while shown: a handler left on the long-lived settings
    // object would keep a closed dialog alive and call into it.
    this.connect("realize", () => {
      this.#settingsHandler = settings.connect(`changed::${RECENT_KEY}`, () => {
        this.#fillRecent();
      });
      this.#fillRecent();
    });
    closeWithParent(this, parent, () => {
      if (this.#settingsHandler !== 0) settings.disconnect(this.#settingsHandler);
      this.#settingsHandler = 0;
    });
    this.#fillRecent();
    this.set_focus(this.#entry);
  }

  /** Whether the address entry holds a server address (the Connect button’s sensitivity). */
  get address_valid(): boolean {
    return this.#uri !== null;
  }

  /** The recent connections as listed, most recent first. */
  get recentConnections(): string[] {
    return this.#recentRows.map((r) => r.get_title());
  }

  #validate(): void {
    const text = this.#entry.get_text();
    const wasValid = this.#uri !== null;
    const check = text.trim() === "" ? null : checkAddress(text);
    this.#uri = check !== null && "uri" in check ? check.uri : null;
    // An empty entry is not an error yet, only nothing to connect to.
    const error = check !== null && "error" in check ? check.error : null;
    this.#error.set_label(error ?? "");
    this.#error.set_visible(error !== null);
    if (error !== null) this.#entry.add_css_class("error");
    else this.#entry.remove_css_class("error");
    this.#connectButton.set_sensitive(this.#uri !== null);
    if (wasValid !== (this.#uri !== null)) this.notify("address-valid");
  }

  #requestConnect(): void {
    if (this.#uri !== null) this.#emitConnect(this.#uri);
  }

  #emitConnect(uri: string): void {
    this.emit("connect-requested", uri);
    this.close();
  }

  #fillRecent(): void {
    for (const row of this.#recentRows) this.#recentGroup.remove(row);
    this.#recentRows = this.#settings.get_strv(RECENT_KEY).map((uri) => {
      const row = new Adw.ActionRow({ title: uri, use_markup: false, activatable: true });
      const remove = new Gtk.Button({
        icon_name: "edit-delete-symbolic",
        tooltip_text: _("Remove From Recent Connections"),
        valign: Gtk.Align.CENTER,
        css_classes: ["flat"],
      });
      remove.connect("clicked", () => {
        forgetConnection(this.#settings, uri);
      });
      row.add_suffix(remove);
      row.add_suffix(new Gtk.Image({ icon_name: "go-next-symbolic" }));
      row.connect("activated", () => {
        this.#emitConnect(uri);
      });
      this.#recentGroup.add(row);
      return row;
    });
    this.#recentGroup.set_visible(this.#recentRows.length > 0);
  }
}
