// Linux evdev key codes to the numbers QEMU's Extended Key Event (RFB client message 255,
// sub-type 0) carries, which QEMU calls "qnum": the XT (AT set 1) scancode of the key's
// make code, one byte, with an 0xE0-prefixed code sent as 0x80 | code (Right Ctrl E0 1D is
// 0x9d). rfbproto describes the same encoding for the message's keycode field.
//
// The table is keycodemapdb's data/keymaps.csv (github.com/qemu/keycodemapdb, commit
// 22b8996dba9041874845c7446ce89ec4ae2b713d), the "Linux Keycode" and "AT set1 keycode"
// columns, copied as the CSV writes them. qnum is derived the way tools/keymap-gen's
// Database.derive_data does for its `linux` → `qnum` map (the map QEMU generates its
// ui/input-keymap-*-to-qnum.c.inc from):
// - a code 0xE0xx becomes 0x80 | xx;
// - Hanja (0xF1) and Hangeul (0xF2) are single bytes with bit 7 set, which would read as a
//   release, so their qnums keep only the low seven bits (0x71, 0x72), as QEMU always did;
// - everything else is the one-byte code itself.
// Every evdev code with an AT set 1 value in the CSV is here (the 105-key PC keyboard, the
// Japanese, Korean and Brazilian ABNT2 extras, F13–F24, the multimedia and ACPI keys); rows
// without one (KEY_ISO, KEY_EXIT, KEY_MOVE, codes from 240 up) have no scancode.
//
// What a QEMU guest then sees is QEMU's PS/2 emulation's business: it turns qnum → QKeyCode
// → bytes, and a few keys get their real multi-byte sequences rather than the qnum's bytes.
// Measured with QEMU 7.2 (tests/gjs/scancode-guest.spec.ts): Print Screen (KEY_SYSRQ, qnum
// 0x54, the code a keyboard sends for Alt+SysRq) reaches the guest as E0 2A E0 37 / E0 B7
// E0 AA, and Pause (qnum 0xC6) as E1 1D 45 E1 9D C5 on press and nothing on release.

/** [evdev code, "AT set1 keycode" as keymaps.csv writes it] */
const AT_SET1_BY_EVDEV: readonly (readonly [number, number])[] = [
  [1, 0x01], // KEY_ESC
  [2, 0x02], // KEY_1
  [3, 0x03], // KEY_2
  [4, 0x04], // KEY_3
  [5, 0x05], // KEY_4
  [6, 0x06], // KEY_5
  [7, 0x07], // KEY_6
  [8, 0x08], // KEY_7
  [9, 0x09], // KEY_8
  [10, 0x0a], // KEY_9
  [11, 0x0b], // KEY_0
  [12, 0x0c], // KEY_MINUS
  [13, 0x0d], // KEY_EQUAL
  [14, 0x0e], // KEY_BACKSPACE
  [15, 0x0f], // KEY_TAB
  [16, 0x10], // KEY_Q
  [17, 0x11], // KEY_W
  [18, 0x12], // KEY_E
  [19, 0x13], // KEY_R
  [20, 0x14], // KEY_T
  [21, 0x15], // KEY_Y
  [22, 0x16], // KEY_U
  [23, 0x17], // KEY_I
  [24, 0x18], // KEY_O
  [25, 0x19], // KEY_P
  [26, 0x1a], // KEY_LEFTBRACE
  [27, 0x1b], // KEY_RIGHTBRACE
  [28, 0x1c], // KEY_ENTER
  [29, 0x1d], // KEY_LEFTCTRL
  [30, 0x1e], // KEY_A
  [31, 0x1f], // KEY_S
  [32, 0x20], // KEY_D
  [33, 0x21], // KEY_F
  [34, 0x22], // KEY_G
  [35, 0x23], // KEY_H
  [36, 0x24], // KEY_J
  [37, 0x25], // KEY_K
  [38, 0x26], // KEY_L
  [39, 0x27], // KEY_SEMICOLON
  [40, 0x28], // KEY_APOSTROPHE
  [41, 0x29], // KEY_GRAVE
  [42, 0x2a], // KEY_LEFTSHIFT
  [43, 0x2b], // KEY_BACKSLASH
  [44, 0x2c], // KEY_Z
  [45, 0x2d], // KEY_X
  [46, 0x2e], // KEY_C
  [47, 0x2f], // KEY_V
  [48, 0x30], // KEY_B
  [49, 0x31], // KEY_N
  [50, 0x32], // KEY_M
  [51, 0x33], // KEY_COMMA
  [52, 0x34], // KEY_DOT
  [53, 0x35], // KEY_SLASH
  [54, 0x36], // KEY_RIGHTSHIFT
  [55, 0x37], // KEY_KPASTERISK
  [56, 0x38], // KEY_LEFTALT
  [57, 0x39], // KEY_SPACE
  [58, 0x3a], // KEY_CAPSLOCK
  [59, 0x3b], // KEY_F1
  [60, 0x3c], // KEY_F2
  [61, 0x3d], // KEY_F3
  [62, 0x3e], // KEY_F4
  [63, 0x3f], // KEY_F5
  [64, 0x40], // KEY_F6
  [65, 0x41], // KEY_F7
  [66, 0x42], // KEY_F8
  [67, 0x43], // KEY_F9
  [68, 0x44], // KEY_F10
  [69, 0x45], // KEY_NUMLOCK
  [70, 0x46], // KEY_SCROLLLOCK
  [71, 0x47], // KEY_KP7
  [72, 0x48], // KEY_KP8
  [73, 0x49], // KEY_KP9
  [74, 0x4a], // KEY_KPMINUS
  [75, 0x4b], // KEY_KP4
  [76, 0x4c], // KEY_KP5
  [77, 0x4d], // KEY_KP6
  [78, 0x4e], // KEY_KPPLUS
  [79, 0x4f], // KEY_KP1
  [80, 0x50], // KEY_KP2
  [81, 0x51], // KEY_KP3
  [82, 0x52], // KEY_KP0
  [83, 0x53], // KEY_KPDOT
  [84, 0x54], // (no KEY_ name; unnamed row)
  [85, 0x76], // KEY_ZENKAKUHANKAKU
  [86, 0x56], // KEY_102ND
  [87, 0x57], // KEY_F11
  [88, 0x58], // KEY_F12
  [89, 0x73], // KEY_RO
  [90, 0x78], // KEY_KATAKANA
  [91, 0x77], // KEY_HIRAGANA
  [92, 0x79], // KEY_HENKAN
  [93, 0x70], // KEY_KATAKANAHIRAGANA
  [94, 0x7b], // KEY_MUHENKAN
  [95, 0x5c], // KEY_KPJPCOMMA
  [96, 0xe01c], // KEY_KPENTER
  [97, 0xe01d], // KEY_RIGHTCTRL
  [98, 0xe035], // KEY_KPSLASH
  [99, 0x54], // KEY_SYSRQ
  [100, 0xe038], // KEY_RIGHTALT
  [101, 0x5b], // KEY_LINEFEED
  [102, 0xe047], // KEY_HOME
  [103, 0xe048], // KEY_UP
  [104, 0xe049], // KEY_PAGEUP
  [105, 0xe04b], // KEY_LEFT
  [106, 0xe04d], // KEY_RIGHT
  [107, 0xe04f], // KEY_END
  [108, 0xe050], // KEY_DOWN
  [109, 0xe051], // KEY_PAGEDOWN
  [110, 0xe052], // KEY_INSERT
  [111, 0xe053], // KEY_DELETE
  [112, 0xe06f], // KEY_MACRO
  [113, 0xe020], // KEY_MUTE
  [114, 0xe02e], // KEY_VOLUMEDOWN
  [115, 0xe030], // KEY_VOLUMEUP
  [116, 0xe05e], // KEY_POWER
  [117, 0x59], // KEY_KPEQUAL
  [118, 0xe04e], // KEY_KPPLUSMINUS
  [119, 0xe046], // KEY_PAUSE
  [120, 0xe00b], // KEY_SCALE
  [121, 0x7e], // KEY_KPCOMMA
  [122, 0xf2], // KEY_HANGEUL
  [123, 0xf1], // KEY_HANJA
  [124, 0x7d], // KEY_YEN
  [125, 0xe05b], // KEY_LEFTMETA
  [126, 0xe05c], // KEY_RIGHTMETA
  [127, 0xe05d], // KEY_COMPOSE
  [128, 0xe068], // KEY_STOP
  [129, 0xe005], // KEY_AGAIN
  [130, 0xe006], // KEY_PROPS
  [131, 0xe007], // KEY_UNDO
  [132, 0xe00c], // KEY_FRONT
  [133, 0xe078], // KEY_COPY
  [134, 0x64], // KEY_OPEN
  [135, 0x65], // KEY_PASTE
  [136, 0xe041], // KEY_FIND
  [137, 0xe03c], // KEY_CUT
  [138, 0xe075], // KEY_HELP
  [139, 0xe01e], // KEY_MENU
  [140, 0xe021], // KEY_CALC
  [141, 0x66], // KEY_SETUP
  [142, 0xe05f], // KEY_SLEEP
  [143, 0xe063], // KEY_WAKEUP
  [144, 0x67], // KEY_FILE
  [145, 0x68], // KEY_SENDFILE
  [146, 0x69], // KEY_DELETEFILE
  [147, 0xe013], // KEY_XFER
  [148, 0xe01f], // KEY_PROG1
  [149, 0xe017], // KEY_PROG2
  [150, 0xe002], // KEY_WWW
  [151, 0x6a], // KEY_MSDOS
  [152, 0xe012], // KEY_SCREENLOCK
  [153, 0x6b], // KEY_DIRECTION
  [154, 0xe026], // KEY_CYCLEWINDOWS
  [155, 0xe06c], // KEY_MAIL
  [156, 0xe066], // KEY_BOOKMARKS
  [157, 0xe06b], // KEY_COMPUTER
  [158, 0xe06a], // KEY_BACK
  [159, 0xe069], // KEY_FORWARD
  [160, 0xe023], // KEY_CLOSECD
  [161, 0x6c], // KEY_EJECTCD
  [162, 0xe07d], // KEY_EJECTCLOSECD
  [163, 0xe019], // KEY_NEXTSONG
  [164, 0xe022], // KEY_PLAYPAUSE
  [165, 0xe010], // KEY_PREVIOUSSONG
  [166, 0xe024], // KEY_STOPCD
  [167, 0xe031], // KEY_RECORD
  [168, 0xe018], // KEY_REWIND
  [169, 0x63], // KEY_PHONE
  [171, 0xe001], // KEY_CONFIG
  [172, 0xe032], // KEY_HOMEPAGE
  [173, 0xe067], // KEY_REFRESH
  [176, 0xe008], // KEY_EDIT
  [177, 0x75], // KEY_SCROLLUP
  [178, 0xe00f], // KEY_SCROLLDOWN
  [179, 0xe076], // KEY_KPLEFTPAREN
  [180, 0xe07b], // KEY_KPRIGHTPAREN
  [181, 0xe009], // KEY_NEW
  [182, 0xe00a], // KEY_REDO
  [183, 0x5d], // KEY_F13
  [184, 0x5e], // KEY_F14
  [185, 0x5f], // KEY_F15
  [186, 0x55], // KEY_F16
  [187, 0xe003], // KEY_F17
  [188, 0xe077], // KEY_F18
  [189, 0xe004], // KEY_F19
  [190, 0x5a], // KEY_F20
  [191, 0x74], // KEY_F21
  [192, 0xe079], // KEY_F22
  [193, 0x6d], // KEY_F23
  [194, 0x6f], // KEY_F24
  [195, 0xe015], // (no KEY_ name; unnamed row)
  [196, 0xe016], // (no KEY_ name; unnamed row)
  [197, 0xe01a], // (no KEY_ name; unnamed row)
  [198, 0xe01b], // (no KEY_ name; unnamed row)
  [199, 0xe027], // (no KEY_ name; unnamed row)
  [200, 0xe028], // KEY_PLAYCD
  [201, 0xe029], // KEY_PAUSECD
  [202, 0xe02b], // KEY_PROG3
  [203, 0xe02c], // KEY_PROG4
  [204, 0xe02d], // KEY_DASHBOARD
  [205, 0xe025], // KEY_SUSPEND
  [206, 0xe02f], // KEY_CLOSE
  [207, 0xe033], // KEY_PLAY
  [208, 0xe034], // KEY_FASTFORWARD
  [209, 0xe036], // KEY_BASSBOOST
  [210, 0xe039], // KEY_PRINT
  [211, 0xe03a], // KEY_HP
  [212, 0xe03b], // KEY_CAMERA
  [213, 0xe03d], // KEY_SOUND
  [214, 0xe03e], // KEY_QUESTION
  [215, 0xe03f], // KEY_EMAIL
  [216, 0xe040], // KEY_CHAT
  [217, 0xe065], // KEY_SEARCH
  [218, 0xe042], // KEY_CONNECT
  [219, 0xe043], // KEY_FINANCE
  [220, 0xe044], // KEY_SPORT
  [221, 0xe045], // KEY_SHOP
  [222, 0xe014], // KEY_ALTERASE
  [223, 0xe04a], // KEY_CANCEL
  [224, 0xe04c], // KEY_BRIGHTNESSDOWN
  [225, 0xe054], // KEY_BRIGHTNESSUP
  [226, 0xe06d], // KEY_MEDIA
  [227, 0xe056], // KEY_SWITCHVIDEOMODE
  [228, 0xe057], // KEY_KBDILLUMTOGGLE
  [229, 0xe058], // KEY_KBDILLUMDOWN
  [230, 0xe059], // KEY_KBDILLUMUP
  [231, 0xe05a], // KEY_SEND
  [232, 0xe064], // KEY_REPLY
  [233, 0xe00e], // KEY_FORWARDMAIL
  [234, 0xe055], // KEY_SAVE
  [235, 0xe070], // KEY_DOCUMENTS
  [236, 0xe071], // KEY_BATTERY
  [237, 0xe072], // KEY_BLUETOOTH
  [238, 0xe073], // KEY_WLAN
  [239, 0xe074], // KEY_UWB
];

/** keymap-gen's qnum for an AT set 1 code (see the comment at the top). */
function qnumOf(atSet1: number): number {
  if (atSet1 === 0xf1 || atSet1 === 0xf2) return atSet1 & 0x7f;
  if ((atSet1 & 0xff00) === 0xe000) return 0x80 | (atSet1 & 0x7f);
  return atSet1;
}

const QNUM_BY_EVDEV = (() => {
  const table = new Uint8Array(256);
  for (const [evdev, atSet1] of AT_SET1_BY_EVDEV) table[evdev] = qnumOf(atSet1);
  return table;
})();

/** The qnum of a Linux evdev key code (linux/input-event-codes.h KEY_*), or 0 if it has none. */
export function evdevToQnum(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code >= QNUM_BY_EVDEV.length) return 0;
  return QNUM_BY_EVDEV[code] ?? 0;
}

/**
 * The qnum of an X11 hardware keycode as GDK reports it: with the evdev/libinput X drivers
 * and on Wayland (xkb's "evdev" keycodes) a keycode is the evdev code + 8, because X11
 * reserves keycodes 0–7. Returns 0 for keys with no scancode.
 */
export function x11KeycodeToQnum(keycode: number): number {
  return keycode >= 8 ? evdevToQnum(keycode - 8) : 0;
}
