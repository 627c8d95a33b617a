// porthole-capture --audio against QEMU 7.2 playing a known tone (tests/gjs/tone-guest.ts):
// the WAV must hold the tone at its frequency without drop-outs, the guest's pauses as
// silence as long as they lasted, and be a WAV that GStreamer's wavparse (not our code)
// reads in the format asked for. A server without QEMU audio must be an error.
//
// QEMU 7.2 acknowledges the audio pseudo-encoding even when its -vnc has no audiodev
// (measured with the painting guest of tests/gjs/qemu.ts: the ack came, and enabling made
// QEMU look for a default audio driver), so the server without audio is TigerVNC's Xvnc.

import GLib from "gi://GLib";

import {
  channelOf,
  dominantFrequency,
  findGaps,
  findSegments,
  goertzelAmplitude,
  phaseJumps,
  s16le,
  seconds,
  slice,
  steadyPart,
  zeroCrossingFrequency,
} from "./audio-analysis.js";
import { capture, type Child, freeDisplay, run, startXvnc, tempDir } from "./processes.js";
import { startToneGuest, TONE_AMPLITUDE_S16, TONE_FREQUENCY, TONE_OFF_SECONDS, type ToneGuest } from "./tone-guest.js";

interface AudioStats {
  format: string;
  channels: number;
  rate: number;
  frames: number;
  dataMessages: number;
  begins: number;
  ends: number;
  silenceFrames: number;
}

interface Decoded {
  /** wavparse's source caps, e.g. "audio/x-raw, format=(string)S16LE, …". */
  caps: string;
  /** The PCM wavparse read, as it is in the file. */
  pcm: Uint8Array;
}

/**
 * Reads a WAV with GStreamer's wavparse into raw PCM, and what wavparse made of its header;
 * with `toS16`, the PCM goes through audioconvert (without dithering) to S16LE first.
 */
async function decodeWav(path: string, toS16 = false): Promise<Decoded> {
  const raw = `${path}.raw`;
  const convert = toS16 ? ["audioconvert", "dithering=none", "!", "audio/x-raw,format=S16LE", "!"] : [];
  const r = await run([
    "gst-launch-1.0",
    "-v",
    "filesrc",
    `location=${path}`,
    "!",
    "wavparse",
    "!",
    ...convert,
    "filesink",
    `location=${raw}`,
  ]);
  const out = new TextDecoder().decode(r.stdout);
  if (r.status !== 0) throw new Error(`gst-launch-1.0 failed (${r.status}): ${r.stderr}${out}`);
  const caps = /GstWavParse:wavparse0\.GstPad:src: caps = (.*)/.exec(out)?.[1] ?? "";
  const [, pcm] = GLib.file_get_contents(raw);
  return { caps, pcm };
}

function fileBytes(path: string): Uint8Array {
  return GLib.file_get_contents(path)[1];
}

const stats = (stdout: Uint8Array): AudioStats => JSON.parse(new TextDecoder().decode(stdout)) as AudioStats;

const RATE = 48000;
/** Long enough for a whole pause between two tones after at least 5 s of the first. */
const DURATION = 10.5;

describe("audio capture (porthole-capture --audio) with the tone guest", () => {
  let dir: string;
  let guest: ToneGuest | null = null;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startToneGuest(dir);
  });

  afterAll(async () => {
    await guest?.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  const started = (): ToneGuest => {
    if (!guest) throw new Error("the guest did not start");
    return guest;
  };

  it("records the tone without drop-outs and the guest's pause as silence as long as it lasted", async () => {
    // startToneGuest resolves as the first tone begins; the capture starts within a second
    // of that, so its first tone-on stretch lasts 6 s or so, then 3 s of pause, then the
    // second tone.
    const g = started();
    const wav = `${dir}/tone.wav`;
    const r = await capture("--audio", wav, "--duration", String(DURATION), "--stats", g.vncUri);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const s = stats(r.stdout);
    expect(s).toEqual(jasmine.objectContaining({ format: "s16", channels: 2, rate: RATE }));
    // QEMU sends BEGIN on the enable (the tone was on), END when the guest turns the speaker
    // off and BEGIN when it turns it on again.
    expect([s.begins, s.ends]).withContext(JSON.stringify(s)).toEqual([2, 1]);

    // The header's sizes were patched to the real ones at the end.
    const bytes = fileBytes(wav);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(view.getUint32(4, true)).toBe(bytes.length - 8);
    expect(view.getUint32(40, true)).toBe(bytes.length - 44);
    expect(bytes.length - 44).toBe(s.frames * 4);

    const { caps, pcm } = await decodeWav(wav);
    expect(caps).toContain("format=(string)S16LE");
    expect(caps).toContain("channels=(int)2");
    expect(caps).toContain("rate=(int)48000");
    const samples = s16le(pcm);
    expect(samples.length).toBe(s.frames * 2);
    // The file lasts as long as the capture by the wall clock: pauses are padded.
    expect(s.frames / RATE).toBeGreaterThan(DURATION - 0.2);
    expect(s.frames / RATE).toBeLessThan(DURATION + 0.2);

    // The speaker is mono: both channels carry the same samples.
    const left = channelOf(samples, 2, 0);
    const right = channelOf(samples, 2, 1);
    expect(left.every((v, i) => v === right[i])).toBeTrue();

    // Two tone-on stretches with the pause between them.
    const segments = findSegments(left, RATE, 500);
    expect(segments.length).withContext(JSON.stringify(segments)).toBe(2);
    const [first, second] = segments;
    if (!first || !second) return;
    expect(seconds(first, RATE)).toBeGreaterThan(5);
    const pause = (second.start - first.end) / RATE;
    expect(pause).toBeGreaterThan(TONE_OFF_SECONDS - 0.1);
    expect(pause).toBeLessThan(TONE_OFF_SECONDS + 0.1);

    // The steady part of the first stretch: the tone's frequency within 2% (found within
    // 0.1%), no silence of 20 ms or more anywhere in it, and no piece lost or repeated: every
    // period lasts 96 samples to within 2 (measured: within 0.07 here; a lost DATA message
    // of ~487 frames would move the phase by ~7 samples).
    const steady = slice(left, steadyPart(first, RATE, 100));
    expect(steady.length / RATE).toBeGreaterThan(5);
    expect(findGaps(steady, RATE, 20)).toEqual([]);
    expect(phaseJumps(steady, RATE, TONE_FREQUENCY)).toEqual([]);
    for (const f of [zeroCrossingFrequency(steady, RATE), dominantFrequency(steady, RATE)])
      expect(Math.abs(f / TONE_FREQUENCY - 1))
        .withContext(`${f} Hz`)
        .toBeLessThan(0.001);
  });

  it("records in the format asked for: u8 mono at 22050 Hz", async () => {
    const g = started();
    // Two seconds inside one tone-on stretch.
    const phase = await g.phase();
    if (!phase.on || phase.remaining < 3) await g.nextSwitch("on");
    const wav = `${dir}/u8.wav`;
    const r = await capture(
      "--audio",
      wav,
      "--duration",
      "2",
      "--audio-format",
      "u8",
      "--audio-rate",
      "22050",
      "--audio-channels",
      "1",
      "--stats",
      g.vncUri,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const s = stats(r.stdout);
    expect(s).toEqual(jasmine.objectContaining({ format: "u8", channels: 1, rate: 22050, begins: 1, ends: 0 }));
    const { caps, pcm } = await decodeWav(wav);
    expect(caps).toContain("format=(string)U8");
    expect(caps).toContain("channels=(int)1");
    expect(caps).toContain("rate=(int)22050");
    expect(pcm.length).toBe(s.frames);
    // U8 is centred on 128: the tone swings around it, at its frequency. (Clipped: QEMU makes
    // mono by adding left and right, measured as 0 and 255 for this 3/4-scale tone.)
    const centred = Array.from(pcm, (v) => (v - 128) * 256);
    const segments = findSegments(centred, 22050, 200);
    expect(segments.length).toBe(1);
    const tone = centred.slice(segments[0]?.start ?? 0, segments[0]?.end ?? 0);
    expect(tone.length / 22050).toBeGreaterThan(1.5);
    expect(findGaps(tone, 22050, 20)).toEqual([]);
    expect(Math.abs(zeroCrossingFrequency(tone, 22050) / TONE_FREQUENCY - 1)).toBeLessThan(0.002);
  });

  it("writes every other sample format as WAV's own encoding of the same tone", async () => {
    // QEMU's S8, U16 and U32 must have their top bit flipped for WAV, S32 not (src/protocol/
    // wav.ts): read back through wavparse and audioconvert, each must be the ±24576 square
    // wave S16 gave. A missing or wrong flip turns it into ±8192 around the other pole.
    const g = started();
    for (const [format, wavFormat] of [
      ["s8", "U8"],
      ["u16", "S16LE"],
      ["s32", "S32LE"],
      ["u32", "S32LE"],
    ] as const) {
      const phase = await g.phase();
      if (!phase.on || phase.remaining < 1.5) await g.nextSwitch("on");
      const wav = `${dir}/${format}.wav`;
      const r = await capture("--audio", wav, "--duration", "0.5", "--audio-format", format, g.vncUri);
      expect(r.stderr).withContext(format).toBe("");
      expect(r.status).withContext(format).toBe(0);
      const { caps, pcm } = await decodeWav(wav, true);
      expect(caps).withContext(format).toContain(`format=(string)${wavFormat}`);
      const left = channelOf(s16le(pcm), 2, 0);
      const [tone] = findSegments(left, RATE, 200);
      const steady = slice(left, steadyPart(tone ?? { start: 0, end: 0 }, RATE, 20));
      expect(steady.length / RATE)
        .withContext(format)
        .toBeGreaterThan(0.3);
      expect(Math.abs(zeroCrossingFrequency(steady, RATE) / TONE_FREQUENCY - 1))
        .withContext(format)
        .toBeLessThan(0.002);
      // The fundamental of a square wave of amplitude A is 4A/π.
      expect(goertzelAmplitude(steady, RATE, TONE_FREQUENCY) / ((4 / Math.PI) * TONE_AMPLITUDE_S16))
        .withContext(format)
        .toBeCloseTo(1, 1);
    }
  });

  it("refuses options that do not go together, before connecting", async () => {
    for (const args of [
      ["--audio", `${dir}/x.wav`, "vnc+unix:///nowhere"],
      ["--duration", "1", "vnc+unix:///nowhere", `${dir}/x.png`],
      ["--audio", `${dir}/x.wav`, "--duration", "1", "--audio-rate", "96000", "vnc+unix:///nowhere"],
      ["--audio", `${dir}/x.wav`, "--duration", "1", "--audio-format", "f32", "vnc+unix:///nowhere"],
      ["--audio", `${dir}/x.wav`, "--duration", "1", "vnc+unix:///nowhere", `${dir}/x.png`],
    ]) {
      const r = await capture(...args);
      expect(r.status).withContext(args.join(" ")).toBe(2);
      expect(r.stderr).toContain("Try “porthole-capture --help”.");
    }
    expect(GLib.file_test(`${dir}/x.wav`, GLib.FileTest.EXISTS)).toBeFalse();
  });
});

describe("audio capture (porthole-capture --audio) from a server without QEMU audio", () => {
  let dir: string;
  let xvnc: Child | null = null;

  beforeAll(async () => {
    dir = tempDir();
    const socket = `${dir}/vnc.sock`;
    xvnc = startXvnc(freeDisplay(), { width: 64, height: 48 }, { unix: socket }, ["-SecurityTypes", "None"]);
    await xvnc.waitUntil("its socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
  });

  afterAll(async () => {
    await xvnc?.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("says so and exits 1 as soon as the server answered without the ack, leaving no file", async () => {
    const wav = `${dir}/none.wav`;
    const before = GLib.get_monotonic_time();
    const r = await capture("--audio", wav, "--duration", "5", `vnc+unix://${dir}/vnc.sock`);
    const took = (GLib.get_monotonic_time() - before) / 1e6;
    expect(r.stderr).toBe("porthole-capture: the server does not support QEMU audio\n");
    expect(r.status).toBe(1);
    expect(took).toBeLessThan(4);
    expect(GLib.file_test(wav, GLib.FileTest.EXISTS)).toBeFalse();
  });
});
