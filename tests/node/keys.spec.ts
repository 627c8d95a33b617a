import { ProtocolError } from "../../src/protocol/errors.js";
import {
  comboEvents,
  formatKeyCombo,
  Keysym,
  namedKey,
  parseKeyCombo,
  unicodeToKeysym,
} from "../../src/protocol/keys/keysyms.js";
import { evdevToQnum, x11KeycodeToQnum } from "../../src/protocol/keys/xt-scancodes.js";

// Evdev codes from linux/input-event-codes.h; expected qnums from keycodemapdb's keymaps.csv
// "AT set1 keycode" column (0xE0xx written as 0x80 | xx).
const KNOWN: readonly [string, number, number][] = [
  ["Esc", 1, 0x01],
  ["1", 2, 0x02],
  ["0", 11, 0x0b],
  ["Backspace", 14, 0x0e],
  ["Tab", 15, 0x0f],
  ["Enter", 28, 0x1c],
  ["Left Ctrl", 29, 0x1d],
  ["A", 30, 0x1e],
  ["Grave", 41, 0x29],
  ["Left Shift", 42, 0x2a],
  ["Backslash", 43, 0x2b],
  ["Right Shift", 54, 0x36],
  ["KP *", 55, 0x37],
  ["Left Alt", 56, 0x38],
  ["Space", 57, 0x39],
  ["Caps Lock", 58, 0x3a],
  ["F1", 59, 0x3b],
  ["F10", 68, 0x44],
  ["Num Lock", 69, 0x45],
  ["Scroll Lock", 70, 0x46],
  ["KP 7", 71, 0x47],
  ["KP .", 83, 0x53],
  ["102nd (ISO <>)", 86, 0x56],
  ["F11", 87, 0x57],
  ["F12", 88, 0x58],
  ["KP Enter", 96, 0x9c],
  ["Right Ctrl", 97, 0x9d],
  ["KP Divide", 98, 0xb5],
  // KEY_SYSRQ is the Print Screen key. keymaps.csv gives it AT set 1 0x54 (what the key
  // sends with Alt held, i.e. SysRq), not the E0 37 of a plain press, so its qnum is 0x54;
  // QEMU still emits E0 2A E0 37 for it (tests/gjs/scancode-guest.spec.ts).
  ["Print Screen / SysRq", 99, 0x54],
  ["AltGr (Right Alt)", 100, 0xb8],
  ["Home", 102, 0xc7],
  ["Up", 103, 0xc8],
  ["PgUp", 104, 0xc9],
  ["Left", 105, 0xcb],
  ["Right", 106, 0xcd],
  ["End", 107, 0xcf],
  ["Down", 108, 0xd0],
  ["PgDn", 109, 0xd1],
  ["Insert", 110, 0xd2],
  ["Delete", 111, 0xd3],
  ["Mute", 113, 0xa0],
  ["Volume Down", 114, 0xae],
  ["Volume Up", 115, 0xb0],
  ["Power", 116, 0xde],
  ["Pause", 119, 0xc6],
  ["Hangeul", 122, 0x72],
  ["Hanja", 123, 0x71],
  ["Left Super", 125, 0xdb],
  ["Right Super", 126, 0xdc],
  ["Menu (Compose)", 127, 0xdd],
  ["Next track", 163, 0x99],
  ["Play/Pause", 164, 0xa2],
  ["F13", 183, 0x5d],
  ["F24", 194, 0x6f],
];

describe("evdevToQnum", () => {
  for (const [name, evdev, qnum] of KNOWN) {
    it(`maps ${name} (evdev ${evdev}) to 0x${qnum.toString(16)}`, () => {
      expect(evdevToQnum(evdev)).toBe(qnum);
    });
  }

  it("gives every key of a 105-key PC keyboard a distinct scancode", () => {
    // Main block, function row, navigation block, keypad (linux/input-event-codes.h).
    const keyboard = [
      ...Array.from({ length: 83 }, (_, i) => i + 1), // Esc … KP .
      86,
      87,
      88,
      96,
      97,
      98,
      99,
      100,
      102,
      103,
      104,
      105,
      106,
      107,
      108,
      109,
      110,
      111,
      119,
      125,
      126,
      127,
    ];
    expect(keyboard.length).toBe(105);
    const qnums = keyboard.map(evdevToQnum);
    expect(qnums.filter((q) => q === 0)).toEqual([]);
    expect(new Set(qnums).size).toBe(105);
  });

  it("returns 0 for keys and values with no scancode", () => {
    expect(evdevToQnum(0)).toBe(0); // KEY_RESERVED
    expect(evdevToQnum(170)).toBe(0); // KEY_ISO has no AT set 1 column
    expect(evdevToQnum(240)).toBe(0); // KEY_UNKNOWN
    expect(evdevToQnum(0x110)).toBe(0); // BTN_LEFT
    expect(evdevToQnum(-1)).toBe(0);
    expect(evdevToQnum(1.5)).toBe(0);
    expect(evdevToQnum(NaN)).toBe(0);
  });
});

describe("x11KeycodeToQnum", () => {
  it("maps X11 keycodes (evdev + 8) as GDK reports them", () => {
    expect(x11KeycodeToQnum(9)).toBe(0x01); // Escape
    expect(x11KeycodeToQnum(38)).toBe(0x1e); // a
    expect(x11KeycodeToQnum(43)).toBe(0x23); // h, as xdotool's key events report it
    expect(x11KeycodeToQnum(105)).toBe(0x9d); // Control_R
    expect(x11KeycodeToQnum(108)).toBe(0xb8); // AltGr
    expect(x11KeycodeToQnum(111)).toBe(0xc8); // Up
    expect(x11KeycodeToQnum(133)).toBe(0xdb); // Super_L
  });

  it("returns 0 below 8, where X11 has no keys", () => {
    for (let k = 0; k < 8; k++) expect(x11KeycodeToQnum(k)).toBe(0);
  });
});

describe("unicodeToKeysym", () => {
  it("maps Latin-1 printable characters to themselves", () => {
    expect(unicodeToKeysym(0x20)).toBe(0x20);
    expect(unicodeToKeysym("a".codePointAt(0) ?? 0)).toBe(0x61);
    expect(unicodeToKeysym(0x7e)).toBe(0x7e);
    expect(unicodeToKeysym(0xa0)).toBe(0xa0); // no-break space
    expect(unicodeToKeysym("é".codePointAt(0) ?? 0)).toBe(0xe9);
    expect(unicodeToKeysym(0xff)).toBe(0xff);
  });

  it("maps other characters into the Unicode keysym range", () => {
    expect(unicodeToKeysym(0x100)).toBe(0x01000100);
    expect(unicodeToKeysym("€".codePointAt(0) ?? 0)).toBe(0x010020ac);
    expect(unicodeToKeysym("😀".codePointAt(0) ?? 0)).toBe(0x0101f600);
    expect(unicodeToKeysym(0x10ffff)).toBe(0x0110ffff);
  });

  it("maps line breaks, tab, backspace and escape to their keys", () => {
    expect(unicodeToKeysym(0x0a)).toBe(Keysym.Return);
    expect(unicodeToKeysym(0x0d)).toBe(Keysym.Return);
    expect(unicodeToKeysym(0x09)).toBe(Keysym.Tab);
    expect(unicodeToKeysym(0x08)).toBe(Keysym.BackSpace);
    expect(unicodeToKeysym(0x1b)).toBe(Keysym.Escape);
    expect([Keysym.Return, Keysym.Tab, Keysym.BackSpace, Keysym.Escape]).toEqual([0xff0d, 0xff09, 0xff08, 0xff1b]);
  });

  it("returns 0 for what no key types", () => {
    for (const cp of [0x00, 0x07, 0x0b, 0x0c, 0x1f, 0x7f, 0x80, 0x85, 0x9f, 0xd800, 0xdfff, 0x110000, -1, 65.5])
      expect(unicodeToKeysym(cp)).withContext(cp.toString(16)).toBe(0);
  });
});

describe("parseKeyCombo", () => {
  const names = (text: string) => parseKeyCombo(text).map((k) => k.name);

  it("parses friendly names and X11 keysym names alike", () => {
    expect(names("ctrl+alt+del")).toEqual(["Control_L", "Alt_L", "Delete"]);
    expect(names("Control_L+Alt_L+Delete")).toEqual(["Control_L", "Alt_L", "Delete"]);
    expect(names("CTRL+Alt+Del")).toEqual(["Control_L", "Alt_L", "Delete"]);
    expect(names("ctrl+alt+f1")).toEqual(["Control_L", "Alt_L", "F1"]);
    expect(names("shift+f12")).toEqual(["Shift_L", "F12"]);
    expect(names("print")).toEqual(["Print"]);
    expect(names("prtsc")).toEqual(["Print"]);
    expect(names("sysrq")).toEqual(["Sys_Req"]);
    expect(names("super")).toEqual(["Super_L"]);
    expect(names("win+l")).toEqual(["Super_L", "l"]);
    expect(names("meta")).toEqual(["Super_L"]);
    expect(names("ctrl+alt+backspace")).toEqual(["Control_L", "Alt_L", "BackSpace"]);
    expect(names("altgr+e")).toEqual(["ISO_Level3_Shift", "e"]);
    expect(names("control+esc")).toEqual(["Control_L", "Escape"]);
  });

  it("parses the navigation keys, function keys, letters and digits", () => {
    expect(names("insert+home+end+pgup+pgdn")).toEqual(["Insert", "Home", "End", "Page_Up", "Page_Down"]);
    expect(names("pageup+pagedown+up+down+left+right")).toEqual([
      "Page_Up",
      "Page_Down",
      "Up",
      "Down",
      "Left",
      "Right",
    ]);
    expect(names("f1+F13+f24")).toEqual(["F1", "F13", "F24"]);
    expect(names("escape+enter+tab+space")).toEqual(["Escape", "Return", "Tab", "space"]);
    expect(names("a+Z+0+9")).toEqual(["a", "z", "0", "9"]);
    expect(names(" ctrl + alt + del ")).toEqual(["Control_L", "Alt_L", "Delete"]);
    expect(names("Control_R+Shift_R+Alt_R+Super_R")).toEqual(["Control_R", "Shift_R", "Alt_R", "Super_R"]);
  });

  it("gives each key its keysym and evdev code", () => {
    expect(parseKeyCombo("ctrl+alt+del")).toEqual([
      { keysym: 0xffe3, evdev: 29, name: "Control_L" },
      { keysym: 0xffe9, evdev: 56, name: "Alt_L" },
      { keysym: 0xffff, evdev: 111, name: "Delete" },
    ]);
    expect(parseKeyCombo("a+1+0")).toEqual([
      { keysym: 0x61, evdev: 30, name: "a" },
      { keysym: 0x31, evdev: 2, name: "1" },
      { keysym: 0x30, evdev: 11, name: "0" },
    ]);
    expect(parseKeyCombo("altgr")).toEqual([{ keysym: 0xfe03, evdev: 100, name: "ISO_Level3_Shift" }]);
    expect(parseKeyCombo("print")).toEqual([{ keysym: 0xff61, evdev: 99, name: "Print" }]);
    // Every key the parser knows has a scancode to send.
    expect(evdevToQnum(namedKey("Menu").evdev)).toBe(0xdd);
    for (const k of parseKeyCombo("ctrl+alt+shift+super+altgr+del+backspace+esc+enter+tab+space+f1+f24+print"))
      expect(evdevToQnum(k.evdev)).withContext(k.name).not.toBe(0);
  });

  const invalid = (text: string, message: RegExp) => {
    let error: unknown = null;
    try {
      parseKeyCombo(text);
    } catch (e) {
      error = e;
    }
    expect(error).withContext(text).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("invalid-argument");
    expect((error as ProtocolError).message).toMatch(message);
  };

  it("rejects unknown names, naming them", () => {
    invalid("ctrl+alt+dle", /^“dle” in “ctrl\+alt\+dle” is not a key name$/);
    invalid("hyper", /^“hyper” in “hyper” is not a key name$/);
    invalid("f25", /“f25”/);
    invalid("ctrl-alt-del", /“ctrl-alt-del” in “ctrl-alt-del” is not a key name/);
    invalid("aa", /“aa”/);
  });

  it("rejects empty combinations and empty parts", () => {
    invalid("", /^the key combination is empty$/);
    invalid("   ", /^the key combination is empty$/);
    invalid("ctrl++a", /^key 2 of the key combination “ctrl\+\+a” is empty$/);
    invalid("ctrl+", /^key 2 of the key combination “ctrl\+” is empty$/);
    invalid("+a", /^key 1 of/);
  });

  it("rejects a key named twice, or two names for one key", () => {
    invalid("ctrl+ctrl", /^“ctrl” appears twice in “ctrl\+ctrl”$/);
    invalid("ctrl+Control_L", /^“Control_L” in “ctrl\+Control_L” is the same key as “ctrl”$/);
    invalid("a+A", /^“A” appears twice in “a\+A”$/);
    // Different keysyms from one physical key cannot be pressed twice either.
    invalid("altgr+Alt_R", /“Alt_R” in “altgr\+Alt_R” is the same key as “altgr”/);
    invalid("print+sysrq", /is the same key as “print”/);
    invalid("enter+return", /^“return” in “enter\+return” is the same key as “enter”$/);
  });
});

describe("formatKeyCombo", () => {
  it("labels keys the way people write them", () => {
    expect(formatKeyCombo(parseKeyCombo("ctrl+alt+del"))).toBe("Ctrl+Alt+Del");
    expect(formatKeyCombo(parseKeyCombo("Control_L+Alt_L+Delete"))).toBe("Ctrl+Alt+Del");
    expect(formatKeyCombo(parseKeyCombo("ctrl+alt+f1"))).toBe("Ctrl+Alt+F1");
    expect(formatKeyCombo(parseKeyCombo("ctrl+alt+backspace"))).toBe("Ctrl+Alt+Backspace");
    expect(formatKeyCombo(parseKeyCombo("shift+f12"))).toBe("Shift+F12");
    expect(formatKeyCombo(parseKeyCombo("super+l"))).toBe("Super+L");
    expect(formatKeyCombo(parseKeyCombo("altgr+pgup+sysrq"))).toBe("AltGr+PgUp+SysRq");
    expect(formatKeyCombo(parseKeyCombo("print"))).toBe("Print");
    expect(formatKeyCombo(parseKeyCombo("Control_R+esc+enter+space"))).toBe("Right Ctrl+Esc+Enter+Space");
    expect(formatKeyCombo([])).toBe("");
  });
});

describe("comboEvents", () => {
  it("presses in order and releases in reverse order", () => {
    const keys = parseKeyCombo("ctrl+alt+del");
    expect(comboEvents(keys).map((e) => `${e.down ? "+" : "-"}${e.key.name}`)).toEqual([
      "+Control_L",
      "+Alt_L",
      "+Delete",
      "-Delete",
      "-Alt_L",
      "-Control_L",
    ]);
    expect(comboEvents(keys)[0]?.key).toBe(keys[0]);
    expect(comboEvents(parseKeyCombo("print")).map((e) => e.down)).toEqual([true, false]);
    expect(comboEvents([])).toEqual([]);
  });

  it("leaves the keys it was given in their order", () => {
    const keys = parseKeyCombo("shift+f12");
    comboEvents(keys);
    expect(keys.map((k) => k.name)).toEqual(["Shift_L", "F12"]);
  });
});
