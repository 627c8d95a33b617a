// What key events become inside a real PC guest: QEMU 7.2 boots a sector that reports every
// byte its i8042 delivers (tests/gjs/scancode-guest.ts). First QEMU's own QMP send-key
// proves the guest reports exact XT set 1 make/break bytes; then Porthole's client sends
// QEMU extended key events with qnums from evdevToQnum, and the guest must see the bytes a
// PC keyboard would send for those keys.

import GLib from "gi://GLib";

import { VncConnection } from "../../src/platform/connection.js";
import { parseServerAddress } from "../../src/protocol/address.js";
import { QemuInputExtension } from "../../src/protocol/extensions/qemu-input.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { comboEvents, type KeyComboKey, namedKey, parseKeyCombo } from "../../src/protocol/keys/keysyms.js";
import { evdevToQnum, x11KeycodeToQnum } from "../../src/protocol/keys/xt-scancodes.js";
import { tempDir } from "./processes.js";
import { type ScancodeGuest, startScancodeGuest } from "./scancode-guest.js";

const hex = (bytes: readonly number[]) => bytes.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");

describe("the scancode guest under QEMU", () => {
  let dir: string;
  let guest: ScancodeGuest | null = null;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startScancodeGuest(dir);
  });

  afterAll(async () => {
    await guest?.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  const started = (): ScancodeGuest => {
    if (!guest) throw new Error("the guest did not start");
    return guest;
  };

  it("reports nothing while no key is pressed, and says so when a read times out", async () => {
    const g = started();
    await expectAsync(g.readScancodes(1, 300)).toBeRejectedWithError(
      "expected 1 scancodes from the guest, but 300 ms passed after 0: []",
    );
  });

  describe("with QMP send-key", () => {
    // Make and break bytes of a PC keyboard in XT set 1 (0xE0 prefixes the extended keys).
    for (const [qcode, bytes] of [
      ["a", [0x1e, 0x9e]],
      ["ctrl", [0x1d, 0x9d]],
      ["kp_enter", [0xe0, 0x1c, 0xe0, 0x9c]],
      ["up", [0xe0, 0x48, 0xe0, 0xc8]],
      ["ctrl_r", [0xe0, 0x1d, 0xe0, 0x9d]],
    ] as const) {
      it(`reports “${qcode}” as ${hex(bytes)}`, async () => {
        const g = started();
        expect(await g.collect(100)).toEqual([]);
        await g.qmp.execute("send-key", { keys: [{ type: "qcode", data: qcode }] });
        expect(hex(await g.readScancodes(bytes.length))).toBe(hex(bytes));
        expect(await g.collect(300))
          .withContext("bytes after the release")
          .toEqual([]);
      });
    }
  });

  describe("with Porthole's QEMU extended key events", () => {
    let connection: VncConnection | null = null;
    let input: QemuInputExtension;

    beforeAll(async () => {
      const g = started();
      let ready!: () => void;
      let failed!: (e: Error) => void;
      const acked = new Promise<void>((resolve, reject) => {
        ready = resolve;
        failed = reject;
      });
      input = new QemuInputExtension({ extendedKeyEventsEnabled: () => ready() });
      connection = new VncConnection(
        { address: parseServerAddress(g.vncUri), framebuffer: new MemoryFramebuffer(), extensions: [input] },
        { failed: (e) => failed(e) },
      );
      connection.connect();
      await acked;
    });

    afterAll(() => {
      connection?.close();
    });

    const send = (down: boolean, key: KeyComboKey, qnum = evdevToQnum(key.evdev)) => {
      expect(qnum).withContext(key.name).not.toBe(0);
      expect(input.keyEvent(down, key.keysym, qnum)).toBeTrue();
    };

    /** The one key `name` stands for, as the viewer's "send keys" parses it. */
    const key = (name: string): KeyComboKey => {
      const [k, ...rest] = parseKeyCombo(name);
      if (!k || rest.length > 0) throw new Error(`“${name}” is not one key`);
      return k;
    };

    for (const [label, pressed, bytes] of [
      ["a", key("a"), [0x1e, 0x9e]],
      ["Right Shift", namedKey("Shift_R"), [0x36, 0xb6]],
      ["F12", namedKey("F12"), [0x58, 0xd8]],
      ["Right Ctrl", namedKey("Control_R"), [0xe0, 0x1d, 0xe0, 0x9d]],
      ["KP Enter", namedKey("KP_Enter"), [0xe0, 0x1c, 0xe0, 0x9c]],
      ["Up", namedKey("Up"), [0xe0, 0x48, 0xe0, 0xc8]],
      ["AltGr", namedKey("ISO_Level3_Shift"), [0xe0, 0x38, 0xe0, 0xb8]],
      ["Left Super", namedKey("Super_L"), [0xe0, 0x5b, 0xe0, 0xdb]],
      ["Menu", namedKey("Menu"), [0xe0, 0x5d, 0xe0, 0xdd]],
      ["Delete", namedKey("Delete"), [0xe0, 0x53, 0xe0, 0xd3]],
    ] as const) {
      it(`makes the guest see ${label} as ${hex(bytes)}`, async () => {
        const g = started();
        expect(await g.collect(100)).toEqual([]);
        send(true, pressed);
        send(false, pressed);
        expect(hex(await g.readScancodes(bytes.length))).toBe(hex(bytes));
        expect(await g.collect(300))
          .withContext("bytes after the release")
          .toEqual([]);
      });
    }

    it("sends the scancode, which wins over the keysym", async () => {
      // Keysym “a” with the scancode of the key that types “q” on a US layout: a guest
      // must see the key that was pressed, whatever the client's layout calls it.
      const g = started();
      expect(input.extendedKeyEvents).toBeTrue();
      expect(await g.collect(100)).toEqual([]);
      send(true, key("a"), evdevToQnum(key("q").evdev));
      send(false, key("a"), evdevToQnum(key("q").evdev));
      expect(hex(await g.readScancodes(2))).toBe("10 90");
    });

    it("sends the key of an X11 hardware keycode (evdev + 8)", async () => {
      const g = started();
      expect(await g.collect(100)).toEqual([]);
      // X11 keycode 43 is evdev 35, the key of “h” (xdotool's key events report it so).
      send(true, key("h"), x11KeycodeToQnum(43));
      send(false, key("h"), x11KeycodeToQnum(43));
      expect(hex(await g.readScancodes(2))).toBe("23 A3");
    });

    it("sends Ctrl+Alt+Del pressed in order and released in reverse", async () => {
      const g = started();
      expect(await g.collect(100)).toEqual([]);
      for (const event of comboEvents(parseKeyCombo("ctrl+alt+del"))) send(event.down, event.key);
      expect(hex(await g.readScancodes(8))).toBe("1D 38 E0 53 E0 D3 B8 9D");
      expect(await g.collect(300)).toEqual([]);
    });

    it("gets the real Print Screen sequence from qnum 0x54", async () => {
      // keymaps.csv gives KEY_SYSRQ the Alt+SysRq code 0x54; QEMU maps it back to its
      // Print Screen key and its PS/2 keyboard sends what a real one sends unmodified.
      const g = started();
      expect(await g.collect(100)).toEqual([]);
      const print = key("print");
      expect(evdevToQnum(print.evdev)).toBe(0x54);
      send(true, print);
      send(false, print);
      expect(hex(await g.readScancodes(8))).toBe("E0 2A E0 37 E0 B7 E0 AA");
      expect(await g.collect(300)).toEqual([]);
    });

    it("gets Pause's make-only E1 sequence from qnum 0xC6", async () => {
      // keymaps.csv writes KEY_PAUSE as E0 46 (Ctrl+Break); QEMU sends the real Pause key:
      // E1 1D 45 E1 9D C5 on press and nothing on release.
      const g = started();
      expect(await g.collect(100)).toEqual([]);
      const pause = namedKey("Pause");
      expect(evdevToQnum(pause.evdev)).toBe(0xc6);
      send(true, pause);
      send(false, pause);
      expect(hex(await g.readScancodes(6))).toBe("E1 1D 45 E1 9D C5");
      expect(await g.collect(300)).toEqual([]);
    });
  });
});
