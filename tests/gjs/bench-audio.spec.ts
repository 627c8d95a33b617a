// porthole-bench audio end to end, shortened: it starts its own PulseAudio, tone guest and
// Xvfb, plays the tone with Porthole's viewer, gvncviewer and Porthole's player inside the
// bench in turn, and prints one JSON object. A functional check of the benchmark (every
// player played, the figures are there, Porthole's recording is the guest's tone), never
// of a speed: the latency and underrun goals are met in the benchmark, not in timed tests.

import { programBundle, run } from "./processes.js";
import { TONE_FREQUENCY } from "./tone-guest.js";

interface Stats {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}

interface ViewerAudioResult {
  sampleSpec: string;
  latencyMs: Stats;
  bufferLatencyMs: Stats;
  sinkLatencyMs: Stats;
  polls: number;
  missedPolls: number;
  streams: number;
  levelOverTime: { bufferMs: (number | null)[]; sinkMs: (number | null)[] };
  underruns: number;
  gapsMs: number[];
  gapsAtSeconds: number[];
  phaseJumps: number;
  frequency: number | null;
  toneFound: boolean;
  recordedSeconds: number;
  cpuSeconds: number | null;
  own: {
    bufferedMs: Stats;
    aheadOfServerMs: Stats;
    levelOverTime: (number | null)[];
    underruns: number;
    overruns: number;
    droppedMs: number;
  } | null;
}

interface AudioResult {
  seconds: number;
  warmupSeconds: number;
  pollMs: number;
  gapThresholdMs: number;
  toneHz: number;
  host: { cpus: number; loadAverageBefore: number; loadAverageAfter: number };
  porthole: ViewerAudioResult;
  portholePlayer: ViewerAudioResult;
  gvncviewer: ViewerAudioResult;
  goal: { maxUnderruns: number; maxLatencyMs: number; underruns: number; latencyP95Ms: number; portholeMeets: boolean };
}

const bench = (...args: string[]) => run(["gjs", "-m", programBundle("porthole-bench"), "audio", ...args]);

function expectStats(s: Stats, what: string): void {
  for (const k of ["mean", "p50", "p95", "max"] as const)
    expect(s[k]).withContext(`${what}.${k}`).toBeGreaterThanOrEqual(0);
  expect(s.p50).withContext(what).toBeLessThanOrEqual(s.p95);
  expect(s.p95).withContext(what).toBeLessThanOrEqual(s.max);
}

describe("porthole-bench audio", () => {
  it("plays the guest's tone with Porthole's viewer, gvncviewer and Porthole's player and reports them as JSON", async () => {
    const r = await bench("--seconds", "5", "--warmup", "1");
    expect(r.status).withContext(r.stderr).toBe(0);
    const result = JSON.parse(new TextDecoder().decode(r.stdout)) as AudioResult;
    expect(result).toEqual(
      jasmine.objectContaining({
        seconds: 5,
        warmupSeconds: 1,
        pollMs: 100,
        gapThresholdMs: 5,
        toneHz: TONE_FREQUENCY,
      }),
    );
    expect(result.host.cpus).toBeGreaterThan(0);
    for (const name of ["porthole", "portholePlayer", "gvncviewer"] as const) {
      const v = result[name];
      expectStats(v.latencyMs, `${name}.latencyMs`);
      expectStats(v.bufferLatencyMs, `${name}.bufferLatencyMs`);
      expectStats(v.sinkLatencyMs, `${name}.sinkLatencyMs`);
      // The total is the sum of its parts, poll by poll.
      expect(v.latencyMs.mean)
        .withContext(name)
        .toBeCloseTo(v.bufferLatencyMs.mean + v.sinkLatencyMs.mean, 0);
      // About one poll per 100 ms of the window, and one level per second.
      expect(v.polls).withContext(name).toBeGreaterThan(20);
      expect(v.levelOverTime.bufferMs.length).withContext(name).toBe(5);
      expect(v.levelOverTime.sinkMs.length).withContext(name).toBe(5);
      expect(v.streams).withContext(name).toBeGreaterThanOrEqual(1);
      expect(v.underruns).withContext(name).toBe(v.gapsMs.length);
      expect(v.gapsAtSeconds.length).withContext(name).toBe(v.gapsMs.length);
      for (const g of v.gapsMs) expect(g).withContext(name).toBeGreaterThanOrEqual(5);
      expect(v.phaseJumps).withContext(name).toBeGreaterThanOrEqual(0);
      expect(v.recordedSeconds).withContext(name).toBeCloseTo(5, 0);
    }
    // The viewers' processes are counted; the player inside the bench has its own view instead.
    for (const name of ["porthole", "gvncviewer"] as const) {
      expect(result[name].cpuSeconds).withContext(name).toBeGreaterThanOrEqual(0);
      expect(result[name].own).withContext(name).toBeNull();
    }
    const player = result.portholePlayer;
    expect(player.cpuSeconds).toBeNull();
    const own = player.own;
    if (own === null) throw new Error("no own view of Porthole's player");
    expectStats(own.bufferedMs, "own.bufferedMs");
    expect(own.levelOverTime.length).toBe(5);
    // What it holds ahead of the sound server: its own view less the server's, poll by poll.
    expect(own.aheadOfServerMs.mean).toBeCloseTo(own.bufferedMs.mean - player.latencyMs.mean, 0);
    for (const k of ["underruns", "overruns", "droppedMs"] as const) expect(own[k]).toBeGreaterThanOrEqual(0);
    // What each player asked QEMU for, as the sound server has the stream.
    expect(result.porthole.sampleSpec).toBe("s16le 2ch 48000Hz");
    expect(result.portholePlayer.sampleSpec).toBe("s16le 2ch 48000Hz");
    expect(result.gvncviewer.sampleSpec).toBe("s32le 2ch 44100Hz");
    // Porthole's recordings are the guest's tone (the 2 %).
    for (const name of ["porthole", "portholePlayer"] as const) {
      const f = result[name].frequency ?? NaN;
      expect(result[name].toneFound).withContext(name).toBeTrue();
      expect(Math.abs(f / TONE_FREQUENCY - 1))
        .withContext(name)
        .toBeLessThan(0.02);
    }
    expect(result.goal).toEqual(
      jasmine.objectContaining({
        maxUnderruns: 0,
        maxLatencyMs: 60,
        underruns: result.porthole.underruns,
        latencyP95Ms: own.bufferedMs.p95,
      }),
    );
    expect(result.goal.portholeMeets).toBe(
      result.porthole.underruns === 0 && own.bufferedMs.p95 <= 60 && result.porthole.latencyMs.p95 <= 60,
    );
    expect(r.stderr).toContain("goal for porthole");
  }, 60000);

  it("refuses a measuring window that is not a positive number of seconds", async () => {
    const r = await bench("--seconds", "0");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--seconds takes a number of seconds above 0");
  });
});
