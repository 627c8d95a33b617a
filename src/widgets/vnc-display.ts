// PortholeVncDisplay: a GTK4 widget that shows a VNC server's desktop and sends it the
// user's keyboard, pointer and clipboard. It owns one VncConnection at a time (open() /
// close()); the app (or a Session that adds audio and streams) listens to its signals.
//
// Drawing: decoders write into a MemoryFramebuffer; each decoded rectangle marks the
// TextureTiles it touches dirty, and an update ends with queue_draw(), which GTK folds into
// the next frame-clock tick. So a burst of updates between two frames costs one texture
// rebuild per touched tile, not one per update.
//
// Input goes through a Gtk.EventControllerLegacy: it sees every key (no input method, no
// key bindings of the widget) and every button, which a VNC client needs raw.

import Gdk from "gi://Gdk?version=4.0";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Graphene from "gi://Graphene";
import Gsk from "gi://Gsk";
import Gtk from "gi://Gtk?version=4.0";
import system from "system";

import type { ServerAddress } from "../protocol/address.js";
import type { CursorShape, DesktopLayout, ServerInfo } from "../protocol/client.js";
import { Encoding } from "../protocol/constants.js";
import type { Rect } from "../protocol/decoders/decoder.js";
import { ProtocolError } from "../protocol/errors.js";
import type { Extension } from "../protocol/extension.js";
import { ExtendedClipboardExtension } from "../protocol/extensions/extended-clipboard.js";
import { type LedState, type PointerMode, QemuInputExtension } from "../protocol/extensions/qemu-input.js";
import { type PowerAction, XvpExtension } from "../protocol/extensions/xvp.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { comboEvents, type KeyComboKey, Keysym, parseKeyCombo, unicodeToKeysym } from "../protocol/keys/keysyms.js";
import { evdevToQnum, x11KeycodeToQnum } from "../protocol/keys/xt-scancodes.js";
import { VncConnection } from "../platform/connection.js";
import { _ } from "../platform/i18n.js";
import { TlsCertificateError } from "../platform/transport.js";
import { blankCursor, cursorFromShape, dotCursor } from "./cursor.js";
import {
  FILTERS,
  type Filter,
  place,
  type Placement,
  remoteSizeFor,
  SCALINGS,
  type Scaling,
  ScrollAccumulator,
  toRemote,
} from "./geometry.js";
import { MAX_MAGNIFY, TextureTiles } from "./texture-tiles.js";

Gio._promisify(Gdk.Clipboard.prototype, "read_text_async", "read_text_finish");

/** Rectangles that change pixels (pseudo-encodings' rectangles are not damage). */
const DAMAGE_ENCODINGS: ReadonlySet<number> = new Set([
  Encoding.Raw,
  Encoding.CopyRect,
  Encoding.RRE,
  Encoding.CoRRE,
  Encoding.Hextile,
  Encoding.Zlib,
  Encoding.Tight,
  Encoding.ZRLE,
  Encoding.TightPNG,
]);

/** GDK button → RFB button-mask bit (rfbproto: 1–3 buttons, 4–7 wheel, 8–9 ExtendedMouseButtons). */
const BUTTON_BITS: Readonly<Record<number, number>> = { 1: 1 << 0, 2: 1 << 1, 3: 1 << 2, 8: 1 << 7, 9: 1 << 8 };
const WHEEL_UP = 1 << 3;
const WHEEL_DOWN = 1 << 4;
const WHEEL_LEFT = 1 << 5;
const WHEEL_RIGHT = 1 << 6;
/** Surface-pixel scroll deltas (touchpads) per wheel click: GTK's own scrolled windows move ~50 px a notch. */
const SURFACE_UNITS_PER_CLICK = 20;
/** Wait this long after the last size change before asking the server to resize. */
const RESIZE_DEBOUNCE_MS = 300;
/**
 * A full garbage collection at most this often while updates arrive. gjs 1.74 refuses every
 * callback from C while an incremental collection is sweeping between its slices, and a
 * refused callback is gone: measured with a Tight JPEG desktop at 1080p, the socket's read
 * callback was dropped within seconds (the connection stalled for good), and timers with
 * it. Full collections at a steady pace keep the heap small enough that SpiderMonkey never
 * starts an incremental one; they also free the native memory of textures, which the JS
 * heap's accounting does not see.
 */
const GC_INTERVAL_US = 500_000;

export interface OpenOptions {
  /** CA certificates (PEM file) for VeNCrypt X509 instead of the system's. */
  readonly caFile?: string | null;
  /** A server certificate the user chose to trust (PEM), see VncConnection. */
  readonly pinned?: string | null;
  readonly securityTypes?: readonly number[];
  readonly encodings?: readonly number[];
  /** Further extensions (audio, streams) of a Session sharing this connection. */
  readonly extensions?: readonly Extension[];
  readonly shared?: boolean;
}

interface PressedKey {
  readonly keysym: number;
  readonly qnum: number;
}

/** The display's signals, for typed connect()/emit() (GObject's own are declared per class). */
// GObject signals are typed per class in the GI typings; this interface adds ours to the
// class (declaration merging is the only way to extend connect()/emit() overloads).
export interface VncDisplaySignals extends Gtk.Widget.SignalSignatures {
  /** The desktop is up: ServerInit arrived. */
  connected: () => void;
  /** The connection ended; `clean` when the app closed it, so no reconnection is wanted. */
  disconnected: (reason: string, clean: boolean) => void;
  /** The server wants credentials: answer with setCredentials() or close(). */
  "auth-credential": (username: boolean, password: boolean) => void;
  /** The server refused the credentials, with its reason. */
  "auth-failure": (reason: string) => void;
  /** VeNCrypt X509: the server's certificate is not trusted; the error carries it. */
  "certificate-untrusted": (error: TlsCertificateError) => void;
  "desktop-resize": (width: number, height: number) => void;
  "desktop-name": (name: string) => void;
  /** The answer to our SetDesktopSize (resize-remote): rfbproto status and its meaning. */
  "resize-result": (status: number, text: string) => void;
  bell: () => void;
  "led-state": (scrollLock: boolean, numLock: boolean, capsLock: boolean) => void;
  "server-cut-text": (text: string) => void;
  "power-failed": () => void;
  /** Something went wrong; a `disconnected` follows when it ended the connection. */
  error: (message: string) => void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export interface PortholeVncDisplay {
  $signals: VncDisplaySignals;
  connect<K extends keyof VncDisplaySignals>(
    signal: K,
    callback: GObject.SignalCallback<this, VncDisplaySignals[K]>,
  ): number;
  connect_after<K extends keyof VncDisplaySignals>(
    signal: K,
    callback: GObject.SignalCallback<this, VncDisplaySignals[K]>,
  ): number;
  emit<K extends keyof VncDisplaySignals>(signal: K, ...args: GObject.GjsParameters<VncDisplaySignals[K]>): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export class PortholeVncDisplay extends Gtk.Widget {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeVncDisplay",
        CssName: "porthole-vnc-display",
        Properties: {
          scaling: GObject.ParamSpec.string(
            "scaling",
            "Scaling",
            "fit, one-to-one or resize-remote",
            GObject.ParamFlags.READWRITE,
            "fit",
          ),
          filter: GObject.ParamSpec.string(
            "filter",
            "Filter",
            "linear or nearest",
            GObject.ParamFlags.READWRITE,
            "linear",
          ),
          "read-only": GObject.ParamSpec.boolean(
            "read-only",
            "Read-only",
            "Send no input to the server",
            GObject.ParamFlags.READWRITE,
            false,
          ),
          "clipboard-to-guest": GObject.ParamSpec.boolean(
            "clipboard-to-guest",
            "Clipboard to guest",
            "Send the local clipboard to the server",
            GObject.ParamFlags.READWRITE,
            true,
          ),
          "clipboard-from-guest": GObject.ParamSpec.boolean(
            "clipboard-from-guest",
            "Clipboard from guest",
            "Take the server's clipboard into the local one",
            GObject.ParamFlags.READWRITE,
            true,
          ),
          "local-cursor": GObject.ParamSpec.boolean(
            "local-cursor",
            "Local cursor",
            "Show a dot as the local pointer when the server sends no cursor shape",
            GObject.ParamFlags.READWRITE,
            true,
          ),
          "grab-keyboard": GObject.ParamSpec.boolean(
            "grab-keyboard",
            "Grab keyboard",
            "Inhibit system shortcuts while the display is focused after a click",
            GObject.ParamFlags.READWRITE,
            true,
          ),
          "release-combo": GObject.ParamSpec.string(
            "release-combo",
            "Release combination",
            "Keys that release the keyboard grab",
            GObject.ParamFlags.READWRITE,
            "ctrl+alt",
          ),
          "host-combos": GObject.ParamSpec.boxed(
            "host-combos",
            "Host combinations",
            "Key combinations that always go to the application, never the guest",
            GObject.ParamFlags.READWRITE,
            GLib.strv_get_type(),
          ),
          "keyboard-grabbed": GObject.ParamSpec.boolean(
            "keyboard-grabbed",
            "Keyboard grabbed",
            "System shortcuts are inhibited",
            GObject.ParamFlags.READABLE,
            false,
          ),
          connected: GObject.ParamSpec.boolean(
            "connected",
            "Connected",
            "The desktop is being shown",
            GObject.ParamFlags.READABLE,
            false,
          ),
          "desktop-name": GObject.ParamSpec.string(
            "desktop-name",
            "Desktop name",
            "The server's name for the desktop",
            GObject.ParamFlags.READABLE,
            "",
          ),
          "remote-width": GObject.ParamSpec.int(
            "remote-width",
            "Remote width",
            "Desktop width",
            GObject.ParamFlags.READABLE,
            0,
            65535,
            0,
          ),
          "remote-height": GObject.ParamSpec.int(
            "remote-height",
            "Remote height",
            "Desktop height",
            GObject.ParamFlags.READABLE,
            0,
            65535,
            0,
          ),
          "pointer-mode": GObject.ParamSpec.string(
            "pointer-mode",
            "Pointer mode",
            "absolute or relative (QEMU)",
            GObject.ParamFlags.READABLE,
            "absolute",
          ),
          scancodes: GObject.ParamSpec.boolean(
            "scancodes",
            "Scancodes",
            "Keys are sent as XT scancodes (QEMU extended key events)",
            GObject.ParamFlags.READABLE,
            false,
          ),
          "can-power": GObject.ParamSpec.boolean(
            "can-power",
            "Can power",
            "The server takes xvp power requests",
            GObject.ParamFlags.READABLE,
            false,
          ),
          "can-resize": GObject.ParamSpec.boolean(
            "can-resize",
            "Can resize",
            "The server takes SetDesktopSize",
            GObject.ParamFlags.READABLE,
            false,
          ),
        },
        Signals: {
          connected: {},
          disconnected: { param_types: [GObject.TYPE_STRING, GObject.TYPE_BOOLEAN] },
          "auth-credential": { param_types: [GObject.TYPE_BOOLEAN, GObject.TYPE_BOOLEAN] },
          "auth-failure": { param_types: [GObject.TYPE_STRING] },
          "certificate-untrusted": { param_types: [GObject.TYPE_JSOBJECT] },
          "desktop-resize": { param_types: [GObject.TYPE_INT, GObject.TYPE_INT] },
          "desktop-name": { param_types: [GObject.TYPE_STRING] },
          "resize-result": { param_types: [GObject.TYPE_INT, GObject.TYPE_STRING] },
          bell: {},
          "led-state": { param_types: [GObject.TYPE_BOOLEAN, GObject.TYPE_BOOLEAN, GObject.TYPE_BOOLEAN] },
          "server-cut-text": { param_types: [GObject.TYPE_STRING] },
          "power-failed": {},
          error: { param_types: [GObject.TYPE_STRING] },
        },
      },
      this,
    );
  }

  declare scaling: Scaling;
  declare filter: Filter;
  declare read_only: boolean;
  declare clipboard_to_guest: boolean;
  declare clipboard_from_guest: boolean;
  declare local_cursor: boolean;
  declare grab_keyboard: boolean;
  declare release_combo: string;
  declare host_combos: string[] | null;

  readonly #framebuffer = new MemoryFramebuffer();
  readonly #tiles = new TextureTiles();
  #connection: VncConnection | null = null;
  #qemuInput: QemuInputExtension | null = null;
  #xvp: XvpExtension | null = null;
  #clipboard: ExtendedClipboardExtension | null = null;
  #connected = false;
  #lastError: Error | null = null;
  #desktopName = "";
  #pointerMode: PointerMode = "absolute";
  #scancodes = false;
  #canPower = false;
  #remoteCursor: Gdk.Cursor | null = null;
  #buttons = 0;
  #lastPointer: [number, number] | null = null;
  readonly #scroll = new ScrollAccumulator();
  readonly #pressed = new Map<number, PressedKey>();
  #grabbed = false;
  #toplevel: Gdk.Toplevel | null = null;
  #toplevelHandler = 0;
  #resizeTimer = 0;
  #requestedSize: [number, number] | null = null;
  #clipboardHandler = 0;
  #lastClipboardSent: string | null = null;
  #leds: LedState | null = null;
  #lastCollection = 0;
  #placement: Placement = place("fit", 0, 0, 0, 0, 1);
  readonly #focus = new Gtk.EventControllerFocus();
  #focusHandlers: number[] = [];

  constructor(params: Partial<Gtk.Widget.ConstructorProps> = {}) {
    super({
      focusable: true,
      can_focus: true,
      hexpand: true,
      vexpand: true,
      accessible_role: Gtk.AccessibleRole.IMG,
      ...params,
    });
    this.update_property([Gtk.AccessibleProperty.LABEL], [accessibleLabel("")]);

    const legacy = new Gtk.EventControllerLegacy();
    legacy.connect("event", (_c, event: Gdk.Event) => this.#onEvent(event));
    this.add_controller(legacy);
    this.add_controller(this.#focus);

    this.connect("notify::scaling", () => {
      if (!SCALINGS.includes(this.scaling)) this.scaling = "fit";
      this.queue_resize();
      this.#scheduleRemoteResize();
    });
    this.connect("notify::filter", () => {
      if (!FILTERS.includes(this.filter)) this.filter = "linear";
      this.queue_draw();
    });
    this.connect("notify::local-cursor", () => {
      this.#applyCursor();
    });
    this.connect("notify::read-only", () => {
      if (this.read_only) {
        this.#releaseAllKeys();
        this.endGrab();
      }
    });
    this.connect("notify::release-combo", () => {
      // Validate now so a bad combination is reported where it was set.
      parseKeyCombo(this.release_combo);
    });
    // Focus handlers live while the widget is realized, connected and disconnected from
    // signals: a widget left to the garbage collector is disposed during the sweep, when
    // no JS may run, so nothing of ours must be attached by then (and no vfunc overridden
    // that disposal calls, such as unroot).
    this.connect("realize", () => {
      this.#focusHandlers = [
        this.#focus.connect("enter", () => {
          this.#syncLocks();
          this.#offerClipboard();
        }),
        this.#focus.connect("leave", () => {
          this.#releaseAllKeys();
          this.endGrab();
        }),
      ];
      const cb = this.get_clipboard();
      this.#clipboardHandler = cb.connect("changed", () => {
        if (this.has_focus) this.#offerClipboard();
      });
    });
    this.connect("unrealize", () => {
      for (const id of this.#focusHandlers) this.#focus.disconnect(id);
      this.#focusHandlers = [];
      this.#releaseAllKeys();
      if (this.#clipboardHandler) this.get_clipboard().disconnect(this.#clipboardHandler);
      this.#clipboardHandler = 0;
      this.endGrab();
    });
  }

  // ---- read-only properties -------------------------------------------------------------

  get connected(): boolean {
    return this.#connected;
  }

  get desktop_name(): string {
    return this.#desktopName;
  }

  get remote_width(): number {
    return this.#framebuffer.width;
  }

  get remote_height(): number {
    return this.#framebuffer.height;
  }

  get pointer_mode(): PointerMode {
    return this.#pointerMode;
  }

  get scancodes(): boolean {
    return this.#scancodes;
  }

  get can_power(): boolean {
    return this.#canPower;
  }

  get can_resize(): boolean {
    return this.#connection?.client.canResizeDesktop ?? false;
  }

  get keyboard_grabbed(): boolean {
    return this.#grabbed;
  }

  /** Why the last connection ended, or null after a clean close (the app decides on retries by its class). */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /** The connection's TLS state, for the UI's security indicator. */
  get tls(): boolean {
    return this.#connection?.tls ?? false;
  }

  // ---- connection ---------------------------------------------------------------------------

  /** Connects to `address`, replacing any current connection (which ends cleanly). */
  open(address: ServerAddress, options: OpenOptions = {}): void {
    this.close();
    this.#lastError = null;
    const qemuInput = new QemuInputExtension({
      extendedKeyEventsEnabled: () => {
        this.#scancodes = true;
        this.notify("scancodes");
      },
      pointerModeChanged: (mode) => {
        this.#pointerMode = mode;
        this.#lastPointer = null;
        this.notify("pointer-mode");
      },
      ledStateChanged: (state) => {
        const first = this.#leds === null;
        this.#leds = state;
        this.emit("led-state", state.scrollLock, state.numLock, state.capsLock);
        if (first && this.has_focus) this.#syncLocks();
      },
    });
    const xvp = new XvpExtension({
      xvpAvailable: () => {
        this.#canPower = true;
        this.notify("can-power");
      },
      powerActionFailed: () => {
        this.emit("power-failed");
      },
    });
    const clipboard = new ExtendedClipboardExtension({
      clipboardText: (text) => {
        this.#serverClipboard(text);
      },
    });
    const connection = new VncConnection(
      {
        address,
        caFile: options.caFile ?? null,
        pinned: options.pinned ?? null,
        framebuffer: this.#framebuffer,
        ...(options.securityTypes ? { securityTypes: options.securityTypes } : {}),
        ...(options.encodings ? { encodings: options.encodings } : {}),
        shared: options.shared ?? true,
        extensions: [qemuInput, xvp, clipboard, ...(options.extensions ?? [])],
      },
      {
        connected: (info) => {
          this.#onConnected(info);
        },
        failed: (error) => {
          this.#onFailed(connection, error);
        },
        credentialsRequired: (needed) => {
          this.emit("auth-credential", needed.username, needed.password);
        },
        resized: (w, h) => {
          this.#onResized(w, h);
        },
        rectDecoded: (r) => {
          this.#onRect(r);
        },
        updateComplete: () => {
          this.queue_draw();
          this.#collectGarbage();
        },
        desktopName: (name) => {
          this.#setDesktopName(name);
        },
        desktopLayout: (layout) => {
          this.#onLayout(layout);
        },
        bell: () => {
          this.emit("bell");
          this.get_native()?.get_surface().beep();
        },
        cursor: (shape) => {
          this.#onCursor(shape);
        },
      },
    );
    this.#connection = connection;
    this.#qemuInput = qemuInput;
    this.#xvp = xvp;
    this.#clipboard = clipboard;
    connection.connect();
  }

  /** Answers `auth-credential`. */
  setCredentials(credentials: { username?: string; password?: string }): void {
    this.#connection?.setCredentials({ username: credentials.username ?? "", password: credentials.password ?? "" });
  }

  /** Ends the connection; `disconnected` follows with clean = true if one was open. */
  close(): void {
    const connection = this.#connection;
    if (!connection) return;
    connection.close();
    this.#ended(connection, "the connection was closed", true);
  }

  #onConnected(info: ServerInfo): void {
    this.#connected = true;
    // ServerInit sized the framebuffer; `resized` is only for later changes.
    this.#onResized(info.width, info.height);
    this.#setDesktopName(info.name);
    this.update_property([Gtk.AccessibleProperty.LABEL], [accessibleLabel(info.name)]);
    this.notify("connected");
    this.notify("can-resize");
    this.emit("connected");
    this.#scheduleRemoteResize();
  }

  #onFailed(connection: VncConnection, error: Error): void {
    if (connection !== this.#connection) return;
    this.#lastError = error;
    if (error instanceof ProtocolError && error.code === "auth-failed") this.emit("auth-failure", error.message);
    else if (error instanceof TlsCertificateError) this.emit("certificate-untrusted", error);
    else this.emit("error", error.message);
    this.#ended(connection, error.message, false);
  }

  #ended(connection: VncConnection, reason: string, clean: boolean): void {
    if (connection !== this.#connection) return;
    this.#releaseAllKeys();
    this.#connection = null;
    this.#qemuInput = null;
    this.#xvp = null;
    this.#clipboard = null;
    this.#buttons = 0;
    this.#lastPointer = null;
    this.#lastClipboardSent = null;
    this.#leds = null;
    if (this.#resizeTimer) GLib.source_remove(this.#resizeTimer);
    this.#resizeTimer = 0;
    this.#requestedSize = null;
    const was = this.#connected;
    this.#connected = false;
    if (this.#scancodes) {
      this.#scancodes = false;
      this.notify("scancodes");
    }
    if (this.#canPower) {
      this.#canPower = false;
      this.notify("can-power");
    }
    if (this.#pointerMode !== "absolute") {
      this.#pointerMode = "absolute";
      this.notify("pointer-mode");
    }
    if (was) this.notify("connected");
    // The last picture stays up (greyed out by the app) until the next connection draws.
    this.emit("disconnected", reason, clean);
  }

  #setDesktopName(name: string): void {
    if (name === this.#desktopName) return;
    this.#desktopName = name;
    this.notify("desktop-name");
    this.emit("desktop-name", name);
  }

  #onResized(width: number, height: number): void {
    this.#tiles.resize(width, height);
    this.notify("remote-width");
    this.notify("remote-height");
    this.emit("desktop-resize", width, height);
    this.queue_resize();
  }

  #onLayout(layout: DesktopLayout): void {
    if (layout.reason === "client") {
      this.#requestedSize = null;
      this.emit("resize-result", layout.status, describeResizeStatus(layout.status));
    }
    this.notify("can-resize");
  }

  #onRect(r: Rect): void {
    if (!DAMAGE_ENCODINGS.has(r.encoding)) return;
    this.#tiles.invalidate(r.x, r.y, r.width, r.height);
  }

  #onCursor(shape: CursorShape): void {
    this.#remoteCursor = cursorFromShape(shape);
    this.#applyCursor();
  }

  #applyCursor(): void {
    if (this.#remoteCursor) this.set_cursor(this.#remoteCursor);
    else this.set_cursor(this.local_cursor ? dotCursor() : blankCursor());
  }

  // ---- drawing ------------------------------------------------------------------------------

  override vfunc_get_request_mode(): Gtk.SizeRequestMode {
    return Gtk.SizeRequestMode.CONSTANT_SIZE;
  }

  override vfunc_measure(orientation: Gtk.Orientation, _forSize: number): [number, number, number, number] {
    const sf = this.get_scale_factor();
    const remote = orientation === Gtk.Orientation.HORIZONTAL ? this.#framebuffer.width : this.#framebuffer.height;
    const natural = Math.max(1, Math.ceil(remote / sf));
    // One-to-one needs its whole size (a ScrolledWindow scrolls it); the others scale down.
    return this.scaling === "one-to-one" ? [natural, natural, -1, -1] : [1, natural, -1, -1];
  }

  override vfunc_size_allocate(width: number, height: number, baseline: number): void {
    super.vfunc_size_allocate(width, height, baseline);
    this.#scheduleRemoteResize();
  }

  override vfunc_snapshot(snapshot: Gtk.Snapshot): void {
    const width = this.get_width();
    const height = this.get_height();
    const fb = this.#framebuffer;
    const black = new Gdk.RGBA({ red: 0, green: 0, blue: 0, alpha: 1 });
    snapshot.append_color(black, new Graphene.Rect().init(0, 0, width, height));
    const p = place(this.scaling, width, height, fb.width, fb.height, this.get_scale_factor());
    this.#placement = p;
    if (p.width > 0) {
      // Nearest-neighbour upscaling: replicate pixels to the next whole factor of device
      // pixels (TextureTiles.update); downscaling and 1:1 use the textures as they are.
      const device = p.scale * this.get_scale_factor();
      const magnify =
        this.filter === "nearest" && device > 1 + 1e-6 ? Math.min(MAX_MAGNIFY, Math.ceil(device - 1e-6)) : 1;
      // The GPU resamples unless each texture pixel lands on exactly one device pixel.
      const resampled = Math.abs(device - magnify) > 1e-6;
      const made = this.#tiles.update(fb.bytes, fb.width * 4, magnify, resampled);
      if (made > 0) this.#collectGarbage();
      this.#tiles.appendTo(snapshot, p.x, p.y, p.scale);
    }
    if (this.has_visible_focus()) {
      const accent = new Gdk.RGBA({ red: 0.21, green: 0.52, blue: 0.89, alpha: 0.8 });
      const ring = new Gsk.RoundedRect().init_from_rect(new Graphene.Rect().init(0, 0, width, height), 0);
      snapshot.append_border(ring, [2, 2, 2, 2], [accent, accent, accent, accent]);
    }
  }

  /** See GC_INTERVAL_US. Called after each update and each redraw that made textures. */
  #collectGarbage(): void {
    const now = GLib.get_monotonic_time();
    if (now - this.#lastCollection < GC_INTERVAL_US) return;
    this.#lastCollection = now;
    system.gc();
  }

  /** The current picture, as a texture (the viewer saves it as PNG). Null before a desktop. */
  screenshot(): Gdk.Texture | null {
    const fb = this.#framebuffer;
    if (fb.width === 0 || fb.height === 0) return null;
    return Gdk.MemoryTexture.new(fb.width, fb.height, Gdk.MemoryFormat.B8G8R8A8_PREMULTIPLIED, fb.bytes, fb.width * 4);
  }

  // ---- resize-remote -----------------------------------------------------------------------

  #scheduleRemoteResize(): void {
    if (this.scaling !== "resize-remote" || !this.#connected) return;
    if (this.#resizeTimer) GLib.source_remove(this.#resizeTimer);
    this.#resizeTimer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, RESIZE_DEBOUNCE_MS, () => {
      this.#resizeTimer = 0;
      this.#resizeRemote();
      return GLib.SOURCE_REMOVE;
    });
  }

  #resizeRemote(): void {
    const client = this.#connection?.client;
    if (!client || this.scaling !== "resize-remote" || !client.canResizeDesktop || this.read_only) return;
    const width = this.get_width();
    const height = this.get_height();
    if (width <= 1 || height <= 1) return;
    const [w, h] = remoteSizeFor(width, height, this.get_scale_factor());
    if (w === this.#framebuffer.width && h === this.#framebuffer.height) return;
    const asked = this.#requestedSize;
    if (asked?.[0] === w && asked[1] === h) return;
    this.#requestedSize = [w, h];
    client.setDesktopSize(w, h);
  }

  // ---- input --------------------------------------------------------------------------------

  #onEvent(event: Gdk.Event): boolean {
    const type = event.get_event_type();
    switch (type) {
      case Gdk.EventType.KEY_PRESS:
      case Gdk.EventType.KEY_RELEASE:
        return event instanceof Gdk.KeyEvent && this.#onKey(event, type === Gdk.EventType.KEY_PRESS);
      case Gdk.EventType.BUTTON_PRESS:
      case Gdk.EventType.BUTTON_RELEASE:
        return event instanceof Gdk.ButtonEvent && this.#onButton(event, type === Gdk.EventType.BUTTON_PRESS);
      case Gdk.EventType.MOTION_NOTIFY:
        return this.#onMotion(event);
      case Gdk.EventType.SCROLL:
        return event instanceof Gdk.ScrollEvent && this.#onScroll(event);
      default:
        return false;
    }
  }

  /** Widget coordinates of a pointer event (GDK gives them relative to the surface). */
  #position(event: Gdk.Event): [number, number] | null {
    const [ok, sx, sy] = event.get_position();
    const native = this.get_native();
    if (!ok || !native) return null;
    const [tx, ty] = native.get_surface_transform();
    const [inside, wx, wy] = native.translate_coordinates(this, sx - tx, sy - ty);
    return inside ? [wx, wy] : null;
  }

  #remotePoint(event: Gdk.Event): [number, number] | null {
    const pos = this.#position(event);
    if (!pos) return null;
    return toRemote(this.#placement, this.#framebuffer.width, this.#framebuffer.height, pos[0], pos[1]);
  }

  #inputAllowed(): boolean {
    return this.#connected && !this.read_only;
  }

  #onButton(event: Gdk.ButtonEvent, down: boolean): boolean {
    if (down) {
      this.grab_focus();
      if (this.grab_keyboard && !this.read_only && this.#connected) this.startGrab(event);
    }
    if (!this.#inputAllowed()) return true;
    const bit = BUTTON_BITS[event.get_button()] ?? 0;
    if (bit === 0) return true;
    this.#buttons = down ? this.#buttons | bit : this.#buttons & ~bit;
    this.#sendPointerAt(event);
    return true;
  }

  #onMotion(event: Gdk.Event): boolean {
    if (!this.#inputAllowed()) return false;
    this.#sendPointerAt(event);
    return true;
  }

  #sendPointerAt(event: Gdk.Event): void {
    const client = this.#connection?.client;
    if (!client) return;
    if (this.#pointerMode === "relative" && this.#qemuInput) {
      // QEMU with a relative (PS/2) mouse: send how far the pointer moved, in remote pixels.
      const pos = this.#position(event);
      if (!pos) return;
      const last = this.#lastPointer;
      this.#lastPointer = pos;
      const scale = this.#placement.scale || 1;
      const dx = last ? (pos[0] - last[0]) / scale : 0;
      const dy = last ? (pos[1] - last[1]) / scale : 0;
      this.#qemuInput.pointerMotion(dx, dy, this.#buttons);
      return;
    }
    const at = this.#remotePoint(event);
    if (!at) return;
    this.#lastPointer = at;
    client.sendPointer(at[0], at[1], this.#buttons);
  }

  #onScroll(event: Gdk.ScrollEvent): boolean {
    if (!this.#inputAllowed()) return true;
    let clicksX = 0;
    let clicksY = 0;
    switch (event.get_direction()) {
      case Gdk.ScrollDirection.UP:
        clicksY = -1;
        break;
      case Gdk.ScrollDirection.DOWN:
        clicksY = 1;
        break;
      case Gdk.ScrollDirection.LEFT:
        clicksX = -1;
        break;
      case Gdk.ScrollDirection.RIGHT:
        clicksX = 1;
        break;
      case Gdk.ScrollDirection.SMOOTH: {
        const [dx, dy] = event.get_deltas();
        const perClick = event.get_unit() === Gdk.ScrollUnit.SURFACE ? SURFACE_UNITS_PER_CLICK : 1;
        [clicksX, clicksY] = this.#scroll.add(dx, dy, perClick);
        if (event.is_stop()) this.#scroll.reset();
        break;
      }
    }
    const at = this.#remotePoint(event) ?? this.#lastPointer;
    const client = this.#connection?.client;
    if (!at || !client) return true;
    const click = (bit: number, n: number) => {
      for (let i = 0; i < n; i++) {
        client.sendPointer(at[0], at[1], this.#buttons | bit);
        client.sendPointer(at[0], at[1], this.#buttons);
      }
    };
    click(clicksY < 0 ? WHEEL_UP : WHEEL_DOWN, Math.abs(clicksY));
    click(clicksX < 0 ? WHEEL_LEFT : WHEEL_RIGHT, Math.abs(clicksX));
    return true;
  }

  #onKey(event: Gdk.KeyEvent, down: boolean): boolean {
    const keycode = event.get_keycode();
    const keyval = event.get_keyval();
    if (down && this.#matchesCombo(this.release_combo, keyval) && this.#grabbed) {
      // The release combination ends the grab; its keys still reach the guest (as in
      // remote-viewer), so a guest that saw Ctrl and Alt go down also sees them go up.
      this.endGrab();
    }
    if (down && this.#isHostCombo(keyval)) return false;
    if (!this.#inputAllowed()) return false;
    if (down) {
      // Auto-repeat arrives as repeated presses: the guest repeats keys itself, as on real
      // hardware, and QEMU/Xvnc both accept repeated presses, so they are sent as they come.
      const key = { keysym: keyval, qnum: x11KeycodeToQnum(keycode) };
      this.#pressed.set(keycode, key);
      this.#sendKey(true, key);
    } else {
      // The release of what was pressed: Shift may have been let go first, changing keyval.
      const key = this.#pressed.get(keycode) ?? { keysym: keyval, qnum: x11KeycodeToQnum(keycode) };
      this.#pressed.delete(keycode);
      this.#sendKey(false, key);
    }
    return true;
  }

  #sendKey(down: boolean, key: PressedKey): void {
    const ext = this.#qemuInput;
    if (ext) ext.keyEvent(down, key.keysym, key.qnum);
    else this.#connection?.client.sendKey(down, key.keysym);
  }

  /** Whether pressing `keyval` completes `combo` (all its other keys are held). */
  #matchesCombo(combo: string, keyval: number): boolean {
    let keys: KeyComboKey[];
    try {
      keys = parseKeyCombo(combo);
    } catch {
      return false;
    }
    if (keys.length === 0) return false;
    const held = new Set<number>([...this.#pressed.values()].map((k) => normaliseKeysym(k.keysym)));
    held.add(normaliseKeysym(keyval));
    return (
      keys.every((k) => held.has(normaliseKeysym(k.keysym))) &&
      keys.some((k) => normaliseKeysym(k.keysym) === normaliseKeysym(keyval))
    );
  }

  #isHostCombo(keyval: number): boolean {
    return (this.host_combos ?? []).some((c) => this.#matchesCombo(c, keyval));
  }

  /** Key-up for every key the guest believes is down (focus lost, disconnect, read-only). */
  #releaseAllKeys(): void {
    for (const key of this.#pressed.values()) this.#sendKey(false, key);
    this.#pressed.clear();
    if (this.#buttons !== 0 && this.#lastPointer && this.#pointerMode === "absolute") {
      this.#buttons = 0;
      this.#connection?.client.sendPointer(this.#lastPointer[0], this.#lastPointer[1], 0);
    }
    this.#buttons = 0;
  }

  /**
   * Sends a key combination (presses in order, releases in reverse), e.g. "ctrl+alt+del",
   * or keys already parsed. Throws ProtocolError("invalid-argument") for an unknown key name.
   */
  sendKeys(combo: string | readonly KeyComboKey[]): void {
    const keys = typeof combo === "string" ? parseKeyCombo(combo) : combo;
    if (!this.#inputAllowed()) return;
    for (const { down, key } of comboEvents(keys))
      this.#sendKey(down, { keysym: key.keysym, qnum: evdevToQnum(key.evdev) });
  }

  /**
   * Types `text` as key presses, for guests without a clipboard (a login prompt, a BIOS).
   * With scancodes each character is found on the local keyboard layout (with Shift or
   * AltGr as that layout needs), as if typed; characters the layout lacks are sent as
   * keysyms alone. Returns how many characters could not be typed at all.
   */
  typeText(text: string): number {
    if (!this.#inputAllowed()) return 0;
    let skipped = 0;
    const display = this.get_display();
    for (const ch of text) {
      const keysym = unicodeToKeysym(ch.codePointAt(0) ?? 0);
      if (keysym === 0) {
        skipped++;
        continue;
      }
      const found = this.#scancodes ? findKey(display, keysym) : null;
      if (!found) {
        this.#sendKey(true, { keysym, qnum: 0 });
        this.#sendKey(false, { keysym, qnum: 0 });
        continue;
      }
      const mods: PressedKey[] = [];
      if (found.level & 1) mods.push({ keysym: Keysym.Shift_L, qnum: SHIFT_QNUM });
      if (found.level & 2) mods.push({ keysym: Keysym.ISO_Level3_Shift, qnum: ALTGR_QNUM });
      for (const m of mods) this.#sendKey(true, m);
      this.#sendKey(true, { keysym, qnum: found.qnum });
      this.#sendKey(false, { keysym, qnum: found.qnum });
      for (const m of mods.reverse()) this.#sendKey(false, m);
    }
    return skipped;
  }

  /** Makes the guest's Caps Lock and Num Lock match the local keyboard's (QEMU LED state). */
  #syncLocks(): void {
    const leds = this.#leds;
    if (!leds || !this.#inputAllowed() || !this.#scancodes) return;
    const keyboard = this.get_display().get_default_seat()?.get_keyboard();
    if (!keyboard) return;
    const tap = (keysym: number, qnum: number) => {
      this.#sendKey(true, { keysym, qnum });
      this.#sendKey(false, { keysym, qnum });
    };
    if (keyboard.get_caps_lock_state() !== leds.capsLock) tap(Keysym.Caps_Lock, evdevToQnum(58));
    if (keyboard.get_num_lock_state() !== leds.numLock) tap(Keysym.Num_Lock, evdevToQnum(69));
  }

  /**
   * Inhibits the compositor's shortcuts (Alt+Tab, Super…) so they reach the guest. Only
   * GDK's Wayland backend implements this (keyboard-shortcuts-inhibit protocol; GNOME asks
   * the user once); on X11 GTK 4.8's default is a no-op and GTK 4 has no seat grabs, so
   * `keyboard-grabbed` stays false there and the window manager keeps its shortcuts.
   */
  startGrab(event: Gdk.Event | null = null): void {
    if (this.#grabbed || this.read_only) return;
    const surface = this.get_native()?.get_surface();
    if (!(surface instanceof Gdk.Toplevel)) return;
    this.#toplevel = surface;
    this.#toplevelHandler = surface.connect("notify::shortcuts-inhibited", () => {
      const now = surface.shortcuts_inhibited;
      if (now !== this.#grabbed) {
        this.#grabbed = now;
        this.notify("keyboard-grabbed");
      }
    });
    // With the triggering event, X11 grabs at that event's time (a grab at CurrentTime
    // during the click's own implicit pointer grab is refused).
    surface.inhibit_system_shortcuts(event);
    // X11 answers at once; Wayland may ask the user and answer later through the property.
    if (surface.shortcuts_inhibited && !this.keyboard_grabbed) {
      this.#grabbed = true;
      this.notify("keyboard-grabbed");
    }
  }

  endGrab(): void {
    const toplevel = this.#toplevel;
    if (!toplevel) return;
    this.#toplevel = null;
    toplevel.disconnect(this.#toplevelHandler);
    this.#toplevelHandler = 0;
    toplevel.restore_system_shortcuts();
    if (this.#grabbed) {
      this.#grabbed = false;
      this.notify("keyboard-grabbed");
    }
  }

  // ---- clipboard ---------------------------------------------------------------------------

  #offerClipboard(): void {
    if (!this.clipboard_to_guest || !this.#inputAllowed() || !this.#clipboard) return;
    const cb = this.get_clipboard();
    // Our own content is the guest's text coming back: do not echo it.
    if (cb.is_local()) return;
    const formats = cb.get_formats();
    if (
      !formats.contain_gtype(GObject.TYPE_STRING) &&
      !formats.contain_mime_type("text/plain;charset=utf-8") &&
      !formats.contain_mime_type("text/plain")
    )
      return;
    const ext = this.#clipboard;
    cb.read_text_async(null)
      .then((text) => {
        if (text === null || ext !== this.#clipboard || text === this.#lastClipboardSent) return;
        this.#lastClipboardSent = text;
        try {
          ext.setClipboard(text);
        } catch (e) {
          if (e instanceof ProtocolError) this.emit("error", e.message);
          else throw e;
        }
      })
      .catch(() => {
        // The owner went away or offered no text after all: nothing to send.
      });
  }

  #serverClipboard(text: string): void {
    this.emit("server-cut-text", text);
    if (!this.clipboard_from_guest) return;
    this.#lastClipboardSent = text;
    this.get_clipboard().set_content(Gdk.ContentProvider.new_for_value(text));
  }

  /** Asks the server (xvp) to shut down, reboot or reset the guest. False if it cannot. */
  power(action: PowerAction): boolean {
    if (this.read_only || !this.#xvp?.available) return false;
    return this.#xvp.power(action);
  }
}

/** The display's accessible name. */
function accessibleLabel(name: string): string {
  return name ? _("Remote display of %s").replace("%s", name) : _("Remote display");
}

function describeResizeStatus(status: number): string {
  switch (status) {
    case 0:
      return "the desktop was resized";
    case 1:
      return "the server does not allow this client to resize the desktop";
    case 2:
      return "the server has no resources to resize the desktop";
    case 3:
      return "the server rejected the screen layout";
    default:
      return `the server answered status ${status}`;
  }
}

/** Left and right variants of a modifier count as the same key in combinations. */
function normaliseKeysym(keysym: number): number {
  switch (keysym) {
    case Keysym.Control_R:
      return Keysym.Control_L;
    case Keysym.Alt_R:
      return Keysym.Alt_L;
    case Keysym.Shift_R:
      return Keysym.Shift_L;
    case Keysym.Super_R:
      return Keysym.Super_L;
    default:
      return keysym >= 0x61 && keysym <= 0x7a ? keysym - 0x20 : keysym;
  }
}

const SHIFT_QNUM = 0x2a;
const ALTGR_QNUM = 0xb8;

/** Where a keysym lives on the local layout: its scancode and shift level (bit 0 Shift, bit 1 AltGr). */
function findKey(display: Gdk.Display, keysym: number): { qnum: number; level: number } | null {
  const [ok, keys] = display.map_keyval(keysym);
  if (!ok) return null;
  let best: { qnum: number; level: number } | null = null;
  for (const k of keys) {
    if (k.group !== 0 || k.level > 3) continue;
    const qnum = x11KeycodeToQnum(k.keycode);
    if (qnum === 0) continue;
    if (!best || k.level < best.level) best = { qnum, level: k.level };
  }
  return best;
}
