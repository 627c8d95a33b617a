// X11 keysyms (what an RFB KeyEvent carries, RFC 6143 §7.5.4) for the keys the viewer
// sends on its own — modifiers, "send Ctrl+Alt+Del", typed text — with the Linux evdev
// code of the key that makes each one on a PC keyboard, so a combination can also go out
// as QEMU extended key events (evdevToQnum in xt-scancodes.ts).
//
// Keysym values: X11 keysymdef.h (xorgproto). Evdev codes: linux/input-event-codes.h,
// matched to keysyms by keycodemapdb's keymaps.csv and xkeyboard-config's evdev keycodes
// (<PRSC> is KEY_SYSRQ and gives Print, or Sys_Req with Alt; <PAUS> is KEY_PAUSE and gives
// Pause, or Break with Ctrl; <RALT> is KEY_RIGHTALT and gives Alt_R, or ISO_Level3_Shift
// on layouts with AltGr; <MENU> is KEY_COMPOSE).

import { ProtocolError } from "../errors.js";

export const Keysym = {
  space: 0x0020,
  BackSpace: 0xff08,
  Tab: 0xff09,
  Return: 0xff0d,
  Pause: 0xff13,
  Scroll_Lock: 0xff14,
  Sys_Req: 0xff15,
  Escape: 0xff1b,
  Home: 0xff50,
  Left: 0xff51,
  Up: 0xff52,
  Right: 0xff53,
  Down: 0xff54,
  Page_Up: 0xff55,
  Page_Down: 0xff56,
  End: 0xff57,
  Print: 0xff61,
  Insert: 0xff63,
  Menu: 0xff67,
  Break: 0xff6b,
  Num_Lock: 0xff7f,
  KP_Enter: 0xff8d,
  F1: 0xffbe,
  F2: 0xffbf,
  F3: 0xffc0,
  F4: 0xffc1,
  F5: 0xffc2,
  F6: 0xffc3,
  F7: 0xffc4,
  F8: 0xffc5,
  F9: 0xffc6,
  F10: 0xffc7,
  F11: 0xffc8,
  F12: 0xffc9,
  F13: 0xffca,
  F14: 0xffcb,
  F15: 0xffcc,
  F16: 0xffcd,
  F17: 0xffce,
  F18: 0xffcf,
  F19: 0xffd0,
  F20: 0xffd1,
  F21: 0xffd2,
  F22: 0xffd3,
  F23: 0xffd4,
  F24: 0xffd5,
  Shift_L: 0xffe1,
  Shift_R: 0xffe2,
  Control_L: 0xffe3,
  Control_R: 0xffe4,
  Caps_Lock: 0xffe5,
  Meta_L: 0xffe7,
  Meta_R: 0xffe8,
  Alt_L: 0xffe9,
  Alt_R: 0xffea,
  Super_L: 0xffeb,
  Super_R: 0xffec,
  ISO_Level3_Shift: 0xfe03,
  Delete: 0xffff,
} as const;

export type KeysymName = keyof typeof Keysym;

/** The evdev code of the PC key that produces each keysym (0: no key of its own). */
const EVDEV: Readonly<Record<KeysymName, number>> = {
  space: 57,
  BackSpace: 14,
  Tab: 15,
  Return: 28,
  Pause: 119,
  Scroll_Lock: 70,
  Sys_Req: 99,
  Escape: 1,
  Home: 102,
  Left: 105,
  Up: 103,
  Right: 106,
  Down: 108,
  Page_Up: 104,
  Page_Down: 109,
  End: 107,
  Print: 99,
  Insert: 110,
  Menu: 127,
  Break: 119,
  Num_Lock: 69,
  KP_Enter: 96,
  F1: 59,
  F2: 60,
  F3: 61,
  F4: 62,
  F5: 63,
  F6: 64,
  F7: 65,
  F8: 66,
  F9: 67,
  F10: 68,
  F11: 87,
  F12: 88,
  F13: 183,
  F14: 184,
  F15: 185,
  F16: 186,
  F17: 187,
  F18: 188,
  F19: 189,
  F20: 190,
  F21: 191,
  F22: 192,
  F23: 193,
  F24: 194,
  Shift_L: 42,
  Shift_R: 54,
  Control_L: 29,
  Control_R: 97,
  Caps_Lock: 58,
  Meta_L: 125,
  Meta_R: 126,
  Alt_L: 56,
  Alt_R: 100,
  Super_L: 125,
  Super_R: 126,
  ISO_Level3_Shift: 100,
  Delete: 111,
};

/** One key of a combination: its keysym, its evdev code (0 if none) and X11 keysym name. */
export interface KeyComboKey {
  readonly keysym: number;
  readonly evdev: number;
  readonly name: string;
}

/** The key that produces `name`, with its evdev code. */
export function namedKey(name: KeysymName): KeyComboKey {
  return { keysym: Keysym[name], evdev: EVDEV[name], name };
}

// Letters and digits by their US-layout position. The evdev code names a physical key: on
// another layout the guest reads it as whatever sits there (an extended key event says
// "this key", not "this character").
const LETTER_EVDEV = [
  30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44,
];
const DIGIT_EVDEV = [11, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Friendly names people type for keys, lower case, to X11 keysym names. */
const ALIASES: Readonly<Record<string, KeysymName>> = {
  ctrl: "Control_L",
  control: "Control_L",
  alt: "Alt_L",
  shift: "Shift_L",
  super: "Super_L",
  win: "Super_L",
  meta: "Super_L",
  altgr: "ISO_Level3_Shift",
  del: "Delete",
  backspace: "BackSpace",
  esc: "Escape",
  enter: "Return",
  tab: "Tab",
  space: "space",
  print: "Print",
  prtsc: "Print",
  sysrq: "Sys_Req",
  ins: "Insert",
  pgup: "Page_Up",
  pageup: "Page_Up",
  pgdn: "Page_Down",
  pagedown: "Page_Down",
  capslock: "Caps_Lock",
  numlock: "Num_Lock",
  scrolllock: "Scroll_Lock",
};

/** Every name parseKeyCombo accepts, lower case. */
const BY_NAME: ReadonlyMap<string, KeyComboKey> = (() => {
  const map = new Map<string, KeyComboKey>();
  for (const name of Object.keys(Keysym) as KeysymName[]) map.set(name.toLowerCase(), namedKey(name));
  for (const [alias, name] of Object.entries(ALIASES)) map.set(alias, namedKey(name));
  LETTER_EVDEV.forEach((evdev, i) => {
    const name = String.fromCharCode(0x61 + i);
    map.set(name, { keysym: 0x61 + i, evdev, name });
  });
  DIGIT_EVDEV.forEach((evdev, i) => {
    const name = String(i);
    map.set(name, { keysym: 0x30 + i, evdev, name });
  });
  return map;
})();

/** How formatKeyCombo shows a key; keys not listed show their keysym name. */
const LABELS: Readonly<Partial<Record<string, string>>> = {
  Control_L: "Ctrl",
  Control_R: "Right Ctrl",
  Alt_L: "Alt",
  Alt_R: "Right Alt",
  ISO_Level3_Shift: "AltGr",
  Shift_L: "Shift",
  Shift_R: "Right Shift",
  Super_L: "Super",
  Super_R: "Right Super",
  Meta_L: "Meta",
  Meta_R: "Right Meta",
  Delete: "Del",
  BackSpace: "Backspace",
  Return: "Enter",
  Escape: "Esc",
  space: "Space",
  Sys_Req: "SysRq",
  Page_Up: "PgUp",
  Page_Down: "PgDn",
  Caps_Lock: "Caps Lock",
  Num_Lock: "Num Lock",
  Scroll_Lock: "Scroll Lock",
  KP_Enter: "Keypad Enter",
};

/**
 * Parses a key combination such as "ctrl+alt+del", "Control_L+Alt_L+Delete" or "shift+f12":
 * keys joined by "+", each an X11 keysym name (any case) or a friendly name (ctrl, alt,
 * altgr, super/win/meta, del, esc, enter, pgup…), a letter or a digit. Keys are returned in
 * the order written, which is the order they are pressed.
 */
export function parseKeyCombo(text: string): KeyComboKey[] {
  const parts = text.split("+").map((p) => p.trim());
  if (parts.length === 1 && parts[0] === "")
    throw new ProtocolError("invalid-argument", "the key combination is empty");
  const keys: KeyComboKey[] = [];
  const written: string[] = [];
  parts.forEach((part, i) => {
    if (part === "")
      throw new ProtocolError("invalid-argument", `key ${i + 1} of the key combination “${text}” is empty`);
    const key = BY_NAME.get(part.toLowerCase());
    if (!key) throw new ProtocolError("invalid-argument", `“${part}” in “${text}” is not a key name`);
    const same = keys.findIndex((k) => (key.evdev !== 0 && k.evdev === key.evdev) || k.keysym === key.keysym);
    if (same >= 0) {
      const first = written[same] ?? "";
      throw new ProtocolError(
        "invalid-argument",
        first.toLowerCase() === part.toLowerCase()
          ? `“${part}” appears twice in “${text}”`
          : `“${part}” in “${text}” is the same key as “${first}”`,
      );
    }
    keys.push(key);
    written.push(part);
  });
  return keys;
}

/** A readable label such as "Ctrl+Alt+Del" (not translated). */
export function formatKeyCombo(keys: readonly KeyComboKey[]): string {
  return keys.map((k) => LABELS[k.name] ?? (k.name.length === 1 ? k.name.toUpperCase() : k.name)).join("+");
}

/** Press every key in order, then release them in reverse: what sending a combination means. */
export function comboEvents(keys: readonly KeyComboKey[]): { down: boolean; key: KeyComboKey }[] {
  return [...keys.map((key) => ({ down: true, key })), ...[...keys].reverse().map((key) => ({ down: false, key }))];
}

/**
 * The keysym that types one Unicode code point (X11 keysymdef.h, "Unicode characters"):
 * Latin-1's printable characters are their own keysyms, every other character is
 * 0x01000000 | code point. Line breaks, tab, backspace and escape are the keys that type
 * them. Returns 0 for what no key types: other C0 and C1 controls, DEL, surrogates and
 * values beyond U+10FFFF.
 */
export function unicodeToKeysym(codePoint: number): number {
  switch (codePoint) {
    case 0x0a:
    case 0x0d:
      return Keysym.Return;
    case 0x09:
      return Keysym.Tab;
    case 0x08:
      return Keysym.BackSpace;
    case 0x1b:
      return Keysym.Escape;
  }
  if (!Number.isInteger(codePoint) || codePoint < 0x20 || codePoint > 0x10ffff) return 0;
  if (codePoint <= 0x7e || (codePoint >= 0xa0 && codePoint <= 0xff)) return codePoint;
  if (codePoint < 0xa0) return 0; // DEL and the C1 controls
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 0;
  return 0x01000000 | codePoint;
}
