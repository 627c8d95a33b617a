// The numbers of RFB (RFC 6143 and the community registry in rfbproto) that this client
// speaks, in one place. Pseudo-encodings are signed 32-bit on the wire.

export const Encoding = {
  Raw: 0,
  CopyRect: 1,
  RRE: 2,
  CoRRE: 4,
  Hextile: 5,
  Zlib: 6,
  Tight: 7,
  ZRLE: 16,
  /** Tight PNG: a real encoding despite its negative number. */
  TightPNG: -260,

  /** -32 + level (0–9): JPEG quality for Tight. */
  JPEGQualityLevel0: -32,
  /** -256 + level (0–9): zlib effort for Tight/Zlib/ZRLE. */
  CompressLevel0: -256,

  DesktopSize: -223,
  LastRect: -224,
  Cursor: -239,
  DesktopName: -307,
  ExtendedDesktopSize: -308,
  Xvp: -309,
  Fence: -312,
  ContinuousUpdates: -313,
  CursorWithAlpha: -314,
  ExtendedMouseButtons: -316,

  QEMUPointerMotionChange: -257,
  QEMUExtendedKeyEvent: -258,
  QEMUAudio: -259,
  QEMULedState: -261,
  /** The RFB Streams capability (docs/streams.md). */
  Streams: -262,

  /** VMware "WMVi": the server changed the pixel format (QEMU sends it, then reverts). */
  VMwareDisplayModeChange: 0x574d5669,
  /** ExtendedClipboard, 0xC0A1E5CE as a signed 32-bit number. */
  ExtendedClipboard: 0xc0a1e5ce | 0,
} as const;

export const ClientMessage = {
  SetPixelFormat: 0,
  SetEncodings: 2,
  FramebufferUpdateRequest: 3,
  KeyEvent: 4,
  PointerEvent: 5,
  ClientCutText: 6,
  EnableContinuousUpdates: 150,
  ClientFence: 248,
  Xvp: 250,
  SetDesktopSize: 251,
  QEMU: 255,
} as const;

export const ServerMessage = {
  FramebufferUpdate: 0,
  SetColourMapEntries: 1,
  Bell: 2,
  ServerCutText: 3,
  EndOfContinuousUpdates: 150,
  ServerFence: 248,
  Xvp: 250,
  QEMU: 255,
} as const;

export const SecurityType = {
  Invalid: 0,
  None: 1,
  VncAuth: 2,
  VeNCrypt: 19,
} as const;

/** VeNCrypt sub-types (rfbproto §7.2.8; QEMU and gtk-vnc swap SASL 263/264, unused here). */
export const VeNCryptSubtype = {
  Plain: 256,
  TLSNone: 257,
  TLSVnc: 258,
  TLSPlain: 259,
  X509None: 260,
  X509Vnc: 261,
  X509Plain: 262,
} as const;

/** QEMU client message 255 sub-types. */
export const QEMUClientMessage = {
  ExtendedKeyEvent: 0,
  Audio: 1,
  Streams: 2,
} as const;

/** Limits on what a server may make us allocate. */
export const Limits = {
  maxFramebufferSide: 16384,
  maxCursorSide: 256,
  maxCutText: 16 * 1024 * 1024,
  maxReasonLength: 64 * 1024,
  maxDesktopName: 64 * 1024,
} as const;

/** Command-line names of the real encodings (porthole-capture --encoding). */
export const ENCODINGS_BY_NAME: Readonly<Record<string, number>> = {
  raw: Encoding.Raw,
  copyrect: Encoding.CopyRect,
  rre: Encoding.RRE,
  corre: Encoding.CoRRE,
  hextile: Encoding.Hextile,
  zlib: Encoding.Zlib,
  zrle: Encoding.ZRLE,
  tight: Encoding.Tight,
  tightpng: Encoding.TightPNG,
};
