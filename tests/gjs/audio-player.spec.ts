// PortholeAudioPlayer with real GStreamer, fed real QEMU audio messages through its
// extension's parser at the pace QEMU sends them (10 ms chunks): what reaches the sink is
// the tone, complete, in order; stats and states follow; silences release the device.

import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { ByteQueue } from "../../src/protocol/byte-queue.js";
import { Encoding } from "../../src/protocol/constants.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { parseServerAddress } from "../../src/protocol/address.js";
import { PortholeAudioPlayer } from "../../src/widgets/audio-player.js";
import { PortholeVncDisplay } from "../../src/widgets/vnc-display.js";
import {
  channelOf,
  findGaps,
  findSegments,
  seconds,
  slice,
  steadyPart,
  zeroCrossingFrequency,
} from "./audio-analysis.js";
import { type PulseServer, startPulse } from "./pulse.js";
import { startToneGuest, type ToneGuest } from "./tone-guest.js";
import { delay, tempDir, waitFor } from "./processes.js";

const RATE = 48000;

/** A 255/1 server message: U8 255, U8 1, U16 op (and for DATA, U32 length and the PCM). */
function serverAudio(op: number, pcm?: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + (pcm ? 4 + pcm.length : 0));
  const v = new DataView(bytes.buffer);
  v.setUint8(0, 255);
  v.setUint8(1, 1);
  v.setUint16(2, op);
  if (pcm) {
    v.setUint32(4, pcm.length);
    bytes.set(pcm, 8);
  }
  return bytes;
}

/** `ms` of a stereo S16LE sine at `hz`, starting at frame `from`. */
function sine(hz: number, from: number, ms: number): Uint8Array {
  const frames = (RATE * ms) / 1000;
  const out = new Int16Array(frames * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(12000 * Math.sin((2 * Math.PI * hz * (from + i)) / RATE));
    out[i * 2] = v;
    out[i * 2 + 1] = v;
  }
  return new Uint8Array(out.buffer);
}

/** The left channel of a 16-bit stereo WAV written by wavenc (a 44-byte header). */
function readWav(path: string): Int16Array {
  const [, data] = GLib.file_get_contents(path);
  const body = data.slice(44);
  const all = new Int16Array(body.buffer, 0, Math.floor(body.length / 2));
  const left = new Int16Array(all.length / 2);
  for (let i = 0; i < left.length; i++) left[i] = all[i * 2] ?? 0;
  return left;
}

/** Frequency from rising zero crossings, interpolated. */
function frequency(samples: Int16Array): number {
  const crossings: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] ?? 0;
    const b = samples[i] ?? 0;
    if (a < 0 && b >= 0) crossings.push(i - 1 + a / (a - b));
  }
  const first = crossings[0] ?? 0;
  const last = crossings[crossings.length - 1] ?? 0;
  return ((crossings.length - 1) * RATE) / (last - first);
}

describe("PortholeAudioPlayer", () => {
  let dir: string;
  let sent: Uint8Array[];

  const connect = (player: PortholeAudioPlayer) => {
    sent = [];
    const ext = player.extension;
    ext.attach({ send: (d) => sent.push(d), framebuffer: new MemoryFramebuffer(), acknowledged: () => true });
    // QEMU's ack: an empty -259 pseudo-rectangle.
    ext.rect(new ByteQueue(), { x: 0, y: 0, width: 0, height: 0, encoding: Encoding.QEMUAudio });
  };
  const deliver = (player: PortholeAudioPlayer, message: Uint8Array) => {
    const q = new ByteQueue();
    q.push(message);
    expect(player.extension.message(q)).toBeTrue();
  };

  beforeAll(() => {
    dir = tempDir();
  });

  afterAll(() => {
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("asks for S16 stereo 48 kHz once the server offers audio, then enables it", () => {
    const player = new PortholeAudioPlayer({});
    expect(player.state).toBe("unavailable");
    connect(player);
    expect(player.state).toBe("idle");
    // set-format (255/1/2: S16 = 3, 2 channels, 48000) before enable (255/1/0).
    expect(sent.map((m) => Array.from(m))).toEqual([
      [255, 1, 0, 2, 3, 2, 0, 0, 0xbb, 0x80],
      [255, 1, 0, 0],
    ]);
    player.enabled = false;
    expect(Array.from(sent[2] ?? [])).toEqual([255, 1, 0, 1]);
    player.extension.detach();
    expect(player.state).toBe("unavailable");
  });

  it("changes format while running: disable, set-format, enable", () => {
    const player = new PortholeAudioPlayer({});
    connect(player);
    sent = [];
    player.setFormat({ sampleFormat: 0, channels: 1, frequency: 22050 });
    expect(sent.map((m) => Array.from(m))).toEqual([
      [255, 1, 0, 1],
      [255, 1, 0, 2, 0, 1, 0, 0, 0x56, 0x22],
      [255, 1, 0, 0],
    ]);
    expect(() => {
      player.setFormat({ sampleFormat: 3, channels: 2, frequency: 96000 });
    }).toThrowError(/96000/);
    player.shutdown();
  });

  it("plays what arrives, in order and complete, at QEMU's pace", async () => {
    const out = `${dir}/tone.wav`;
    // A generous target: this file sink has no device buffer of its own, and this spec is
    // about order and completeness, not latency (the PulseAudio specs below hold that).
    const player = new PortholeAudioPlayer({ sink: `wavenc ! filesink sync=true location=${out}`, latency: 300 });
    connect(player);
    deliver(player, serverAudio(1));
    const seconds = 3;
    let frame = 0;
    const states = new Set<string>();
    player.connect("notify::state", () => states.add(player.state));
    await new Promise<void>((resolve) => {
      GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
        deliver(player, serverAudio(2, sine(440, frame, 10)));
        frame += RATE / 100;
        if (frame < RATE * seconds) return GLib.SOURCE_CONTINUE;
        resolve();
        return GLib.SOURCE_REMOVE;
      });
    });
    deliver(player, serverAudio(0));
    expect(states.has("playing")).toBeTrue();
    expect(player.underruns).toBe(0);
    expect(player.dropped_ms).toBeLessThan(30);
    // After the stream's end the device is released, which finishes the file.
    await waitFor("the release after END", () => player.state === "idle", 5000);
    const left = readWav(out);
    // Every frame reached the sink, less at most what the latency control dropped.
    expect(left.length).toBeGreaterThan(RATE * seconds - (RATE * 30) / 1000);
    expect(left.length).toBeLessThanOrEqual(RATE * seconds);
    expect(Math.abs(frequency(left.subarray(RATE, 2 * RATE)) - 440)).toBeLessThan(440 * 0.005);
    player.shutdown();
  });

  it("holds its latency when data comes faster than it plays", async () => {
    // A sink that takes data only in real time (sync=true on a fakesink), and a sender
    // 10 % fast: the queue must stay near the target by dropping, not grow.
    const player = new PortholeAudioPlayer({ sink: "fakesink sync=true", latency: 60 });
    connect(player);
    deliver(player, serverAudio(1));
    let frame = 0;
    const levels: number[] = [];
    await new Promise<void>((resolve) => {
      let ticks = 0;
      GLib.timeout_add(GLib.PRIORITY_DEFAULT, 9, () => {
        deliver(player, serverAudio(2, sine(440, frame, 10)));
        frame += RATE / 100;
        if (++ticks % 20 === 0) levels.push(player.buffered_ms);
        if (ticks < 300) return GLib.SOURCE_CONTINUE;
        resolve();
        return GLib.SOURCE_REMOVE;
      });
    });
    expect(player.dropped_ms).toBeGreaterThan(50);
    expect(Math.max(...levels.slice(3))).toBeLessThan(200);
    player.shutdown();
    await delay(50);
  });
});

describe("PortholeAudioPlayer with QEMU and PulseAudio", () => {
  let dir: string;
  let pulse: PulseServer | null = null;
  let guest: ToneGuest | null = null;
  let display: PortholeVncDisplay;
  let window: Gtk.Window;
  let player: PortholeAudioPlayer;
  let restoreEnvironment: (() => void) | null = null;

  beforeAll(async () => {
    dir = tempDir();
    GLib.mkdir_with_parents(`${dir}/pulse-home`, 0o700);
    GLib.mkdir_with_parents(`${dir}/guest`, 0o700);
    pulse = await startPulse(`${dir}/pulse-home`);
    // libpulse in this process must use the test server's cookie, not create one in HOME.
    restoreEnvironment = pulse.useInThisProcess();
    guest = await startToneGuest(`${dir}/guest`);
    player = new PortholeAudioPlayer({ sink: `pulsesink server=${pulse.server} device=${pulse.sink}` });
    display = new PortholeVncDisplay();
    window = new Gtk.Window({ child: display, default_width: 320, default_height: 200 });
    window.present();
  });

  afterAll(async () => {
    player.shutdown();
    display.close();
    window.destroy();
    await guest?.stop();
    await pulse?.stop();
    restoreEnvironment?.();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("plays a stream that begins while the sink is still open from the last one from its first sample", async () => {
    // Fed by hand (no guest yet): a short stream, a second of nothing (the pipeline is
    // released only after 2 s, so the sink plays dry meanwhile), then a 1 s tone.
    const p = pulse;
    if (!p) throw new Error("no sound server");
    const own = new PortholeAudioPlayer({ sink: `pulsesink server=${p.server} device=${p.sink}` });
    own.extension.attach({ send: () => undefined, framebuffer: new MemoryFramebuffer(), acknowledged: () => true });
    own.extension.rect(new ByteQueue(), { x: 0, y: 0, width: 0, height: 0, encoding: Encoding.QEMUAudio });
    const feed = (message: Uint8Array) => {
      const q = new ByteQueue();
      q.push(message);
      own.extension.message(q);
    };
    const stream = (ms: number) =>
      new Promise<void>((resolve) => {
        feed(serverAudio(1));
        let frame = 0;
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
          feed(serverAudio(2, sine(1000, frame, 10)));
          frame += RATE / 100;
          if (frame < (RATE * ms) / 1000) return GLib.SOURCE_CONTINUE;
          feed(serverAudio(0));
          resolve();
          return GLib.SOURCE_REMOVE;
        });
      });
    const recording = p.startRecording();
    try {
      await recording.started();
      await stream(300);
      await delay(1000);
      expect(own.state).withContext("the sink is still open").not.toBe("idle");
      await stream(1000);
      await delay(500);
    } finally {
      own.shutdown();
    }
    const left = channelOf(await recording.stop(), 2);
    const tones = findSegments(left, RATE, 200);
    expect(tones.length).withContext(JSON.stringify(tones)).toBe(2);
    expect(seconds(tones[1] ?? { start: 0, end: 0 }, RATE)).toBeCloseTo(1, 1);
    expect(own.underruns).toBe(0);
  });

  it("plays the guest's tone into the sound server without gaps, at its frequency", async () => {
    const g = guest;
    const p = pulse;
    if (!g || !p) throw new Error("no guest or sound server");
    display.open(parseServerAddress(g.vncUri), { extensions: [player.extension] });
    await waitFor("audio", () => player.state !== "unavailable", 20000);
    // Record a whole tone: from the next switch on to the following switch off.
    await g.nextSwitch("off", 20000);
    const recording = p.startRecording();
    await recording.started();
    await g.nextSwitch("on", 20000);
    await g.nextSwitch("off", 20000);
    await delay(300);
    const all = await recording.stop();
    const left = channelOf(all, 2);
    const tones = findSegments(left, 48000, 100);
    const longest = tones.reduce((a, b) => (seconds(b, 48000) > seconds(a, 48000) ? b : a));
    expect(seconds(longest, 48000)).toBeGreaterThan(g.onSeconds - 0.3);
    const steady = steadyPart(longest, 48000, 250);
    const samples = slice(left, steady);
    expect(seconds(steady, 48000)).toBeGreaterThan(5);
    expect(Math.abs(zeroCrossingFrequency(samples, 48000) - g.frequency) / g.frequency).toBeLessThan(0.02);
    expect(findGaps(samples, 48000, 20)).toEqual([]);
    expect(player.underruns).toBe(0);
    // Its latency stays near the 60 ms target.
    expect(player.buffered_ms).toBeLessThan(150);
  });

  it("goes quiet and plays again across the guest's silences, and stops when disabled", async () => {
    const g = guest;
    if (!g) throw new Error("no guest");
    await g.nextSwitch("off", 20000);
    await waitFor("the device to be released in the silence", () => player.state === "idle", 10000);
    await g.nextSwitch("on", 20000);
    await waitFor("playing again", () => player.state === "playing", 5000);
    player.enabled = false;
    expect(player.state).toBe("idle");
    await delay(500);
    expect(player.state).toBe("idle");
    player.enabled = true;
    await waitFor(
      "playing again once enabled",
      () => player.state === "playing" || player.state === "buffering",
      10000,
    );
  });

  it("starts again after a reconnection", async () => {
    const g = guest;
    if (!g) throw new Error("no guest");
    display.close();
    await waitFor("audio gone with the connection", () => player.state === "unavailable", 5000);
    display.open(parseServerAddress(g.vncUri), { extensions: [player.extension] });
    await g.nextSwitch("on", 20000);
    await waitFor("playing after the reconnection", () => player.state === "playing", 10000);
  });
});
