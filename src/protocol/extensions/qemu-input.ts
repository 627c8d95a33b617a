// QEMU's input extensions (rfbproto "QEMU Extended Key Event", "QEMU Pointer Motion
// Change" and "QEMU LED State" pseudo-encodings). All three are pseudo-rectangles the server
// sends in a FramebufferUpdate; only the key event changes what the client sends.
//
// - Extended Key Event (-258): an empty pseudo-rectangle says the server takes QEMU client
//   message 255/0, a key event that carries the XT scancode besides the keysym, so the
//   guest's keymap (not the server's guess of ours) decides what a key means.
// - Pointer Motion Change (-257): no payload; x = 1 asks for absolute coordinates (the RFB
//   default), x = 0 for relative deltas (a guest with a PS/2 mouse). QEMU ui/vnc.c
//   check_pointer_type_change() writes the rectangle with x = absolute, y = 0 and the
//   desktop's size, and sends it whenever the guest's mouse mode changes — including once
//   right after SetEncodings, so the initial mode is always announced.
// - LED State (-261): one U8 of lock-key bits (scroll 0, num 1, caps 2; rfbproto says the
//   rest are reserved and ignored). QEMU ui/vnc.c vnc_led_state_change() sends it as a
//   0,0 1×1 rectangle; include/ui/console.h defines only those three LEDs (no kana).

import type { ByteQueue } from "../byte-queue.js";
import { Encoding } from "../constants.js";
import type { Rect } from "../decoders/decoder.js";
import { ProtocolError } from "../errors.js";
import type { Extension, ExtensionHost } from "../extension.js";
import * as msg from "../messages.js";

export type PointerMode = "absolute" | "relative";

export interface LedState {
  readonly scrollLock: boolean;
  readonly numLock: boolean;
  readonly capsLock: boolean;
}

/** What the QEMU input extensions tell their owner. */
export interface QemuInputListener {
  /** The server acknowledged extended key events: `keyEvent` now sends scancodes. */
  extendedKeyEventsEnabled?(): void;
  /** The server wants pointer events in this mode (sent whenever the guest's mouse changes). */
  pointerModeChanged?(mode: PointerMode): void;
  /** The guest's lock-key LEDs, to mirror on the local keyboard. */
  ledStateChanged?(state: LedState): void;
}

const LED_SCROLL_LOCK = 1 << 0;
const LED_NUM_LOCK = 1 << 1;
const LED_CAPS_LOCK = 1 << 2;

/**
 * In relative mode PointerEvent's x and y are deltas biased by 0x7FFF (rfbproto; QEMU
 * ui/vnc.c pointer_event() queues `x - 0x7FFF`), so a U16 holds −0x7FFF…+0x8000.
 */
const RELATIVE_BIAS = 0x7fff;

export class QemuInputExtension implements Extension {
  readonly pseudoEncodings: readonly number[] = [
    Encoding.QEMUExtendedKeyEvent,
    Encoding.QEMUPointerMotionChange,
    Encoding.QEMULedState,
  ];
  readonly #listener: QemuInputListener;
  #host: ExtensionHost | null = null;
  #extendedKeys = false;
  #pointerMode: PointerMode = "absolute";
  #leds: LedState | null = null;

  constructor(listener: QemuInputListener = {}) {
    this.#listener = listener;
  }

  /** Whether `keyEvent` sends QEMU extended key events (the server acknowledged -258). */
  get extendedKeyEvents(): boolean {
    return this.#extendedKeys;
  }

  /** The mode the server last asked for; absolute until it says otherwise (RFB's default). */
  get pointerMode(): PointerMode {
    return this.#pointerMode;
  }

  /** The last LED state the server sent, or null before the first. */
  get ledState(): LedState | null {
    return this.#leds;
  }

  attach(host: ExtensionHost): void {
    this.#host = host;
  }

  detach(): void {
    this.#host = null;
    this.#extendedKeys = false;
    this.#pointerMode = "absolute";
    this.#leds = null;
  }

  rect(q: ByteQueue, rect: Rect): boolean {
    switch (rect.encoding) {
      case Encoding.QEMUExtendedKeyEvent:
        if (!this.#extendedKeys) {
          this.#extendedKeys = true;
          this.#listener.extendedKeyEventsEnabled?.();
        }
        return true;
      case Encoding.QEMUPointerMotionChange: {
        if (rect.x > 1)
          throw new ProtocolError(
            "malformed",
            `the server asked for pointer mode ${rect.x}, but only 0 (relative) and 1 (absolute) exist`,
          );
        this.#pointerMode = rect.x === 1 ? "absolute" : "relative";
        this.#listener.pointerModeChanged?.(this.#pointerMode);
        return true;
      }
      case Encoding.QEMULedState: {
        if (!q.has(1)) return false;
        const bits = q.readU8();
        this.#leds = {
          scrollLock: (bits & LED_SCROLL_LOCK) !== 0,
          numLock: (bits & LED_NUM_LOCK) !== 0,
          capsLock: (bits & LED_CAPS_LOCK) !== 0,
        };
        this.#listener.ledStateChanged?.(this.#leds);
        return true;
      }
      default:
        return true;
    }
  }

  /**
   * Sends a key press or release. With the server's ack and a known scancode it is a QEMU
   * extended key event; otherwise a plain KeyEvent (RFB 4). rfbproto: a client must not
   * send the extended event when it does not know the keycode, so 0 means "unknown".
   * `xtScancode` is rfbproto's encoding: one byte, or 0xE0-prefixed codes with bit 7 set.
   * Returns false when not connected.
   */
  keyEvent(down: boolean, keysym: number, xtScancode = 0): boolean {
    const host = this.#host;
    if (!host) return false;
    if (!Number.isInteger(xtScancode) || xtScancode < 0 || xtScancode > 0xffff)
      throw new ProtocolError("invalid-argument", `${xtScancode} is not an XT scancode`);
    if (this.#extendedKeys && xtScancode !== 0) host.send(msg.qemuExtendedKeyEvent(down, keysym, xtScancode));
    else host.send(msg.keyEvent(down, keysym));
    return true;
  }

  /**
   * Sends a relative pointer motion (and the button mask) while the server is in relative
   * mode; deltas beyond what one event holds are clamped. Returns false when not connected
   * or in absolute mode, where the owner sends plain PointerEvents with coordinates.
   */
  pointerMotion(dx: number, dy: number, buttons: number): boolean {
    const host = this.#host;
    if (!host || this.#pointerMode !== "relative") return false;
    const bias = (d: number) => Math.max(0, Math.min(0xffff, Math.round(d) + RELATIVE_BIAS));
    host.send(msg.pointerEvent(bias(dx), bias(dy), buttons));
    return true;
  }
}
