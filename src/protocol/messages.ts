// Encoders for client-to-server messages (RFC 6143 §7.5 and rfbproto extensions). Each
// returns the complete message; the transport writes it as one unit.

import { ClientMessage, QEMUClientMessage } from "./constants.js";
import { encodePixelFormat, type PixelFormat } from "./pixel-format.js";

function message(length: number, build: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(length);
  build(new DataView(b.buffer), b);
  return b;
}

export function setPixelFormat(pf: PixelFormat): Uint8Array {
  return message(20, (v, b) => {
    v.setUint8(0, ClientMessage.SetPixelFormat);
    b.set(encodePixelFormat(pf), 4);
  });
}

export function setEncodings(encodings: readonly number[]): Uint8Array {
  return message(4 + 4 * encodings.length, (v) => {
    v.setUint8(0, ClientMessage.SetEncodings);
    v.setUint16(2, encodings.length);
    encodings.forEach((e, i) => {
      v.setInt32(4 + 4 * i, e);
    });
  });
}

/** The U8 type, U8 flag, U16 x, y, width, height layout both of the next messages share. */
function flagAndRect(type: number, flag: boolean, x: number, y: number, w: number, h: number): Uint8Array {
  return message(10, (v) => {
    v.setUint8(0, type);
    v.setUint8(1, flag ? 1 : 0);
    v.setUint16(2, x);
    v.setUint16(4, y);
    v.setUint16(6, w);
    v.setUint16(8, h);
  });
}

export function framebufferUpdateRequest(incremental: boolean, x: number, y: number, w: number, h: number): Uint8Array {
  return flagAndRect(ClientMessage.FramebufferUpdateRequest, incremental, x, y, w, h);
}

export function keyEvent(down: boolean, keysym: number): Uint8Array {
  return message(8, (v) => {
    v.setUint8(0, ClientMessage.KeyEvent);
    v.setUint8(1, down ? 1 : 0);
    v.setUint32(4, keysym >>> 0);
  });
}

/** QEMU extended key event (255/0): keysym plus the XT scancode, so any guest keymap works. */
export function qemuExtendedKeyEvent(down: boolean, keysym: number, xtScancode: number): Uint8Array {
  return message(12, (v) => {
    v.setUint8(0, ClientMessage.QEMU);
    v.setUint8(1, QEMUClientMessage.ExtendedKeyEvent);
    v.setUint16(2, down ? 1 : 0);
    v.setUint32(4, keysym >>> 0);
    v.setUint32(8, xtScancode >>> 0);
  });
}

/**
 * PointerEvent (RFC 6143 §7.5.5): `buttons` has button n at bit n − 1. Plain, it carries
 * buttons 1–8. Once the server acknowledged ExtendedMouseButtons (-316) bit 7 becomes a
 * marker: buttons 1–7 stay in the first byte and buttons 8–9 follow in a trailing byte
 * (noVNC 1.7 and TigerVNC speak it this way).
 */
export function pointerEvent(x: number, y: number, buttons: number, extended = false): Uint8Array {
  if (extended) {
    if (buttons > 0x1ff) throw new RangeError(`button mask ${buttons} has buttons past 9`);
    const high = buttons >> 7;
    if (high === 0) return pointerEvent(x, y, buttons & 0x7f);
    return message(7, (v) => {
      v.setUint8(0, ClientMessage.PointerEvent);
      v.setUint8(1, (buttons & 0x7f) | 0x80);
      v.setUint16(2, x);
      v.setUint16(4, y);
      v.setUint8(6, high);
    });
  }
  return message(6, (v) => {
    v.setUint8(0, ClientMessage.PointerEvent);
    v.setUint8(1, buttons & 0xff);
    v.setUint16(2, x);
    v.setUint16(4, y);
  });
}

/** ClientCutText in Latin-1 (RFC 6143 §7.5.6); characters outside it become "?". */
export function clientCutText(text: string): Uint8Array {
  const latin1 = Uint8Array.from(text.replace(/\r\n/g, "\n"), (c) => {
    const code = c.charCodeAt(0);
    return code < 256 ? code : 0x3f;
  });
  return message(8 + latin1.length, (v, b) => {
    v.setUint8(0, ClientMessage.ClientCutText);
    v.setUint32(4, latin1.length);
    b.set(latin1, 8);
  });
}

export function enableContinuousUpdates(enable: boolean, x: number, y: number, w: number, h: number): Uint8Array {
  return flagAndRect(ClientMessage.EnableContinuousUpdates, enable, x, y, w, h);
}

export function clientFence(flags: number, payload: Uint8Array): Uint8Array {
  return message(9 + payload.length, (v, b) => {
    v.setUint8(0, ClientMessage.ClientFence);
    v.setUint32(4, flags >>> 0);
    v.setUint8(8, payload.length);
    b.set(payload, 9);
  });
}

export const XvpCode = { Shutdown: 2, Reboot: 3, Reset: 4 } as const;

export function xvp(code: number): Uint8Array {
  return Uint8Array.of(ClientMessage.Xvp, 0, 1, code);
}

export interface Screen {
  readonly id: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly flags: number;
}

export function setDesktopSize(width: number, height: number, screens: readonly Screen[]): Uint8Array {
  return message(8 + 16 * screens.length, (v) => {
    v.setUint8(0, ClientMessage.SetDesktopSize);
    v.setUint16(2, width);
    v.setUint16(4, height);
    v.setUint8(6, screens.length);
    screens.forEach((s, i) => {
      const o = 8 + 16 * i;
      v.setUint32(o, s.id >>> 0);
      v.setUint16(o + 4, s.x);
      v.setUint16(o + 6, s.y);
      v.setUint16(o + 8, s.width);
      v.setUint16(o + 10, s.height);
      v.setUint32(o + 12, s.flags >>> 0);
    });
  });
}
