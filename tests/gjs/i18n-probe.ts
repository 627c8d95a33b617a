// A child program for i18n.spec.ts (bundled as porthole-i18n-probe.js beside the spec
// bundle): builds the viewer's window and its connect dialog, as `porthole` without a URI
// shows them, in the locale this process was started in, and prints what they show as
// JSON on stdout. A process of its own because a process settles its locale once, at
// start-up (setlocale, then gettext's catalogue cache): the spec runs it in each language.

import Adw from "gi://Adw";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { PortholeConnectDialog } from "../../src/app/connect-dialog.js";
import { helpText } from "../../src/app/options.js";
import { PortholeWindow } from "../../src/app/window.js";
import { viewerSettings } from "../../src/platform/config.js";
import { _, initI18n } from "../../src/platform/i18n.js";

/** What one part of the UI shows a person: titles, labels, descriptions, tooltips, menu items. */
export interface ProbeReport {
  /** GLib's languages for this process's environment, most preferred first. */
  readonly languages: readonly string[];
  readonly windowTitle: string | null;
  readonly window: readonly string[];
  readonly dialog: readonly string[];
  readonly help: string;
}

function menuLabels(model: Gio.MenuModel, out: string[]): void {
  for (let i = 0; i < model.get_n_items(); i++) {
    const label = model.get_item_attribute_value(i, "label", GLib.VariantType.new("s"));
    if (label) out.push(label.get_string()[0]);
    for (const link of ["section", "submenu"]) {
      const sub = model.get_item_link(i, link);
      if (sub) menuLabels(sub, out);
    }
  }
}

/**
 * Every string a visible widget under `widget` (itself included) shows, in the order of the
 * widget tree and with repetitions, so that the lists of two languages pair up one to one.
 */
function shownStrings(widget: Gtk.Widget, out: string[] = []): string[] {
  if (!widget.get_visible()) return out;
  const add = (text: string | null | undefined) => {
    if (text) out.push(text);
  };
  add(widget.get_tooltip_text());
  if (widget instanceof Gtk.Window) add(widget.get_title());
  if (widget instanceof Gtk.Label || widget instanceof Gtk.Button) add(widget.get_label());
  if (widget instanceof Adw.WindowTitle) {
    add(widget.get_title());
    add(widget.get_subtitle());
  }
  if (widget instanceof Adw.StatusPage || widget instanceof Adw.PreferencesGroup) {
    add(widget.get_title());
    add(widget.get_description());
  }
  if (widget instanceof Adw.PreferencesRow) add(widget.get_title());
  if (widget instanceof Adw.TabView) {
    for (let i = 0; i < widget.get_n_pages(); i++) add(widget.get_nth_page(i).get_title());
  }
  if (widget instanceof Gtk.MenuButton) {
    const model = widget.get_menu_model();
    if (model) menuLabels(model, out);
  }
  for (let child = widget.get_first_child(); child; child = child.get_next_sibling()) shownStrings(child, out);
  return out;
}

initI18n();
Gtk.init();
Adw.init();
const app = new Adw.Application({ application_id: "dev.porthole.I18nProbe", flags: Gio.ApplicationFlags.NON_UNIQUE });
app.register(null);
const settings = viewerSettings();
const window = new PortholeWindow(app, settings);
const dialog = new PortholeConnectDialog(window, settings);
window.present();
dialog.present();
const report: ProbeReport = {
  languages: GLib.get_language_names(),
  windowTitle: window.get_title(),
  window: shownStrings(window),
  dialog: shownStrings(dialog),
  help: helpText(_),
};
dialog.destroy();
window.destroy();
print(JSON.stringify(report));
