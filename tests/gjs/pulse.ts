// The private, headless PulseAudio of the audio specs: one null sink whose monitor records
// what was played into it. It lives in src/tools/pulse-server.ts (porthole-bench audio
// plays into it too); how it is isolated from the user's session is described there.

export {
  PULSE_CHANNELS,
  PULSE_RATE,
  PULSE_SINK,
  type PulseOptions,
  type PulseServer,
  type Recording,
  startPulse,
} from "../../src/tools/pulse-server.js";
