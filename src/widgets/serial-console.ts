// PortholeSerialConsole: a VTE terminal bound to one PortholeStream. The device's output is
// fed to the terminal in order, and its credit goes back to the server only as the
// terminal takes it (PortholeStream.consumed), so a flooding guest is paced by the RFB
// Streams window (spec §6) instead of by memory here. Feeding happens in idle callbacks
// with a byte budget each: redraws, input and the display's own socket reads (default
// priority) always run first, so a flood cannot freeze the window or starve the display.
// Typed input and pastes arrive on VTE's `commit` and are written to the stream.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";
import Vte from "gi://Vte?version=3.91";

import { _ } from "../platform/i18n.js";
import type { PortholeStream } from "./stream.js";

/** Bytes fed to VTE per idle callback: big enough for throughput, small enough for 60 fps. */
const FEED_BUDGET = 64 * 1024;
/** PCRE2 compile flags for VTE searches (pcre2.h): case-insensitive, multi-line, UTF. */
const PCRE2_CASELESS = 0x00000008;
const PCRE2_MULTILINE = 0x00000400;
const PCRE2_UTF = 0x00080000;

export class PortholeSerialConsole extends Gtk.Box {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeSerialConsole",
        CssName: "porthole-serial-console",
        Properties: {
          "scrollback-lines": GObject.ParamSpec.int(
            "scrollback-lines",
            "Scrollback",
            "Lines kept above the screen (-1: all)",
            GObject.ParamFlags.READWRITE,
            -1,
            1_000_000_000,
            10000,
          ),
          status: GObject.ParamSpec.string(
            "status",
            "Status",
            "What the console shows about its stream, for a person",
            GObject.ParamFlags.READABLE,
            "",
          ),
        },
      },
      this,
    );
  }

  declare scrollback_lines: number;

  readonly terminal = new Vte.Terminal({
    hexpand: true,
    vexpand: true,
    scroll_on_output: false,
    scroll_on_keystroke: true,
  });
  readonly #statusBar = new Gtk.Revealer({ transition_type: Gtk.RevealerTransitionType.SLIDE_DOWN });
  readonly #statusLabel = new Gtk.Label({ xalign: 0, hexpand: true, wrap: true });
  readonly #reopen = new Gtk.Button({ label: _("_Reopen"), use_underline: true, valign: Gtk.Align.CENTER });
  readonly #searchBar = new Gtk.SearchBar();
  readonly #searchEntry = new Gtk.SearchEntry({ hexpand: true });
  #stream: PortholeStream | null = null;
  #handlers: number[] = [];
  #pending: Uint8Array[] = [];
  #pendingOffset = 0;
  #feeder = 0;
  #status = "";

  constructor(params: { scrollback_lines?: number } = {}) {
    super({ orientation: Gtk.Orientation.VERTICAL, ...params });
    const bar = new Gtk.Box({ spacing: 12, margin_start: 12, margin_end: 12, margin_top: 6, margin_bottom: 6 });
    bar.append(this.#statusLabel);
    bar.append(this.#reopen);
    this.#statusBar.set_child(bar);
    this.#reopen.connect("clicked", () => {
      this.open();
    });
    this.append(this.#statusBar);

    const searchBox = new Gtk.Box({ spacing: 6 });
    searchBox.append(this.#searchEntry);
    const up = new Gtk.Button({ icon_name: "go-up-symbolic", tooltip_text: _("Previous Match") });
    const down = new Gtk.Button({ icon_name: "go-down-symbolic", tooltip_text: _("Next Match") });
    up.connect("clicked", () => this.search(this.#searchEntry.get_text(), true));
    down.connect("clicked", () => this.search(this.#searchEntry.get_text(), false));
    searchBox.append(up);
    searchBox.append(down);
    this.#searchBar.set_child(searchBox);
    this.#searchBar.connect_entry(this.#searchEntry);
    this.#searchEntry.connect("activate", () => this.search(this.#searchEntry.get_text(), false));
    this.#searchEntry.connect("search-changed", () => this.search(this.#searchEntry.get_text(), false));
    this.append(this.#searchBar);

    const scroller = new Gtk.ScrolledWindow({ child: this.terminal, hexpand: true, vexpand: true });
    this.append(scroller);

    this.terminal.set_scrollback_lines(this.scrollback_lines);
    this.connect("notify::scrollback-lines", () => {
      this.terminal.set_scrollback_lines(this.scrollback_lines);
    });
    this.terminal.connect("commit", (_t, text: string) => {
      this.#input(new TextEncoder().encode(text));
    });
    this.#addShortcuts();
    this.terminal.update_property([Gtk.AccessibleProperty.LABEL], [_("Serial console")]);
  }

  /** What the console shows about its stream ("" while all is well). */
  get status(): string {
    return this.#status;
  }

  get stream(): PortholeStream | null {
    return this.#stream;
  }

  /** Shows `stream` (opening it, with history when kept); null unbinds. */
  bind(stream: PortholeStream | null): void {
    if (this.#stream) for (const id of this.#handlers) this.#stream.disconnect(id);
    this.#handlers = [];
    this.#dropPending();
    this.#stream = stream;
    if (!stream) {
      this.#setStatus("");
      return;
    }
    this.terminal.update_property(
      [Gtk.AccessibleProperty.LABEL],
      [_("Serial console: %s").replace("%s", stream.label)],
    );
    this.#handlers = [
      stream.connect("data", (_s, bytes: GLib.Bytes) => {
        this.#queue(bytes.toArray());
      }),
      stream.connect("opened", () => {
        this.#setStatus(stream.backend_connected ? "" : _("The device is not connected; output resumes when it is."));
      }),
      stream.connect("closed", (_s, reason: string) => {
        this.#setStatus(_("The console is closed: %s").replace("%s", reason), stream.state !== "removed");
      }),
      stream.connect("notify::backend-connected", () => {
        if (stream.state !== "open") return;
        this.#setStatus(stream.backend_connected ? "" : _("The device is not connected; output resumes when it is."));
      }),
    ];
    if (stream.state === "idle" || stream.state === "closed") this.open();
  }

  /** Opens (or reopens) the bound stream. */
  open(): void {
    const stream = this.#stream;
    if (!stream || stream.state === "open" || stream.state === "opening" || stream.state === "removed") return;
    try {
      stream.open();
      this.#setStatus("");
    } catch (e) {
      this.#setStatus(e instanceof Error ? e.message : String(e), true);
    }
  }

  /**
   * Tells the guest's shell this terminal's size by typing `stty rows R cols C` and Enter
   * (a serial line carries no window size; the guest otherwise assumes 80×24).
   */
  resizeGuest(): boolean {
    const rows = this.terminal.get_row_count();
    const cols = this.terminal.get_column_count();
    return this.#input(new TextEncoder().encode(`stty rows ${rows} cols ${cols}\r`));
  }

  /** A serial BREAK (e.g. the Linux magic SysRq prefix), where the device supports it. */
  sendBreak(milliseconds = 250): boolean {
    const stream = this.#stream;
    if (!stream?.break_supported || stream.state !== "open") return false;
    return stream.sendBreak(milliseconds) === "accepted";
  }

  /** Finds `text` (plain text, any case) upwards or downwards; false when not found. */
  search(text: string, backwards: boolean): boolean {
    if (text === "") {
      this.terminal.search_set_regex(null, 0);
      return false;
    }
    const escaped = text.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
    const regex = Vte.Regex.new_for_search(escaped, -1, PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_UTF);
    this.terminal.search_set_regex(regex, 0);
    this.terminal.search_set_wrap_around(true);
    return backwards ? this.terminal.search_find_previous() : this.terminal.search_find_next();
  }

  /** Writes everything the terminal holds (scrollback included) to `file` as text. */
  saveContents(file: Gio.File): void {
    const out = file.replace(null, false, Gio.FileCreateFlags.REPLACE_DESTINATION, null);
    try {
      this.terminal.write_contents_sync(out, Vte.WriteFlags.DEFAULT, null);
    } finally {
      out.close(null);
    }
  }

  /** The terminal's text (what saveContents writes). */
  contents(): string {
    const out = Gio.MemoryOutputStream.new_resizable();
    this.terminal.write_contents_sync(out, Vte.WriteFlags.DEFAULT, null);
    out.close(null);
    return new TextDecoder().decode(out.steal_as_bytes().toArray());
  }

  #input(bytes: Uint8Array): boolean {
    const stream = this.#stream;
    if (stream?.state !== "open" || !stream.can_write) return false;
    const result = stream.write(bytes);
    if (result === "queue-full") {
      // The server has given no credit for a long time: say so rather than lose keys silently.
      this.#setStatus(_("The device is not taking input; what you type is not sent."));
      this.get_native()?.get_surface().beep();
    }
    return result === "accepted";
  }

  #queue(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    if (this.#feeder === 0) this.#feeder = GLib.idle_add(GLib.PRIORITY_DEFAULT_IDLE, () => this.#feed());
  }

  /** One idle turn: at most FEED_BUDGET bytes to VTE, credit for exactly those. */
  #feed(): boolean {
    let budget = FEED_BUDGET;
    let fed = 0;
    while (budget > 0 && this.#pending.length > 0) {
      const head = this.#pending[0];
      if (!head) break;
      const part = head.subarray(this.#pendingOffset, this.#pendingOffset + budget);
      this.terminal.feed(part);
      fed += part.length;
      budget -= part.length;
      this.#pendingOffset += part.length;
      if (this.#pendingOffset >= head.length) {
        this.#pending.shift();
        this.#pendingOffset = 0;
      }
    }
    if (fed > 0) this.#stream?.consumed(fed);
    if (this.#pending.length > 0) return GLib.SOURCE_CONTINUE;
    this.#feeder = 0;
    return GLib.SOURCE_REMOVE;
  }

  #dropPending(): void {
    if (this.#feeder) GLib.source_remove(this.#feeder);
    this.#feeder = 0;
    this.#pending = [];
    this.#pendingOffset = 0;
  }

  #setStatus(text: string, canReopen = false): void {
    this.#status = text;
    this.#statusLabel.set_label(text);
    this.#reopen.set_visible(canReopen);
    this.#statusBar.set_reveal_child(text !== "");
    this.notify("status");
  }

  #addShortcuts(): void {
    const controller = new Gtk.ShortcutController({ propagation_phase: Gtk.PropagationPhase.CAPTURE });
    const add = (accel: string, run: () => void) => {
      controller.add_shortcut(
        new Gtk.Shortcut({
          trigger: Gtk.ShortcutTrigger.parse_string(accel),
          action: Gtk.CallbackAction.new(() => {
            run();
            return true;
          }),
        }),
      );
    };
    add("<Control><Shift>c", () => {
      this.terminal.copy_clipboard_format(Vte.Format.TEXT);
    });
    add("<Control><Shift>v", () => {
      this.terminal.paste_clipboard();
    });
    add("<Control><Shift>f", () => {
      this.#searchBar.set_search_mode(true);
    });
    this.terminal.add_controller(controller);
  }
}
