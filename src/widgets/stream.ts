// RFB Streams (docs/streams.md) as GObjects: a PortholeStreamList owns the connection's
// StreamsExtension and keeps a Gio.ListStore of PortholeStream, one per stream the server
// lists, added and removed as the server hot-plugs them. A PortholeStream is what a
// SerialConsole, porthole-console or an app binds to: properties for its description and
// state, a `data` signal with the device's output, and write()/close()/sendBreak().
//
// Output is reported consumed by whoever shows it (consumed()), so the server's credit
// follows the reader: a flooding guest is held back by the window, not by memory here.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import GObject from "gi://GObject";

import {
  closeReasonText,
  type StreamClosed,
  type StreamInfo,
  type StreamOpenOptions,
  StreamsExtension,
  type StreamWriteResult,
} from "../protocol/streams.js";

export type StreamObjectState = "idle" | "opening" | "open" | "closing" | "closed" | "removed";

export interface StreamSignals extends GObject.Object.SignalSignatures {
  /** Output of the device (history first, flagged), as GLib.Bytes. */
  data: (bytes: GLib.Bytes, history: boolean) => void;
  opened: () => void;
  /** The session ended (or the OPEN failed): why, in words for a person. */
  closed: (reason: string) => void;
  "write-drained": () => void;
}

// GObject signals are typed per class in the GI typings (see vnc-display.ts).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export interface PortholeStream {
  $signals: StreamSignals;
  connect<K extends keyof StreamSignals>(signal: K, callback: GObject.SignalCallback<this, StreamSignals[K]>): number;
  emit<K extends keyof StreamSignals>(signal: K, ...args: GObject.GjsParameters<StreamSignals[K]>): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export class PortholeStream extends GObject.Object {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeStream",
        Properties: {
          name: GObject.ParamSpec.string(
            "name",
            "Name",
            "The device id, e.g. serial0",
            GObject.ParamFlags.READABLE,
            "",
          ),
          label: GObject.ParamSpec.string(
            "label",
            "Label",
            "Human text, e.g. Serial port 1",
            GObject.ParamFlags.READABLE,
            "",
          ),
          kind: GObject.ParamSpec.string(
            "kind",
            "Kind",
            "serial, console, parallel, monitor or channel",
            GObject.ParamFlags.READABLE,
            "",
          ),
          writable: GObject.ParamSpec.boolean(
            "writable",
            "Writable",
            "The stream takes input",
            GObject.ParamFlags.READABLE,
            false,
          ),
          "can-write": GObject.ParamSpec.boolean(
            "can-write",
            "Can write",
            "This session may write",
            GObject.ParamFlags.READABLE,
            false,
          ),
          "break-supported": GObject.ParamSpec.boolean(
            "break-supported",
            "BREAK",
            "The device takes a serial BREAK",
            GObject.ParamFlags.READABLE,
            false,
          ),
          state: GObject.ParamSpec.string(
            "state",
            "State",
            "idle, opening, open, closing, closed or removed",
            GObject.ParamFlags.READABLE,
            "idle",
          ),
          "backend-connected": GObject.ParamSpec.boolean(
            "backend-connected",
            "Backend connected",
            "The device's far side is there",
            GObject.ParamFlags.READABLE,
            true,
          ),
        },
        Signals: {
          data: { param_types: [GLib.Bytes.$gtype, GObject.TYPE_BOOLEAN] },
          opened: {},
          closed: { param_types: [GObject.TYPE_STRING] },
          "write-drained": {},
        },
      },
      this,
    );
  }

  readonly id: number;
  readonly #info: StreamInfo;
  readonly #ext: StreamsExtension;
  #state: StreamObjectState = "idle";
  #canWrite = false;
  #backend = true;

  constructor(ext: StreamsExtension, info: StreamInfo) {
    super();
    this.id = info.id;
    this.#info = info;
    this.#ext = ext;
  }

  get name(): string {
    return this.#info.name;
  }

  get label(): string {
    return this.#info.label || this.#info.name;
  }

  get kind(): string {
    return this.#info.kind;
  }

  get writable(): boolean {
    return this.#info.writable;
  }

  get can_write(): boolean {
    return this.#canWrite;
  }

  get break_supported(): boolean {
    return this.#info.breakSupported;
  }

  get history_available(): boolean {
    return this.#info.historyAvailable;
  }

  get state(): StreamObjectState {
    return this.#state;
  }

  get backend_connected(): boolean {
    return this.#backend;
  }

  /** Bytes written but still waiting for the server's credit. */
  get queuedBytes(): number {
    return this.#ext.queuedBytes(this.id);
  }

  /** Opens the stream (history replayed first when the server keeps it). */
  open(options: StreamOpenOptions = {}): void {
    this.#ext.open(this.id, options);
    this.#setState("opening");
  }

  close(): boolean {
    const asked = this.#ext.close(this.id);
    if (asked) this.#setState("closing");
    return asked;
  }

  /** Writes bytes (queued while credit lacks, bounded: "queue-full" takes nothing). */
  write(bytes: Uint8Array): StreamWriteResult {
    return this.#ext.write(this.id, bytes);
  }

  sendBreak(milliseconds = 250): StreamWriteResult {
    return this.#ext.sendBreak(this.id, milliseconds);
  }

  /** The reader has shown `n` bytes of output: the server may send that much more. */
  consumed(n: number): void {
    this.#ext.consumed(this.id, n);
  }

  // ---- from the list's listener ----

  _opened(write: boolean): void {
    this.#canWrite = write;
    this.notify("can-write");
    this.#setState("open");
    this.emit("opened");
  }

  _closed(reason: string): void {
    this.#canWrite = false;
    this.notify("can-write");
    if (this.#state !== "removed") this.#setState("closed");
    this.emit("closed", reason);
  }

  _removed(): void {
    const was = this.#state;
    this.#setState("removed");
    if (was === "open" || was === "opening" || was === "closing") this.emit("closed", "the stream was removed");
  }

  _backend(connected: boolean): void {
    if (connected === this.#backend) return;
    this.#backend = connected;
    this.notify("backend-connected");
  }

  #setState(state: StreamObjectState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.notify("state");
  }
}

/**
 * The connection's streams as a list model. Give `extension` to the connection (the
 * display's OpenOptions.extensions) and bind a view to `model`.
 */
export class PortholeStreamList extends GObject.Object {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeStreamList",
        Properties: {
          available: GObject.ParamSpec.boolean(
            "available",
            "Available",
            "The server speaks RFB Streams",
            GObject.ParamFlags.READABLE,
            false,
          ),
        },
      },
      this,
    );
  }

  readonly model = new Gio.ListStore({ item_type: PortholeStream.$gtype });
  readonly extension: StreamsExtension;
  readonly #byId = new Map<number, PortholeStream>();
  #available = false;

  constructor() {
    super();
    this.extension = new StreamsExtension({
      acknowledged: () => {
        this.#available = true;
        this.notify("available");
      },
      streamAdded: (info) => {
        const stream = new PortholeStream(this.extension, info);
        this.#byId.set(info.id, stream);
        this.model.append(stream);
      },
      streamRemoved: (id) => {
        this.#remove(id);
      },
      opened: (id, info) => this.#byId.get(id)?._opened(info.write),
      openFailed: (id, failure) => this.#byId.get(id)?._closed(failure.text),
      data: (id, bytes, history) => {
        const stream = this.#byId.get(id);
        if (stream) stream.emit("data", new GLib.Bytes(bytes), history);
        else this.extension.consumed(id, bytes.length);
      },
      closed: (id, info: StreamClosed) => {
        const text = info.message ? `${closeReasonText(info.reason)}: ${info.message}` : info.text;
        this.#byId.get(id)?._closed(text);
      },
      backendState: (id, connected) => this.#byId.get(id)?._backend(connected),
      writeDrained: (id) => this.#byId.get(id)?.emit("write-drained"),
      detached: () => {
        for (const id of [...this.#byId.keys()]) this.#remove(id);
        if (this.#available) {
          this.#available = false;
          this.notify("available");
        }
      },
    });
  }

  get available(): boolean {
    return this.#available;
  }

  /** The stream named `name` (e.g. "serial0"), if the server lists it. */
  find(name: string): PortholeStream | null {
    for (const s of this.#byId.values()) if (s.name === name) return s;
    return null;
  }

  #remove(id: number): void {
    const stream = this.#byId.get(id);
    if (!stream) return;
    this.#byId.delete(id);
    const [found, position] = this.model.find(stream);
    if (found) this.model.remove(position);
    stream._removed();
  }
}
