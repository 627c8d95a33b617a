import { Encoding } from "../../src/protocol/constants.js";
import { QemuInputExtension } from "../../src/protocol/extensions/qemu-input.js";
import { connected, everySplit, feed, HEIGHT, rectHeader, u16, u32, update, WIDTH } from "./ext-helpers.js";

const ENCODINGS = [
  Encoding.Raw,
  Encoding.QEMUExtendedKeyEvent,
  Encoding.QEMUPointerMotionChange,
  Encoding.QEMULedState,
];

const make = (events: string[]) =>
  new QemuInputExtension({
    extendedKeyEventsEnabled: () => events.push("extended keys"),
    pointerModeChanged: (mode) => events.push(`pointer ${mode}`),
    ledStateChanged: (s) => events.push(`leds scroll=${+s.scrollLock} num=${+s.numLock} caps=${+s.capsLock}`),
  });

// QEMU's rectangles: the key event ack is empty, the pointer mode carries the desktop's size
// and x = absolute, the LED state is a 1×1 rectangle with one byte.
const keyAck = rectHeader(0, 0, 0, 0, Encoding.QEMUExtendedKeyEvent);
const pointerMode = (absolute: 0 | 1) => rectHeader(absolute, 0, WIDTH, HEIGHT, Encoding.QEMUPointerMotionChange);
const leds = (bits: number) => [...rectHeader(0, 0, 1, 1, Encoding.QEMULedState), bits];

describe("QEMU input extensions", () => {
  it("reports the key ack, pointer modes and LED states at every split point", () => {
    const bytes = [
      ...update(keyAck),
      ...update(pointerMode(0)),
      ...update(leds(0b101)),
      // Reserved bits are ignored; two pseudo-rectangles in one update.
      ...update(pointerMode(1), leds(0b1111_1010)),
      ...update(keyAck),
    ];
    everySplit(make, ENCODINGS, bytes, ({ error, events, ext }) => {
      expect(error).toBeNull();
      expect(events).toEqual([
        "extended keys",
        "pointer relative",
        "leds scroll=1 num=0 caps=1",
        "pointer absolute",
        "leds scroll=0 num=1 caps=0",
      ]);
      expect(ext.extendedKeyEvents).toBeTrue();
      expect(ext.pointerMode).toBe("absolute");
      expect(ext.ledState).toEqual({ scrollLock: false, numLock: true, capsLock: false });
    });
  });

  it("sends plain KeyEvents before the ack and QEMU extended key events after it", () => {
    const s = connected(make, ENCODINGS);
    expect(s.ext.keyEvent(true, 0x61, 0x1e)).toBeTrue();
    expect(s.sent).toEqual([[4, 1, 0, 0, ...u32(0x61)]]);
    feed(s, update(keyAck));
    s.ext.keyEvent(true, 0x61, 0x1e);
    s.ext.keyEvent(false, 0xff53, 0xcd); // Right: 0xE0 0x4D, encoded with the high bit set
    // An unknown scancode must not go out as an extended event (rfbproto).
    s.ext.keyEvent(true, 0x20ac);
    expect(s.sent.slice(1)).toEqual([
      [255, 0, ...u16(1), ...u32(0x61), ...u32(0x1e)],
      [255, 0, ...u16(0), ...u32(0xff53), ...u32(0xcd)],
      [4, 1, 0, 0, ...u32(0x20ac)],
    ]);
    expect(() => s.ext.keyEvent(true, 0x61, -1)).toThrowMatching((e: Error) => e.message.includes("scancode"));
  });

  it("sends biased deltas in relative mode only", () => {
    const s = connected(make, ENCODINGS);
    expect(s.ext.pointerMotion(1, 1, 0)).toBeFalse();
    feed(s, update(pointerMode(0)));
    s.ext.pointerMotion(-5, 3, 1);
    s.ext.pointerMotion(0, 0, 4); // a button change without motion: 0x7FFF, 0x7FFF
    s.ext.pointerMotion(-100000, 100000, 0); // clamped to what a U16 holds
    expect(s.sent).toEqual([
      [5, 1, ...u16(0x7ffa), ...u16(0x8002)],
      [5, 4, ...u16(0x7fff), ...u16(0x7fff)],
      [5, 0, ...u16(0), ...u16(0xffff)],
    ]);
    feed(s, update(pointerMode(1)));
    expect(s.ext.pointerMotion(1, 1, 0)).toBeFalse();
  });

  it("rejects an undefined pointer mode", () => {
    everySplit(make, ENCODINGS, update(rectHeader(2, 0, WIDTH, HEIGHT, Encoding.QEMUPointerMotionChange)), (s) => {
      expect(s.error?.code).toBe("malformed");
      expect(s.error?.message).toContain("pointer mode 2");
      expect(s.events).toEqual([]);
    });
  });

  it("forgets the connection's state when it ends", () => {
    const s = connected(make, ENCODINGS);
    feed(s, [...update(keyAck), ...update(pointerMode(0)), ...update(leds(4))]);
    s.client.close();
    expect(s.ext.extendedKeyEvents).toBeFalse();
    expect(s.ext.pointerMode).toBe("absolute");
    expect(s.ext.ledState).toBeNull();
    expect(s.ext.keyEvent(true, 0x61, 0x1e)).toBeFalse();
  });
});
