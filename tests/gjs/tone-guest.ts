// The tone guest for the specs of Porthole's audio path: a QEMU guest whose PC speaker plays
// a known tone in a fixed on/off pattern, with VNC audio. It lives in src/tools/tone-guest.ts
// (porthole-bench audio plays it too); what QEMU 7.2 delivers for it is described there.

export {
  BIOS_TICK_HZ,
  pcspkFrequency,
  PIT_FREQUENCY,
  startToneGuest,
  TONE_AMPLITUDE_S16,
  TONE_FREQUENCY,
  TONE_OFF_SECONDS,
  TONE_OFF_TICKS,
  TONE_ON_SECONDS,
  TONE_ON_TICKS,
  TONE_PIT_DIVISOR,
  type ToneGuest,
  type ToneGuestOptions,
  type TonePhase,
} from "../../src/tools/tone-guest.js";
