// The viewer's main window: one server's display with a header bar (title, send-keys,
// power, keyboard-grab indicator, main menu with scaling and screenshot), full screen with
// a reveal-on-top bar, and the connection's life shown in place of the picture:
// connecting, asking for a password or certificate trust, reconnecting with back-off.

import Adw from "gi://Adw";
import Gdk from "gi://Gdk?version=4.0";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";

import { _ } from "../platform/i18n.js";
import { log } from "../platform/log.js";
import { TlsCertificateError } from "../platform/transport.js";
import { formatServerAddress, type ServerAddress } from "../protocol/address.js";
import { ProtocolError } from "../protocol/errors.js";
import type { PowerAction } from "../protocol/extensions/xvp.js";
import { formatKeyCombo, parseKeyCombo } from "../protocol/keys/keysyms.js";
import { SCALINGS, type Scaling } from "../widgets/geometry.js";
import type { PortholeAudioPlayer } from "../widgets/audio-player.js";
import { PortholeSerialConsole } from "../widgets/serial-console.js";
import { PortholeSession } from "../widgets/session.js";
import { PortholeStream, type PortholeStreamList } from "../widgets/stream.js";
import type { PortholeVncDisplay } from "../widgets/vnc-display.js";
import { PortholeCertificateDialog } from "./certificate-dialog.js";
import { PortholeCredentialsDialog } from "./credentials-dialog.js";
import { closeWithParent } from "./connect-dialog.js";
import type { ViewerOptions } from "./options.js";

/** The first wait before reconnecting; doubled after each failed attempt up to the setting. */
const FIRST_RECONNECT_DELAY = 1;
/** Pixels from the top edge that reveal the bar in full screen. */
const REVEAL_EDGE = 3;

/** The combinations in the send-keys menu: [label, combo]. A function: labels are translated at use. */
function sendKeys(): [string, string][] {
  return [
    [_("Ctrl+Alt+Del"), "ctrl+alt+del"],
    [_("Ctrl+Alt+Backspace"), "ctrl+alt+backspace"],
    ...Array.from({ length: 12 }, (_x, i): [string, string] => [
      _("Ctrl+Alt+F%d").replace("%d", String(i + 1)),
      `ctrl+alt+f${i + 1}`,
    ]),
    [_("Print Screen"), "print"],
  ];
}

/** Accelerators of the application that would steal keys from the guest while it has focus. */
const GUEST_SENSITIVE_ACCELS: readonly [string, string[]][] = [["app.quit", ["<Control>q"]]];

type Phase = "idle" | "connecting" | "connected" | "waiting" | "failed";

export class PortholeWindow extends Adw.ApplicationWindow {
  static {
    GObject.registerClass({ GTypeName: "PortholeWindow" }, this);
  }

  /** The display, streams and audio of the one connection; the window adds its life around them. */
  readonly session = new PortholeSession();
  readonly vncDisplay: PortholeVncDisplay = this.session.display;
  /** The server's serial and text consoles (RFB Streams), one tab each. */
  readonly streams: PortholeStreamList = this.session.streams;
  readonly #tabs: Adw.TabView;
  /** The console pages, in the order of the streams model. */
  readonly #consolePages: Adw.TabPage[] = [];
  #closingPages = false;
  /** Plays the guest's sound when the server offers it (QEMU audio), as the settings say. */
  readonly audio: PortholeAudioPlayer = this.session.audio;
  readonly #settings: Gio.Settings;
  readonly #title = new Adw.WindowTitle({ title: _("Porthole") });
  readonly #stack = new Gtk.Stack({ transition_type: Gtk.StackTransitionType.CROSSFADE });
  readonly #status: Adw.StatusPage;
  readonly #statusButtons = new Gtk.Box({ spacing: 12, halign: Gtk.Align.CENTER });
  readonly #header: Adw.HeaderBar;
  readonly #revealer = new Gtk.Revealer({
    transition_type: Gtk.RevealerTransitionType.SLIDE_DOWN,
    valign: Gtk.Align.START,
  });
  readonly #grabIndicator = new Gtk.Image({ icon_name: "input-keyboard-symbolic", visible: false });
  readonly #powerButton: Gtk.MenuButton;
  readonly #volumeButton = new Gtk.VolumeButton({ visible: false, tooltip_text: _("Guest Audio Volume") });
  readonly #toasts = new Adw.ToastOverlay();
  #address: ServerAddress | null = null;
  #options: ViewerOptions | null = null;
  #pinned: string | null = null;
  #phase: Phase = "idle";
  #everConnected = false;
  #retryDelay = FIRST_RECONNECT_DELAY;
  #retryTimer = 0;
  #retryAt = 0;
  #countdownTimer = 0;
  #credentials: PortholeCredentialsDialog | null = null;
  #authError: string | null = null;
  /** What the user last typed in the password dialog, until the server has judged it. */
  #given: { username?: string; password: string } | null = null;
  /** Credentials the server accepted: reconnections (a guest reboot) use them without asking. */
  #remembered: { username?: string; password: string } | null = null;

  constructor(application: Adw.Application, settings: Gio.Settings) {
    super({ application, title: _("Porthole") });
    this.#settings = settings;

    this.#bindSettings();

    this.#header = new Adw.HeaderBar({ title_widget: this.#title });
    this.#powerButton = new Gtk.MenuButton({
      icon_name: "system-shutdown-symbolic",
      menu_model: powerMenu(),
      tooltip_text: _("Power"),
      visible: false,
    });
    this.#header.pack_start(
      new Gtk.MenuButton({
        icon_name: "input-keyboard-symbolic",
        menu_model: sendKeysMenu(),
        tooltip_text: _("Send Keys"),
      }),
    );
    this.#header.pack_start(this.#powerButton);
    this.#header.pack_end(
      new Gtk.MenuButton({ icon_name: "open-menu-symbolic", menu_model: mainMenu(), tooltip_text: _("Main Menu") }),
    );
    this.#header.pack_end(
      new Gtk.Button({
        icon_name: "view-fullscreen-symbolic",
        action_name: "win.fullscreen",
        tooltip_text: _("Full Screen"),
      }),
    );
    this.#header.pack_end(this.#volumeButton);
    this.#header.pack_end(this.#grabIndicator);

    this.#status = new Adw.StatusPage({
      icon_name: "dev.porthole.Viewer-symbolic",
      title: _("No Server"),
      vexpand: true,
    });
    this.#status.set_child(this.#statusButtons);
    const scroller = new Gtk.ScrolledWindow({ child: this.vncDisplay, hexpand: true, vexpand: true });
    this.#stack.add_named(this.#status, "status");
    this.#stack.add_named(scroller, "display");
    this.#stack.set_visible_child_name("status");
    this.#showStatus(
      _("No Server"),
      _("Start Porthole with a server address, for example “porthole vnc://localhost:5900”."),
    );

    // Full screen: the header bar moves into a revealer over the picture, shown while the
    // pointer touches the top edge, like remote-viewer's floating toolbar.
    const leave = new Gtk.Button({
      icon_name: "view-restore-symbolic",
      action_name: "win.fullscreen",
      tooltip_text: _("Leave Full Screen"),
    });
    const bar = new Gtk.Box({ spacing: 6, css_classes: ["osd", "toolbar"], halign: Gtk.Align.CENTER });
    bar.append(
      new Gtk.MenuButton({
        icon_name: "input-keyboard-symbolic",
        menu_model: sendKeysMenu(),
        tooltip_text: _("Send Keys"),
      }),
    );
    bar.append(leave);
    this.#revealer.set_child(bar);
    // Tabs: the display first, then one console per stream the server lists (RFB Streams),
    // added and removed as the server hot-plugs them; the bar hides while there is only
    // the display.
    this.#tabs = new Adw.TabView({ vexpand: true });
    const displayPage = this.#tabs.append(this.#stack);
    displayPage.set_title(_("Display"));
    displayPage.set_icon(Gio.ThemedIcon.new("video-display-symbolic"));
    this.#tabs.connect("close-page", (view: Adw.TabView, page: Adw.TabPage) => {
      // Pages follow the server's streams, not the user: closing one is refused.
      view.close_page_finish(page, this.#closingPages);
      return true;
    });
    this.streams.model.connect("items-changed", (_m, position: number, removed: number, added: number) => {
      this.#syncStreamPages(position, removed, added);
    });
    const tabBox = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    tabBox.append(new Adw.TabBar({ view: this.#tabs, autohide: true }));
    tabBox.append(this.#tabs);
    const overlay = new Gtk.Overlay({ child: tabBox });
    overlay.add_overlay(this.#revealer);
    const edge = new Gtk.EventControllerMotion();
    edge.connect("motion", (_c, _x, y: number) => {
      if (this.is_fullscreen())
        this.#revealer.set_reveal_child(y <= REVEAL_EDGE || (this.#revealer.get_reveal_child() && y < 48));
    });
    overlay.add_controller(edge);
    this.#toasts.set_child(overlay);

    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL });
    box.append(this.#header);
    box.append(this.#toasts);
    this.set_content(box);

    this.#addActions();
    this.#connectDisplay();

    this.connect("notify::fullscreened", () => {
      const full = this.is_fullscreen();
      this.#header.set_visible(!full);
      this.#revealer.set_reveal_child(false);
      (this.lookup_action("fullscreen") as Gio.SimpleAction | null)?.set_state(GLib.Variant.new_boolean(full));
    });

    this.set_default_size(settings.get_int("window-width"), settings.get_int("window-height"));
    if (settings.get_boolean("window-maximized")) this.maximize();
    this.connect("close-request", () => {
      this.#saveState();
      this.#cancelRetry();
      this.session.close();
      this.#restoreAccels();
      return false;
    });
  }

  /** Shows which server this window is for without connecting. */
  showServer(address: ServerAddress): void {
    const text = formatServerAddress(address);
    this.set_title(text);
    this.#title.set_title(text);
    this.#status.set_title(text);
    this.#status.set_description(null);
  }

  /** Connects to `address` and keeps the connection up (reconnecting) until closed. */
  openServer(address: ServerAddress, options: ViewerOptions): void {
    this.#address = address;
    this.#options = options;
    this.#pinned = null;
    this.#remembered = null;
    this.#given = null;
    this.#everConnected = false;
    this.#retryDelay = FIRST_RECONNECT_DELAY;
    this.showServer(address);
    if (options.title) {
      this.set_title(options.title);
      this.#title.set_title(options.title);
    }
    this.vncDisplay.read_only = options.readOnly;
    if (options.releaseCombo) this.vncDisplay.release_combo = options.releaseCombo;
    if (options.scaling) {
      // A command-line choice is for this window only: unbind it from the setting.
      Gio.Settings.unbind(this.vncDisplay, "scaling");
      this.vncDisplay.scaling = options.scaling;
    }
    if (options.fullScreen) this.fullscreen();
    this.#connect();
  }

  /** What the window shows now (for tests and the accessibility tree): a phase name. */
  get phase(): Phase {
    return this.#phase;
  }

  #connect(): void {
    const address = this.#address;
    if (!address) return;
    this.#cancelRetry();
    this.#phase = "connecting";
    this.#showStatus(formatServerAddress(address), _("Connecting…"), [
      [
        _("_Cancel"),
        () => {
          this.#giveUp(_("Cancelled"));
        },
      ],
    ]);
    // The session puts the audio and streams extensions on the connection.
    this.session.open(address, { caFile: this.#options?.caFile ?? null, pinned: this.#pinned });
  }

  #connectDisplay(): void {
    const d = this.vncDisplay;
    d.connect("connected", () => {
      this.#phase = "connected";
      this.#everConnected = true;
      this.#retryDelay = FIRST_RECONNECT_DELAY;
      this.#authError = null;
      if (this.#given) this.#remembered = this.#given;
      this.#given = null;
      this.#stack.set_visible_child_name("display");
      d.grab_focus();
    });
    d.connect("notify::desktop-name", () => {
      const name = d.desktop_name;
      const address = this.#address ? formatServerAddress(this.#address) : "";
      if (this.#options?.title) return;
      this.#title.set_title(name || address);
      this.#title.set_subtitle(name ? address : "");
      this.set_title(name || address);
    });
    d.connect("auth-credential", (_d, username: boolean) => {
      const remembered = this.#remembered;
      if (remembered && (!username || remembered.username !== undefined)) {
        this.#given = remembered;
        d.setCredentials(remembered);
      } else this.#askCredentials(username);
    });
    d.connect("auth-failure", (_d, message: string) => {
      this.#authError = message;
      this.#remembered = null;
      this.#given = null;
    });
    d.connect("certificate-untrusted", (_d, error: TlsCertificateError) => {
      this.#askTrust(error);
    });
    d.connect("disconnected", (_d, reason: string, clean: boolean) => {
      this.#onDisconnected(reason, clean);
    });
    d.connect("notify::keyboard-grabbed", () => {
      this.#grabIndicator.set_visible(d.keyboard_grabbed);
      this.#grabIndicator.set_tooltip_text(
        _("The keyboard is grabbed: press %s to release it").replace("%s", comboLabel(d.release_combo)),
      );
    });
    d.connect("notify::can-power", () => {
      this.#powerButton.set_visible(d.can_power && !d.read_only);
    });
    d.connect("notify::has-focus", () => {
      if (d.has_focus) this.#suspendAccels();
      else this.#restoreAccels();
    });
    d.connect("power-failed", () => {
      this.#toast(_("The server could not carry out the power request"));
    });
    d.connect("resize-result", (_d, status: number, text: string) => {
      if (status !== 0 && status !== 4) log.info(`resize refused: ${text}`);
    });
  }

  #syncStreamPages(position: number, removed: number, added: number): void {
    for (const page of this.#consolePages.splice(position, removed)) {
      const child = page.get_child();
      if (child instanceof PortholeSerialConsole) child.bind(null);
      this.#closingPages = true;
      this.#tabs.close_page(page);
      this.#closingPages = false;
    }
    const pages: Adw.TabPage[] = [];
    for (let i = position; i < position + added; i++) {
      const stream = this.streams.model.get_item(i);
      if (!(stream instanceof PortholeStream)) continue;
      const console = new PortholeSerialConsole();
      this.#settings.bind("scrollback-lines", console, "scrollback-lines", Gio.SettingsBindFlags.GET);
      console.bind(stream);
      const page = this.#tabs.append(console);
      page.set_title(stream.label);
      page.set_tooltip(`${stream.label} (${stream.name}, ${stream.kind})`);
      page.set_icon(Gio.ThemedIcon.new("utilities-terminal-symbolic"));
      stream.connect("notify::state", () => {
        page.set_needs_attention(stream.state === "closed");
      });
      pages.push(page);
    }
    this.#consolePages.splice(position, 0, ...pages);
  }

  /** The console showing the stream named `name`, if the server lists it. */
  consoleFor(name: string): PortholeSerialConsole | null {
    for (const page of this.#consolePages) {
      const child = page.get_child();
      if (child instanceof PortholeSerialConsole && child.stream?.name === name) return child;
    }
    return null;
  }

  /** Shows the tab of `console` (or the display's with null). */
  showConsole(console: PortholeSerialConsole | null): void {
    const page = console ? this.#tabs.get_page(console) : this.#tabs.get_nth_page(0);
    this.#tabs.set_selected_page(page);
  }

  #onDisconnected(reason: string, clean: boolean): void {
    this.#credentials?.close();
    this.#credentials = null;
    if (clean || this.#phase === "failed" || this.#phase === "idle") return;
    const error = this.vncDisplay.lastError;
    const address = this.#address ? formatServerAddress(this.#address) : "";
    if (this.#authError !== null) {
      // Ask again, saying why; a new connection is needed to try another password.
      this.#connect();
      return;
    }
    if (error instanceof TlsCertificateError) return; // #askTrust decides
    if (error instanceof ProtocolError && error.code !== "closed") {
      this.#phase = "failed";
      this.#showStatus(address, _("The connection failed: %s").replace("%s", reason), [
        [
          _("_Reconnect"),
          () => {
            this.#connect();
          },
        ],
      ]);
      return;
    }
    if (!this.#settings.get_boolean("reconnect")) {
      this.#phase = "failed";
      this.#showStatus(address, _("Disconnected: %s").replace("%s", reason), [
        [
          _("_Reconnect"),
          () => {
            this.#connect();
          },
        ],
      ]);
      return;
    }
    this.#scheduleRetry(reason);
  }

  /** Waits, counting down in the window, then reconnects; each failure doubles the wait. */
  #scheduleRetry(reason: string): void {
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, Math.max(1, this.#settings.get_uint("reconnect-max-delay")));
    this.#phase = "waiting";
    this.#retryAt = GLib.get_monotonic_time() + delay * 1e6;
    const show = () => {
      const left = Math.max(0, Math.ceil((this.#retryAt - GLib.get_monotonic_time()) / 1e6));
      const what = this.#everConnected ? _("The connection was lost: %s") : _("Could not connect: %s");
      this.#showStatus(
        this.#address ? formatServerAddress(this.#address) : "",
        `${what.replace("%s", reason)}\n${_("Reconnecting in %d s…").replace("%d", String(left))}`,
        [
          [
            _("_Reconnect Now"),
            () => {
              this.#connect();
            },
          ],
          [
            _("_Cancel"),
            () => {
              this.#giveUp(_("Reconnection cancelled"));
            },
          ],
        ],
      );
    };
    show();
    this.#countdownTimer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 1000, () => {
      show();
      return GLib.SOURCE_CONTINUE;
    });
    this.#retryTimer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, delay * 1000, () => {
      this.#retryTimer = 0;
      this.#connect();
      return GLib.SOURCE_REMOVE;
    });
  }

  #cancelRetry(): void {
    if (this.#retryTimer) GLib.source_remove(this.#retryTimer);
    if (this.#countdownTimer) GLib.source_remove(this.#countdownTimer);
    this.#retryTimer = 0;
    this.#countdownTimer = 0;
  }

  #giveUp(why: string): void {
    this.#cancelRetry();
    this.#phase = "failed";
    this.vncDisplay.close();
    this.#showStatus(this.#address ? formatServerAddress(this.#address) : "", why, [
      [
        _("_Reconnect"),
        () => {
          this.#connect();
        },
      ],
    ]);
  }

  #askCredentials(username: boolean): void {
    const address = this.#address ? formatServerAddress(this.#address) : "";
    const dialog = new PortholeCredentialsDialog(this, { server: address, username, failure: this.#authError });
    this.#authError = null;
    this.#credentials = dialog;
    dialog
      .ask()
      .then((answer) => {
        if (this.#credentials !== dialog) return;
        this.#credentials = null;
        if (answer) {
          this.#given = answer;
          this.vncDisplay.setCredentials(answer);
        } else this.#giveUp(_("No password was given"));
      })
      .catch((e: unknown) => {
        log.warning(`credentials dialog: ${String(e)}`);
      });
  }

  #askTrust(error: TlsCertificateError): void {
    this.#phase = "failed";
    const address = this.#address ? formatServerAddress(this.#address) : "";
    this.#showStatus(address, error.message, [
      [
        _("_Reconnect"),
        () => {
          this.#connect();
        },
      ],
    ]);
    const dialog = new PortholeCertificateDialog(this, address, error);
    dialog
      .ask()
      .then((pem) => {
        if (pem === null) return;
        this.#pinned = pem;
        this.#connect();
      })
      .catch((e: unknown) => {
        log.warning(`certificate dialog: ${String(e)}`);
      });
  }

  #showStatus(title: string, description: string, buttons: readonly [string, () => void][] = []): void {
    this.#status.set_title(title);
    this.#status.set_description(description);
    for (let c = this.#statusButtons.get_first_child(); c; c = this.#statusButtons.get_first_child())
      this.#statusButtons.remove(c);
    for (const [label, run] of buttons) {
      const b = new Gtk.Button({ label, use_underline: true, css_classes: ["pill"] });
      b.connect("clicked", run);
      this.#statusButtons.append(b);
    }
    this.#stack.set_visible_child_name("status");
  }

  #toast(text: string): void {
    this.#toasts.add_toast(new Adw.Toast({ title: text }));
  }

  #bindSettings(): void {
    const s = this.#settings;
    s.bind("audio-enabled", this.audio, "enabled", Gio.SettingsBindFlags.DEFAULT);
    s.bind("audio-volume", this.audio, "volume", Gio.SettingsBindFlags.DEFAULT);
    s.bind("audio-muted", this.audio, "muted", Gio.SettingsBindFlags.DEFAULT);
    s.bind("audio-latency", this.audio, "latency", Gio.SettingsBindFlags.DEFAULT);
    s.bind("audio-volume", this.#volumeButton, "value", Gio.SettingsBindFlags.DEFAULT);
    // The volume control shows only while the server offers audio.
    this.audio.connect("notify::state", () => {
      this.#volumeButton.set_visible(this.audio.state !== "unavailable");
    });
    this.audio.connect("error", (_p, message: string) => {
      // The player's reason is technical (GStreamer's words); the sentence around it is ours.
      this.#toast(_("Sound cannot be played: %s").replace("%s", () => message));
    });
    s.bind("scaling", this.vncDisplay, "scaling", Gio.SettingsBindFlags.DEFAULT);
    s.bind("filter", this.vncDisplay, "filter", Gio.SettingsBindFlags.DEFAULT);
    s.bind("clipboard-to-guest", this.vncDisplay, "clipboard-to-guest", Gio.SettingsBindFlags.DEFAULT);
    s.bind("clipboard-from-guest", this.vncDisplay, "clipboard-from-guest", Gio.SettingsBindFlags.DEFAULT);
  }

  #addActions(): void {
    const scaling = Gio.SimpleAction.new_stateful(
      "scaling",
      GLib.VariantType.new("s"),
      GLib.Variant.new_string(this.vncDisplay.scaling),
    );
    scaling.connect("change-state", (_a, value: GLib.Variant | null) => {
      const v = value?.get_string()[0] ?? "fit";
      if (SCALINGS.includes(v as Scaling)) this.vncDisplay.scaling = v as Scaling;
    });
    this.vncDisplay.connect("notify::scaling", () => {
      scaling.set_state(GLib.Variant.new_string(this.vncDisplay.scaling));
    });
    this.add_action(scaling);

    const fullscreen = Gio.SimpleAction.new_stateful("fullscreen", null, GLib.Variant.new_boolean(false));
    fullscreen.connect("activate", () => {
      if (this.is_fullscreen()) this.unfullscreen();
      else this.fullscreen();
    });
    this.add_action(fullscreen);

    const sendKeys = new Gio.SimpleAction({ name: "send-keys", parameter_type: GLib.VariantType.new("s") });
    sendKeys.connect("activate", (_a, combo: GLib.Variant | null) => {
      const text = combo?.get_string()[0];
      if (text) this.vncDisplay.sendKeys(text);
    });
    this.add_action(sendKeys);

    const power = new Gio.SimpleAction({ name: "power", parameter_type: GLib.VariantType.new("s") });
    power.connect("activate", (_a, what: GLib.Variant | null) => {
      const action = what?.get_string()[0] as PowerAction | undefined;
      if (action) this.#confirmPower(action);
    });
    this.add_action(power);

    const screenshot = new Gio.SimpleAction({ name: "screenshot" });
    screenshot.connect("activate", () => {
      this.#chooseScreenshotFile();
    });
    this.add_action(screenshot);

    const cancel = new Gio.SimpleAction({ name: "cancel-reconnect" });
    cancel.connect("activate", () => {
      if (this.#phase === "waiting" || this.#phase === "connecting") this.#giveUp(_("Reconnection cancelled"));
    });
    this.add_action(cancel);

    // Stateful actions straight from the settings: the menu's check items follow them.
    this.add_action(this.#settings.create_action("audio-enabled"));
    this.add_action(this.#settings.create_action("audio-muted"));

    const reconnect = new Gio.SimpleAction({ name: "reconnect" });
    reconnect.connect("activate", () => {
      this.#connect();
    });
    this.add_action(reconnect);

    const app = this.get_application();
    app?.set_accels_for_action("win.fullscreen", ["F11"]);
    app?.set_accels_for_action("win.screenshot", ["<Control><Shift>s"]);
  }

  #confirmPower(action: PowerAction): void {
    const texts: Record<PowerAction, [string, string]> = {
      shutdown: [_("Shut Down the Guest?"), _("_Shut Down")],
      reboot: [_("Reboot the Guest?"), _("_Reboot")],
      reset: [_("Reset the Guest?"), _("_Reset")],
    };
    const [heading, label] = texts[action];
    const dialog = new Adw.MessageDialog({
      transient_for: this,
      modal: true,
      heading,
      body:
        action === "reset"
          ? _("A reset is like pressing the reset button: unsaved work in the guest is lost.")
          : undefined,
    });
    dialog.add_response("cancel", _("_Cancel"));
    dialog.add_response("do", label);
    dialog.set_response_appearance("do", Adw.ResponseAppearance.DESTRUCTIVE);
    dialog.set_default_response("cancel");
    dialog.set_close_response("cancel");
    closeWithParent(dialog, this);
    dialog.connect("response", (_d, response: string) => {
      if (response === "do" && !this.vncDisplay.power(action))
        this.#toast(_("The server does not take power requests"));
    });
    dialog.present();
  }

  #chooseScreenshotFile(): void {
    const texture = this.vncDisplay.screenshot();
    if (!texture) return;
    const chooser = new Gtk.FileChooserNative({
      title: _("Save Screenshot"),
      transient_for: this,
      modal: true,
      action: Gtk.FileChooserAction.SAVE,
      accept_label: _("_Save"),
    });
    const now = GLib.DateTime.new_now_local().format("%Y-%m-%d %H-%M-%S") ?? "";
    chooser.set_current_name(_("Screenshot from %s.png").replace("%s", now));
    const pictures = GLib.get_user_special_dir(GLib.UserDirectory.DIRECTORY_PICTURES);
    if (pictures) chooser.set_current_folder(Gio.File.new_for_path(pictures));
    chooser.connect("response", (_c, response: Gtk.ResponseType) => {
      const file = chooser.get_file();
      chooser.destroy();
      if (response !== Gtk.ResponseType.ACCEPT || !file) return;
      this.saveScreenshot(file, texture);
    });
    chooser.show();
  }

  /** Writes the display's picture (or `texture`) to `file` as PNG; reports failure in a toast. */
  saveScreenshot(file: Gio.File, texture: Gdk.Texture | null = this.vncDisplay.screenshot()): boolean {
    const path = file.get_path();
    if (!texture || !path) return false;
    if (texture.save_to_png(path)) return true;
    this.#toast(_("Could not save the screenshot to %s").replace("%s", path));
    return false;
  }

  #suspendAccels(): void {
    const app = this.get_application();
    for (const [action] of GUEST_SENSITIVE_ACCELS) app?.set_accels_for_action(action, []);
  }

  #restoreAccels(): void {
    const app = this.get_application();
    for (const [action, accels] of GUEST_SENSITIVE_ACCELS) app?.set_accels_for_action(action, accels);
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

function comboLabel(combo: string): string {
  try {
    return formatKeyCombo(parseKeyCombo(combo));
  } catch {
    return combo;
  }
}

function sendKeysMenu(): Gio.Menu {
  const menu = new Gio.Menu();
  const fkeys = new Gio.Menu();
  for (const [label, combo] of sendKeys()) {
    const item = Gio.MenuItem.new(label, null);
    item.set_action_and_target_value("win.send-keys", GLib.Variant.new_string(combo));
    if (/\+f\d+$/.test(combo)) fkeys.append_item(item);
    else menu.append_item(item);
  }
  menu.insert_submenu(2, _("Ctrl+Alt+F_n"), fkeys);
  return menu;
}

function powerMenu(): Gio.Menu {
  const menu = new Gio.Menu();
  const entries: [string, PowerAction][] = [
    [_("_Shut Down"), "shutdown"],
    [_("_Reboot"), "reboot"],
    [_("R_eset"), "reset"],
  ];
  for (const [label, action] of entries) {
    const item = Gio.MenuItem.new(label, null);
    item.set_action_and_target_value("win.power", GLib.Variant.new_string(action));
    menu.append_item(item);
  }
  return menu;
}

function mainMenu(): Gio.Menu {
  const menu = new Gio.Menu();
  const scaling = new Gio.Menu();
  const choices: [string, Scaling][] = [
    [_("_Fit to Window"), "fit"],
    [_("_Original Size"), "one-to-one"],
    [_("_Resize Guest to Window"), "resize-remote"],
  ];
  for (const [label, value] of choices) {
    const item = Gio.MenuItem.new(label, null);
    item.set_action_and_target_value("win.scaling", GLib.Variant.new_string(value));
    scaling.append_item(item);
  }
  menu.append_section(null, scaling);
  const audio = new Gio.Menu();
  audio.append(_("Play _Audio"), "win.audio-enabled");
  audio.append(_("_Mute Audio"), "win.audio-muted");
  menu.append_section(null, audio);
  const view = new Gio.Menu();
  view.append(_("_Full Screen"), "win.fullscreen");
  view.append(_("Take _Screenshot…"), "win.screenshot");
  view.append(_("Re_connect"), "win.reconnect");
  menu.append_section(null, view);
  const app = new Gio.Menu();
  app.append(_("_About Porthole"), "app.about");
  app.append(_("_Quit"), "app.quit");
  menu.append_section(null, app);
  return menu;
}
