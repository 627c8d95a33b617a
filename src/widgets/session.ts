// PortholeSession: one server's whole console for an app that lays it out itself (a
// virtual-machine manager, the viewer window). It owns the three parts that share one RFB
// connection — the PortholeVncDisplay that owns the connection, the PortholeStreamList of
// its RFB Streams and the PortholeAudioPlayer of its QEMU audio — and opens the connection
// with the streams' and audio's extensions on it, which is the one thing an app composing
// the widgets by hand must not forget (without them the server never offers either).
//
// The session is not a widget: the app puts `display` and the consoles from consoleFor()
// wherever it likes. Its signals repeat the display's connection lifecycle so an app can
// listen in one place; the display's own signals stay available for the rest.

import GObject from "gi://GObject";

import { parseServerAddress, type ServerAddress, formatServerAddress } from "../protocol/address.js";
import type { TlsCertificateError } from "../platform/transport.js";
import { PortholeAudioPlayer } from "./audio-player.js";
import { PortholeSerialConsole } from "./serial-console.js";
import { PortholeStream, PortholeStreamList } from "./stream.js";
import { type OpenOptions, PortholeVncDisplay } from "./vnc-display.js";

/** What open() takes: the display's options; `extensions` go on after audio and streams. */
export type SessionOpenOptions = OpenOptions;

/** The session's signals, for typed connect()/emit() (see vnc-display.ts for why merging). */
export interface SessionSignals extends GObject.Object.SignalSignatures {
  /** The desktop is up: ServerInit arrived (streams and audio follow as the server offers them). */
  connected: () => void;
  /** The connection ended; `clean` when the app closed it (close() or a new open()), so no reconnection is wanted. */
  disconnected: (reason: string, clean: boolean) => void;
  /** The server wants credentials: answer with setCredentials() or close(). */
  "auth-credential": (username: boolean, password: boolean) => void;
  /** The server refused the credentials, with its reason; `disconnected` follows. */
  "auth-failure": (reason: string) => void;
  /** VeNCrypt X509: the server's certificate is not trusted; `disconnected` follows. */
  "certificate-untrusted": (error: TlsCertificateError) => void;
  /**
   * Something went wrong: the connection (`disconnected` follows when it ended it) or the
   * audio playback (the connection stays up; audio resumes with the guest's next sound).
   */
  error: (message: string) => void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export interface PortholeSession {
  $signals: SessionSignals;
  connect<K extends keyof SessionSignals>(signal: K, callback: GObject.SignalCallback<this, SessionSignals[K]>): number;
  connect_after<K extends keyof SessionSignals>(
    signal: K,
    callback: GObject.SignalCallback<this, SessionSignals[K]>,
  ): number;
  emit<K extends keyof SessionSignals>(signal: K, ...args: GObject.GjsParameters<SessionSignals[K]>): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export class PortholeSession extends GObject.Object {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeSession",
        Properties: {
          display: GObject.ParamSpec.object(
            "display",
            "Display",
            "The server's desktop; it owns the connection",
            GObject.ParamFlags.READABLE,
            PortholeVncDisplay.$gtype,
          ),
          streams: GObject.ParamSpec.object(
            "streams",
            "Streams",
            "The server's serial and text consoles (RFB Streams)",
            GObject.ParamFlags.READABLE,
            PortholeStreamList.$gtype,
          ),
          audio: GObject.ParamSpec.object(
            "audio",
            "Audio",
            "Plays the guest's sound (QEMU audio)",
            GObject.ParamFlags.READABLE,
            PortholeAudioPlayer.$gtype,
          ),
          connected: GObject.ParamSpec.boolean(
            "connected",
            "Connected",
            "The desktop is being shown",
            GObject.ParamFlags.READABLE,
            false,
          ),
          address: GObject.ParamSpec.string(
            "address",
            "Address",
            "The server last opened, as a URI (empty before open)",
            GObject.ParamFlags.READABLE,
            "",
          ),
        },
        Signals: {
          connected: {},
          disconnected: { param_types: [GObject.TYPE_STRING, GObject.TYPE_BOOLEAN] },
          "auth-credential": { param_types: [GObject.TYPE_BOOLEAN, GObject.TYPE_BOOLEAN] },
          "auth-failure": { param_types: [GObject.TYPE_STRING] },
          "certificate-untrusted": { param_types: [GObject.TYPE_JSOBJECT] },
          error: { param_types: [GObject.TYPE_STRING] },
        },
      },
      this,
    );
  }

  readonly #display = new PortholeVncDisplay();
  readonly #streams = new PortholeStreamList();
  readonly #audio = new PortholeAudioPlayer();
  /** Consoles made by consoleFor(), by stream name: they follow their stream across reconnections. */
  readonly #consoles = new Map<string, PortholeSerialConsole>();
  #address: ServerAddress | null = null;
  /** Whether `connected` was last notified as true (the display's value may already be false). */
  #up = false;

  constructor() {
    super();
    const d = this.#display;
    // Only the display's own signals (emitted from its JS code) are listened to, never
    // anything GTK emits while tearing a widget down: a display left to the garbage
    // collector is disposed during the sweep, when no JS may run.
    d.connect("connected", () => {
      this.#up = true;
      this.notify("connected");
      this.emit("connected");
    });
    d.connect("disconnected", (_d, reason: string, clean: boolean) => {
      if (this.#up) {
        this.#up = false;
        this.notify("connected");
      }
      this.emit("disconnected", reason, clean);
    });
    d.connect("auth-credential", (_d, username: boolean, password: boolean) => {
      this.emit("auth-credential", username, password);
    });
    d.connect("auth-failure", (_d, reason: string) => {
      this.emit("auth-failure", reason);
    });
    d.connect("certificate-untrusted", (_d, error: TlsCertificateError) => {
      this.emit("certificate-untrusted", error);
    });
    d.connect("error", (_d, message: string) => {
      this.emit("error", message);
    });
    this.#audio.connect("error", (_a, message: string) => {
      this.emit("error", message);
    });
    // A reconnection lists the streams again as new objects: consoles the app placed get
    // the new stream of their name, so they stay where they are and carry on.
    this.#streams.model.connect("items-changed", (model, position: number, _removed: number, added: number) => {
      for (let i = position; i < position + added; i++) {
        const stream = model.get_item(i);
        if (!(stream instanceof PortholeStream)) continue;
        const console = this.#consoles.get(stream.name);
        if (console && console.stream !== stream) console.bind(stream);
      }
    });
  }

  get display(): PortholeVncDisplay {
    return this.#display;
  }

  get streams(): PortholeStreamList {
    return this.#streams;
  }

  get audio(): PortholeAudioPlayer {
    return this.#audio;
  }

  get connected(): boolean {
    return this.#display.connected;
  }

  get address(): string {
    return this.#address ? formatServerAddress(this.#address) : "";
  }

  /** Why the last connection ended, or null after a clean close (see PortholeVncDisplay.lastError). */
  get lastError(): Error | null {
    return this.#display.lastError;
  }

  /**
   * Connects to `address` (a ServerAddress, or text such as "vnc://host:5900" or
   * "vnc+unix:///path", which throws ProtocolError("invalid-argument") when it is not an
   * address) with the audio and streams extensions, then `options.extensions`. A current
   * connection ends first (`disconnected` with clean = true).
   */
  open(address: ServerAddress | string, options: SessionOpenOptions = {}): void {
    const parsed = typeof address === "string" ? parseServerAddress(address) : address;
    const changed = this.address !== formatServerAddress(parsed);
    this.#address = parsed;
    if (changed) this.notify("address");
    this.#display.open(parsed, {
      ...options,
      extensions: [this.#audio.extension, this.#streams.extension, ...(options.extensions ?? [])],
    });
  }

  /** Answers `auth-credential`. */
  setCredentials(credentials: { username?: string; password?: string }): void {
    this.#display.setCredentials(credentials);
  }

  /**
   * Ends the connection (`disconnected` follows with clean = true if one was open) and
   * releases the sound device. The widgets stay, showing the last picture and output; a
   * later open() uses them again.
   */
  close(): void {
    this.#display.close();
    this.#audio.shutdown();
  }

  /**
   * A PortholeSerialConsole bound to the stream named `name` (e.g. "serial0"), opened with
   * its history; null while the server lists no such stream. The first call makes it, later
   * ones return the same widget (a widget has one parent), and it is rebound whenever the
   * server lists a stream of that name again (after a reconnection or a hot-plug).
   */
  consoleFor(name: string): PortholeSerialConsole | null {
    const known = this.#consoles.get(name);
    if (known) return known;
    const stream = this.#streams.find(name);
    if (!stream) return null;
    const console = new PortholeSerialConsole();
    this.#consoles.set(name, console);
    console.bind(stream);
    return console;
  }

  /** Unbinds the console consoleFor(`name`) made and forgets it; the app disposes of the widget. */
  releaseConsole(name: string): void {
    const console = this.#consoles.get(name);
    if (!console) return;
    this.#consoles.delete(name);
    const stream = console.stream;
    console.bind(null);
    // Nobody reads it any more: left open, its unread output would hold the server's credit.
    stream?.close();
  }
}
