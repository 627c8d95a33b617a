// PortholeSerialConsole and the stream GObjects over the real Streams client, fed the
// server's side of a conversation as the wire contract spells it (tests/node/streams-helpers.ts):
// output lands in the VTE terminal in order, credit goes back only as the terminal takes
// it, typed input becomes DATA, and the console says when the device or the stream goes.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { PortholeSerialConsole } from "../../src/widgets/serial-console.js";
import { PortholeStream, PortholeStreamList } from "../../src/widgets/stream.js";
import { S } from "../node/streams-helpers.js";
import { waitFor } from "./processes.js";

/** A client stream message as sent: op, id and payload. */
interface Sent {
  op: number;
  id: number;
  payload: Uint8Array;
}

function parse(bytes: Uint8Array): Sent {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { op: v.getUint16(2), id: v.getUint32(4), payload: bytes.subarray(12, 12 + v.getUint32(8)) };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("PortholeSerialConsole", () => {
  let list: PortholeStreamList;
  let sent: Sent[];
  let window: Gtk.Window;
  let console: PortholeSerialConsole;
  let stream: PortholeStream;

  const deliver = (message: number[]) => {
    const q = new ByteQueue();
    q.push(new Uint8Array(message));
    while (q.length > 0) expect(list.extension.message(q)).toBeTrue();
  };

  beforeAll(() => {
    list = new PortholeStreamList();
    sent = [];
    list.extension.attach({
      send: (d) => sent.push(parse(d)),
      framebuffer: new MemoryFramebuffer(),
      acknowledged: () => true,
    });
    list.extension.rect(new ByteQueue(), { x: 1, y: 0, width: 0, height: 0, encoding: Encoding.Streams });
    // Writable, BREAK, history (spec §4 flags 1|2|4).
    deliver(S.added(1, 7, "serial0", "Serial port 1", "serial"));
    deliver(S.listComplete());
    console = new PortholeSerialConsole();
    window = new Gtk.Window({ child: console, default_width: 640, default_height: 400 });
    window.present();
  });

  afterAll(() => {
    console.bind(null);
    window.destroy();
  });

  it("lists the server's streams as a model of GObjects", () => {
    expect(list.available).toBeTrue();
    expect(list.model.get_n_items()).toBe(1);
    const item = list.model.get_item(0);
    if (!(item instanceof PortholeStream)) throw new Error("not a stream");
    stream = item;
    expect([stream.name, stream.label, stream.kind, stream.writable, stream.break_supported]).toEqual([
      "serial0",
      "Serial port 1",
      "serial",
      true,
      true,
    ]);
    expect(list.find("serial0")).toBe(stream);
  });

  it("opens the stream it is bound to, with history, and shows its output in order", async () => {
    console.bind(stream);
    const open = sent.shift();
    expect(open?.op).toBe(0);
    expect(Array.from(open?.payload ?? [])).toEqual([0, 1, 0, 0, 0, 0, 0, 3]);
    deliver(S.openReply(1, 0, 4096, 6));
    expect(stream.state).toBe("open");
    deliver(S.data(1, "login"));
    deliver(S.data(1, ": \r\n"));
    deliver(S.data(1, "second line\r\n"));
    await waitFor("the text in the terminal", () => console.contents().includes("login: \nsecond line"));
  });

  it("returns credit only as the terminal takes the output", async () => {
    sent = [];
    // 40000 bytes: over half the 65536-byte window, so a WINDOW is due once shown.
    const line = "x".repeat(99) + "\n";
    for (let i = 0; i < 400; i++) deliver(S.data(1, line));
    await waitFor("a WINDOW", () => sent.some((m) => m.op === 3));
    const grant = sent.find((m) => m.op === 3);
    const increment = new DataView(
      grant?.payload.buffer ?? new ArrayBuffer(4),
      grant?.payload.byteOffset ?? 0,
    ).getUint32(0);
    // Everything shown so far, no more: the login lines plus the flood.
    expect(increment).toBeGreaterThanOrEqual(32768);
    expect(increment).toBeLessThanOrEqual(40000 + 23);
  });

  it("writes typed input and the resize command to the stream", () => {
    sent = [];
    console.terminal.feed_child(new TextEncoder().encode("root\r"));
    expect(sent.map((m) => [m.op, text(m.payload)])).toEqual([[2, "root\r"]]);
    sent = [];
    expect(console.resizeGuest()).toBeTrue();
    const rows = console.terminal.get_row_count();
    const cols = console.terminal.get_column_count();
    expect(sent.map((m) => [m.op, text(m.payload)])).toEqual([[2, `stty rows ${rows} cols ${cols}\r`]]);
    sent = [];
    expect(console.sendBreak(300)).toBeTrue();
    expect(sent.map((m) => [m.op, Array.from(m.payload)])).toEqual([[4, [0, 0, 1, 44]]]);
  });

  it("searches the scrollback and saves it", () => {
    expect(console.search("SECOND", true)).toBeTrue();
    expect(console.search("not there at all", false)).toBeFalse();
    const path = `${GLib.get_tmp_dir()}/porthole-console-${GLib.random_int()}.txt`;
    console.saveContents(Gio.File.new_for_path(path));
    const [, saved] = GLib.file_get_contents(path);
    GLib.unlink(path);
    expect(text(saved)).toContain("second line");
  });

  it("shows when the device goes away and when the stream closes, and reopens", () => {
    deliver(S.backend(1, 0));
    expect(console.status).toContain("not connected");
    deliver(S.backend(1, 1));
    expect(console.status).toBe("");
    deliver(S.closed(1, 3, "the device went away"));
    expect(stream.state).toBe("closed");
    expect(console.status).toContain("the device went away");
    sent = [];
    console.open();
    expect(sent[0]?.op).toBe(0);
    expect(stream.state).toBe("opening");
  });

  it("forgets every stream when the connection ends", () => {
    list.extension.detach();
    expect(list.model.get_n_items()).toBe(0);
    expect(list.available).toBeFalse();
    expect(stream.state).toBe("removed");
  });
});
