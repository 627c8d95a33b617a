// porthole-bench audio: how long a viewer's sound waits between arriving and being heard,
// and whether it ever runs dry, while a QEMU guest plays one continuous tone over VNC audio
// — Porthole's viewer and gtk-vnc's gvncviewer in turn, on the same guest and sound server.
// A benchmark, never a timed test: it reports, it does not assert a speed.
//
// The set-up, all started here by PID and stopped on every way out (including Ctrl+C):
// - a private, headless PulseAudio with one null sink (src/tools/pulse-server.ts);
// - QEMU 7.2 with the tone guest (src/tools/tone-guest.ts) holding its PC speaker on for the
//   longest the guest can (65535 BIOS ticks, an hour), VNC with its audio capture on a unix
//   socket;
// - a private Xvfb for the viewers' windows, no D-Bus, settings in memory;
// - one shell that runs pactl whenever the bench asks (below).
// Three players connect to QEMU's socket in turn and play into the null sink:
// 1. Porthole's viewer (gjs -m porthole.js) with its settings' defaults: audio on, a 60 ms
//    target, PortholeAudioPlayer asking for S16 stereo 48 kHz into pulsesink;
// 2. gvncviewer, which plays by itself: gtk-vnc's examples/gvncviewer.c asks for S32 stereo
//    44.1 kHz once the connection is initialised and hands every chunk to VncAudioPulse
//    (src/vncaudiopulse.c: pa_simple_write on a stream with a 100 ms target length);
// 3. the same PortholeAudioPlayer inside this process, on a connection of its own: the one
//    player whose own view (buffered-ms: its prebuffer and all its pipeline has not yet
//    played) can be read beside the sound server's — the viewer's cannot be reached from
//    outside.
// After its stream appears in the sound server and a warm-up, each is measured from
// outside, the same way, over a fixed window:
// - latency: every 100 ms, the player's sink input (matched by process id) in
//   `pactl list sink-inputs`: Buffer Latency (what the server holds for the stream) + Sink
//   Latency (what the sink rendered ahead) = how long a sample the player writes now takes
//   to be heard. For gvncviewer that is all its added latency (each chunk goes to the server
//   as it arrives), and so it is for a PortholeAudioPlayer but for what appsrc holds when
//   the server has no room, which the third run shows. pactl runs in a shell of its own: spawning it from a process that hosts a
//   PortholeAudioPlayer caused drop-outs by itself (measured: 31 in 30 s, none without).
// - underruns: the null sink's monitor is recorded (parec) from before the player starts;
//   the window's part must be the tone throughout, so every run of ≥ 5 ms of silence in it
//   is a drop-out. Phase jumps count audio lost or repeated without a silence, and the
//   tone's frequency shows that the recording is the guest's tone.
// - CPU: utime + stime of the viewer's process tree over the window (/proc, clock ticks).

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { UsageError } from "../platform/command-line.js";
import { VncConnection } from "../platform/connection.js";
import { parseServerAddress } from "../protocol/address.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { PortholeAudioPlayer } from "../widgets/audio-player.js";
import { channelOf, findGaps, phaseJumps, zeroCrossingFrequency } from "./audio-analysis.js";
import {
  BenchFailure,
  clockTicks,
  DEBUG,
  debug,
  describe,
  loadAverage,
  removeTree,
  requireBundle,
  requireProgram,
} from "./bench-harness.js";
import { ChildProcess } from "./child-process.js";
import { PULSE_CHANNELS, PULSE_RATE, type PulseServer, type Recording, startPulse } from "./pulse-server.js";
import { BIOS_TICK_HZ, startToneGuest, type ToneGuest } from "./tone-guest.js";

/** The tone guest's longest tone: 65535 BIOS ticks, 3599.6 s. */
const TONE_TICKS = 0xffff;
/** How often the sound server is asked for the viewer's stream. */
const POLL_MS = 100;
/** The shortest silence inside the tone that counts as a drop-out. */
const GAP_MS = 5;
/** How long a program may take to start, or a viewer to start playing. */
const START_TIMEOUT_MS = 30000;
/** The issue's goal for Porthole (docs: issue 5, "Benchmark goal"). */
export const GOAL_UNDERRUNS = 0;
export const GOAL_LATENCY_MS = 60;
/** The viewers' screen: room for either window. */
const VIEWER_SCREEN = "1280x1024x24";

export interface AudioBenchOptions {
  /** The measured window per viewer. */
  readonly seconds: number;
  /** Sound flows this long, after the viewer's stream appeared, before the window opens. */
  readonly warmupSeconds: number;
}

// ---- ending everything, whichever way the bench ends ---------------------------------------

/** The first failure wins; every wait races against it (see bench-display.ts). */
class Abort {
  readonly promise: Promise<never>;
  #reject: (e: BenchFailure) => void = () => undefined;
  #failed = false;

  constructor() {
    this.promise = new Promise<never>((_resolve, reject) => {
      this.#reject = reject;
    });
    this.promise.catch(() => undefined);
  }

  fail(e: BenchFailure): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#reject(e);
  }

  /** `promise`, or the failure if it comes first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.promise]);
  }

  sleep(ms: number): Promise<void> {
    return this.race(
      new Promise<void>((resolve) => {
        GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
          resolve();
          return GLib.SOURCE_REMOVE;
        });
      }),
    );
  }
}

/** What the bench started, to stop by PID whichever way it ends. */
class Processes {
  readonly #children: ChildProcess[] = [];
  recording: Recording | null = null;
  guest: ToneGuest | null = null;

  add(child: ChildProcess, abort: Abort): ChildProcess {
    this.#children.push(child);
    child.onUnexpectedExit((c) => {
      // Ctrl+C in a terminal signals the whole process group, children included.
      const signal = c.proc.get_if_signaled() ? c.proc.get_term_sig() : 0;
      if (signal === 1 || signal === 2) abort.fail(new BenchFailure(`interrupted (${c.name} got signal ${signal})`));
      else {
        const last = c.lastLine();
        abort.fail(new BenchFailure(`${c.name} ${c.exitDescription()}${last ? `: ${last}` : ""}`));
      }
    });
    return child;
  }

  /** Stops everything, newest first: the recorder, viewers, pactl, Xvfb, QEMU, PulseAudio. */
  stopAll(): void {
    this.recording?.discard();
    this.recording = null;
    for (const child of [...this.#children].reverse()) {
      debug(`stop ${child.name} ${child.pid}`);
      if (child === this.guest?.child) this.guest.stopNow();
      else child.stopNow();
    }
    this.#children.length = 0;
    this.guest = null;
  }
}

// ---- CPU time from /proc (as porthole-bench display counts it) -----------------------------

interface ProcStat {
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    const [, data] = GLib.file_get_contents(`/proc/${pid}/stat`);
    text = new TextDecoder().decode(data);
  } catch {
    return null;
  }
  // proc(5): the fields after the parenthesised command name; 4 is ppid, 14–17 the times.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n: number) => Number(f[n - 3]);
  const ticks = field(14) + field(15) + field(16) + field(17);
  if (!Number.isFinite(ticks)) throw new BenchFailure(`/proc/${pid}/stat does not read as proc(5) says: ${text}`);
  return { ppid: field(4), ticks };
}

/** CPU ticks of `pid` and its live descendants (ended, waited-for ones are in cutime). */
function treeTicks(pid: number): number {
  const stats = new Map<number, ProcStat>();
  const entries = Gio.File.new_for_path("/proc").enumerate_children(
    "standard::name",
    Gio.FileQueryInfoFlags.NONE,
    null,
  );
  for (let info = entries.next_file(null); info !== null; info = entries.next_file(null)) {
    const name = info.get_name();
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  entries.close(null);
  if (!stats.has(pid)) throw new BenchFailure(`process ${pid} is gone`);
  let total = 0;
  const pending = [pid];
  const seen = new Set<number>();
  for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
    if (seen.has(p)) continue;
    seen.add(p);
    total += stats.get(p)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === p) pending.push(child);
  }
  return total;
}

// ---- the sound server's view of a stream ---------------------------------------------------

/** One sink input as `pactl --format=json list sink-inputs` (PulseAudio 16) shows it. */
interface SinkInput {
  readonly index: number;
  readonly pid: number;
  readonly sampleSpec: string;
  readonly corked: boolean;
  readonly bufferUs: number;
  readonly sinkUs: number;
}

function parseSinkInputs(json: string): SinkInput[] {
  const list = JSON.parse(json) as unknown;
  if (!Array.isArray(list)) throw new BenchFailure(`pactl printed ${json.slice(0, 80)} instead of a list`);
  return list.map((raw: unknown) => {
    const o = raw as Record<string, unknown>;
    const props = (o.properties ?? {}) as Record<string, unknown>;
    const bufferUs = Number(o.buffer_latency_usec);
    const sinkUs = Number(o.sink_latency_usec);
    if (!Number.isFinite(bufferUs) || !Number.isFinite(sinkUs))
      throw new BenchFailure("pactl's sink inputs carry no buffer_latency_usec / sink_latency_usec");
    return {
      index: Number(o.index),
      pid: Number(props["application.process.id"]),
      sampleSpec: typeof o.sample_specification === "string" ? o.sample_specification : "",
      corked: o.corked === true,
      bufferUs,
      sinkUs,
    };
  });
}

/**
 * pactl on request, run by one long-lived shell: the bench itself never forks while a window
 * is open. (Measured: spawning pactl every 100 ms from the process that hosts a
 * PortholeAudioPlayer gave 31 drop-outs in 30 s where sampling without spawning gave none.)
 */
class Poller {
  readonly #child: ChildProcess;
  #pending: Promise<unknown> = Promise.resolve();

  constructor(child: ChildProcess) {
    this.#child = child;
  }

  static start(env: { dir: string; pactl: string; pulse: PulseServer; processes: Processes; abort: Abort }): Poller {
    const child = new ChildProcess(
      [
        "/bin/sh",
        "-c",
        // One line in, one line out: pactl prints its JSON on one line, without a newline.
        'while read -r _; do out=$("$0" --format=json list sink-inputs) && printf "%s\\n" "$out" || echo failed; done',
        env.pactl,
      ],
      { env: env.pulse.clientEnv, log: `${env.dir}/pactl.log`, stdoutPipe: true, stdinPipe: true, name: "pactl" },
    );
    env.processes.add(child, env.abort);
    return new Poller(child);
  }

  /** The sound server's sink inputs now (pactl takes ~15 ms). */
  ask(): Promise<SinkInput[]> {
    // One question at a time: a poll still out when a window closes goes first.
    const answer = this.#pending.then(() => this.#ask());
    this.#pending = answer.catch(() => undefined);
    return answer;
  }

  async #ask(): Promise<SinkInput[]> {
    let line: string;
    try {
      this.#child.writeLine("");
      line = await this.#child.readLine("the sound server's sink inputs", 10000);
    } catch (e) {
      throw new BenchFailure(describe(e));
    }
    if (line === "failed") throw new BenchFailure(`pactl failed: ${this.#child.lastLine()}`);
    return parseSinkInputs(line);
  }
}

// ---- one subject ----------------------------------------------------------------------------

/** What a player says of itself (PortholeAudioPlayer's stats). */
interface OwnSample {
  readonly bufferedMs: number;
  readonly underruns: number;
  readonly overruns: number;
  readonly droppedMs: number;
}

/** A player under measurement: a viewer's process, or Porthole's player in this process. */
interface Subject {
  /** The process whose sink input is the player's (application.process.id). */
  readonly pid: number;
  /** The process tree whose CPU time to count, or null. */
  readonly cpuPid: number | null;
  /** Its own view, for a player in this process. */
  readonly own: (() => OwnSample) | null;
  stop(): void;
}

interface LatencySample {
  /** Seconds since the window opened. */
  readonly t: number;
  readonly bufferMs: number;
  readonly sinkMs: number;
  readonly own: OwnSample | null;
}

export interface Stats {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

/** A player's own view over the window, beside the sound server's. */
export interface OwnView {
  /** PortholeAudioPlayer's buffered-ms: its prebuffer and all its pipeline has not played. */
  readonly bufferedMs: Stats;
  /** buffered-ms less the sound server's latency at the same poll: what waits ahead of it. */
  readonly aheadOfServerMs: Stats;
  /** buffered-ms per second of the window. */
  readonly levelOverTime: (number | null)[];
  /** The player's counters over the window. */
  readonly underruns: number;
  readonly overruns: number;
  readonly droppedMs: number;
}

export interface ViewerAudioResult {
  /** The stream's format as the sound server has it (pactl's sample specification). */
  readonly sampleSpec: string;
  /** Buffer + sink latency of the player's stream, per poll. */
  readonly latencyMs: Stats;
  readonly bufferLatencyMs: Stats;
  readonly sinkLatencyMs: Stats;
  /** Polls that found the stream, and those that did not (it was gone or corked). */
  readonly polls: number;
  readonly missedPolls: number;
  /** Distinct sink inputs in the window (more than one: the player re-created its stream). */
  readonly streams: number;
  /** Per second of the window: the mean buffer and sink latency of its polls (null: none). */
  readonly levelOverTime: { readonly bufferMs: (number | null)[]; readonly sinkMs: (number | null)[] };
  /** Silences of ≥ GAP_MS inside the tone: drop-outs. */
  readonly underruns: number;
  readonly gapsMs: number[];
  readonly gapsAtSeconds: number[];
  /**
   * Rising zero crossings more than 2 samples off the tone's period: audio lost or repeated,
   * with a silence (a drop-out also counts here) or without (a player dropping frames to
   * hold its latency leaves no gap).
   */
  readonly phaseJumps: number;
  /** The recording's tone (rising zero crossings), null if it holds none. */
  readonly frequency: number | null;
  readonly toneFound: boolean;
  readonly recordedSeconds: number;
  /** CPU time of the viewer's process tree in the window (null: not a process of its own). */
  readonly cpuSeconds: number | null;
  /** The player's own view (Porthole's player in this process only). */
  readonly own: OwnView | null;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { mean: NaN, p50: NaN, p95: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank.
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return {
    mean: round(mean, 1),
    p50: round(rank(0.5), 1),
    p95: round(rank(0.95), 1),
    max: round(sorted[sorted.length - 1] ?? NaN, 1),
  };
}

function perSecond(samples: readonly LatencySample[], seconds: number, pick: (s: LatencySample) => number) {
  const buckets = Array.from({ length: Math.ceil(seconds) }, () => [] as number[]);
  for (const s of samples) buckets[Math.min(buckets.length - 1, Math.floor(s.t))]?.push(pick(s));
  return buckets.map((b) => (b.length === 0 ? null : round(b.reduce((x, y) => x + y, 0) / b.length, 1)));
}

interface Environment {
  readonly abort: Abort;
  readonly processes: Processes;
  readonly dir: string;
  readonly hz: number;
  readonly pulse: PulseServer;
  readonly guest: ToneGuest;
  readonly poller: Poller;
  readonly options: AudioBenchOptions;
}

async function measure(env: Environment, name: string, start: () => Subject): Promise<ViewerAudioResult> {
  const { abort, processes, pulse, poller, options } = env;
  // The recorder runs from before the player starts: the null sink renders ahead by the
  // least latency any of its streams asks for (parec's 20 ms among them), and that should
  // not change under the player's stream.
  const recording = pulse.startRecording();
  processes.recording = recording;
  let subject: Subject | null = null;
  try {
    await abort.race(recording.started());
    subject = start();
    const pid = subject.pid;
    debug(`${name} started, pid ${pid}`);
    const own = (inputs: SinkInput[]) => inputs.filter((i) => i.pid === pid && !i.corked);
    const deadline = GLib.get_monotonic_time() + START_TIMEOUT_MS * 1000;
    while (own(await abort.race(poller.ask())).length === 0) {
      if (GLib.get_monotonic_time() > deadline)
        throw new BenchFailure(
          `${name} (pid ${pid}) did not play into the sound server within ${START_TIMEOUT_MS / 1000} s`,
        );
      await abort.sleep(POLL_MS);
    }
    debug(`${name} plays; warm-up`);
    await abort.sleep(options.warmupSeconds * 1000);

    debug(`${name} window opens`);
    const ownView = subject.own;
    const ownBefore = ownView?.() ?? null;
    const samples: LatencySample[] = [];
    const indices = new Set<number>();
    let missed = 0;
    let sampleSpec = "";
    let inFlight = false;
    let pollError: unknown = null;
    const ticksBefore = subject.cpuPid === null ? 0 : treeTicks(subject.cpuPid);
    const opened = GLib.get_monotonic_time();
    const poll = () => {
      if (inFlight) return;
      inFlight = true;
      const asked = GLib.get_monotonic_time();
      // The player's view at the moment pactl is asked for the server's.
      const mine = ownView?.() ?? null;
      poller
        .ask()
        .then((inputs) => {
          const input = own(inputs)[0];
          if (input === undefined) missed++;
          else {
            indices.add(input.index);
            sampleSpec = input.sampleSpec;
            samples.push({
              t: (asked - opened) / 1e6,
              bufferMs: input.bufferUs / 1000,
              sinkMs: input.sinkUs / 1000,
              own: mine,
            });
          }
        })
        .catch((e: unknown) => {
          pollError ??= e;
        })
        .finally(() => {
          inFlight = false;
        });
    };
    poll();
    const timer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, POLL_MS, () => {
      poll();
      return GLib.SOURCE_CONTINUE;
    });
    try {
      await abort.sleep(options.seconds * 1000);
    } finally {
      GLib.source_remove(timer);
    }
    const cpuSeconds = subject.cpuPid === null ? null : (treeTicks(subject.cpuPid) - ticksBefore) / env.hz;
    const ownAfter = ownView?.() ?? null;
    debug(`${name} window closes`);
    const recorded = await abort.race(recording.stop());
    processes.recording = null;
    // With PORTHOLE_BENCH_DEBUG the recording stays too, as raw s16le stereo 48 kHz.
    if (DEBUG)
      GLib.file_set_contents(
        `${env.dir}/${name}.raw`,
        new Uint8Array(recorded.buffer, recorded.byteOffset, recorded.byteLength),
      );
    if (pollError !== null) throw pollError instanceof BenchFailure ? pollError : new BenchFailure(describe(pollError));
    if (samples.length === 0) throw new BenchFailure(`${name}'s stream was never seen in the window`);
    const ownSamples = samples.filter((s) => s.own !== null);
    return {
      ...analyse(recorded, env, samples),
      sampleSpec,
      polls: samples.length,
      missedPolls: missed,
      streams: indices.size,
      cpuSeconds: cpuSeconds === null ? null : round(cpuSeconds, 2),
      own:
        ownBefore === null || ownAfter === null
          ? null
          : {
              bufferedMs: stats(ownSamples.map((s) => s.own?.bufferedMs ?? NaN)),
              aheadOfServerMs: stats(ownSamples.map((s) => (s.own?.bufferedMs ?? NaN) - s.bufferMs - s.sinkMs)),
              levelOverTime: perSecond(ownSamples, options.seconds, (s) => s.own?.bufferedMs ?? NaN),
              underruns: ownAfter.underruns - ownBefore.underruns,
              overruns: ownAfter.overruns - ownBefore.overruns,
              droppedMs: round(ownAfter.droppedMs - ownBefore.droppedMs, 1),
            },
    };
  } finally {
    debug(`stopping ${name}`);
    processes.recording?.discard();
    processes.recording = null;
    subject?.stop();
  }
}

/** The window's part of the recording, and the polls: latency, level, drop-outs, tone. */
function analyse(
  recorded: Int16Array,
  env: Environment,
  samples: readonly LatencySample[],
): Omit<ViewerAudioResult, "sampleSpec" | "polls" | "missedPolls" | "streams" | "cpuSeconds" | "own"> {
  const { seconds } = env.options;
  const all = channelOf(recorded, PULSE_CHANNELS, 0);
  // The recorder ran since before the player started and stopped when the window closed;
  // the monitor runs in real time, so the window is the recording's last `seconds`.
  const window = all.subarray(Math.max(0, all.length - Math.round(seconds * PULSE_RATE)));
  const gaps = findGaps(window, PULSE_RATE, GAP_MS);
  const frequency = zeroCrossingFrequency(window, PULSE_RATE);
  const expected = env.guest.frequency;
  return {
    latencyMs: stats(samples.map((s) => s.bufferMs + s.sinkMs)),
    bufferLatencyMs: stats(samples.map((s) => s.bufferMs)),
    sinkLatencyMs: stats(samples.map((s) => s.sinkMs)),
    levelOverTime: {
      bufferMs: perSecond(samples, seconds, (s) => s.bufferMs),
      sinkMs: perSecond(samples, seconds, (s) => s.sinkMs),
    },
    underruns: gaps.length,
    gapsMs: gaps.map((g) => round(((g.end - g.start) * 1000) / PULSE_RATE, 1)),
    gapsAtSeconds: gaps.map((g) => round(g.start / PULSE_RATE, 3)),
    phaseJumps: phaseJumps(window, PULSE_RATE, expected).length,
    frequency: Number.isFinite(frequency) ? round(frequency, 2) : null,
    // The issue's tolerance for the tone's frequency: 2 %.
    toneFound: Number.isFinite(frequency) && Math.abs(frequency / expected - 1) <= 0.02,
    recordedSeconds: round(window.length / PULSE_RATE, 2),
  };
}

/** A viewer program, as its own process. */
function viewerSubject(env: Environment, name: string, argv: string[], childEnv: Record<string, string | null>) {
  return (): Subject => {
    const viewer = env.processes.add(
      new ChildProcess(argv, { env: childEnv, log: `${env.dir}/${name}.log`, name }),
      env.abort,
    );
    return {
      pid: viewer.pid,
      cpuPid: viewer.pid,
      own: null,
      stop: () => {
        viewer.stopNow();
      },
    };
  };
}

/**
 * PortholeAudioPlayer in this process, on a VncConnection of its own to the guest, as the
 * viewer's (its defaults are the viewer's settings' defaults: a 60 ms target, pulsesink),
 * so that its own stats can be read beside the sound server's view.
 */
function playerSubject(env: Environment): () => Subject {
  return (): Subject => {
    const { abort, pulse, guest } = env;
    // As the viewer plays: its default sink, pulsesink, on the sound server PULSE_SERVER names
    // (the null sink is the private server's only sink). libpulse in this process must reach
    // the private server, with its cookie.
    const restore = pulse.useInThisProcess();
    const player = new PortholeAudioPlayer();
    player.connect("error", (_player, message: string) => {
      abort.fail(new BenchFailure(`Porthole's player: ${message}`));
    });
    const connection = new VncConnection(
      {
        address: parseServerAddress(guest.vncUri),
        framebuffer: new MemoryFramebuffer(),
        // Only sound is wanted; QEMU acknowledges audio without a picture being asked for.
        requestUpdates: false,
        extensions: [player.extension],
      },
      {
        failed: (e) => {
          abort.fail(new BenchFailure(`Porthole's player lost its connection: ${e.message}`));
        },
      },
    );
    connection.connect();
    return {
      pid: ownPid(),
      cpuPid: null,
      own: () => ({
        bufferedMs: player.buffered_ms,
        underruns: player.underruns,
        overruns: player.overruns,
        droppedMs: player.dropped_ms,
      }),
      stop: () => {
        connection.close();
        player.shutdown();
        restore();
      },
    };
  };
}

/** This process's id, as libpulse reports it in application.process.id. */
function ownPid(): number {
  const pid = Number(GLib.file_read_link("/proc/self"));
  if (!Number.isInteger(pid) || pid <= 0) throw new BenchFailure("cannot learn this process's id from /proc/self");
  return pid;
}

// ---- the run --------------------------------------------------------------------------------

function pad(s: string, n: number, left = false): string {
  return left ? s.padStart(n) : s.padEnd(n);
}

export interface AudioBenchResult {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly pollMs: number;
  readonly gapThresholdMs: number;
  readonly toneHz: number;
  readonly host: { readonly cpus: number; readonly loadAverageBefore: number; readonly loadAverageAfter: number };
  /** Porthole's viewer (gjs -m porthole.js) in its own process. */
  readonly porthole: ViewerAudioResult;
  /** The same PortholeAudioPlayer in the bench's process, with its own view. */
  readonly portholePlayer: ViewerAudioResult;
  /** gtk-vnc's gvncviewer in its own process. */
  readonly gvncviewer: ViewerAudioResult;
  readonly goal: {
    readonly maxUnderruns: number;
    readonly maxLatencyMs: number;
    /** Drop-outs of Porthole's viewer. */
    readonly underruns: number;
    /** p95 of the player's whole latency by its own view (buffered-ms). */
    readonly latencyP95Ms: number;
    readonly portholeMeets: boolean;
  };
}

function printTable(result: AudioBenchResult): void {
  const header = [
    "player",
    "stream",
    "mean ms",
    "p50 ms",
    "p95 ms",
    "max ms",
    "buffer ms",
    "sink ms",
    "underruns",
    "phase jumps",
    "tone Hz",
    "CPU s",
    "gaps ms",
  ];
  const fixed = (x: number | null) => (x === null || !Number.isFinite(x) ? "-" : x.toFixed(1));
  const rows = (
    [
      ["porthole", result.porthole],
      ["porthole player*", result.portholePlayer],
      ["gvncviewer", result.gvncviewer],
    ] as const
  ).map(([name, r]) => [
    name,
    r.sampleSpec,
    fixed(r.latencyMs.mean),
    fixed(r.latencyMs.p50),
    fixed(r.latencyMs.p95),
    fixed(r.latencyMs.max),
    fixed(r.bufferLatencyMs.mean),
    fixed(r.sinkLatencyMs.mean),
    String(r.underruns),
    String(r.phaseJumps),
    r.frequency === null ? "none" : r.frequency.toFixed(2),
    r.cpuSeconds === null ? "-" : r.cpuSeconds.toFixed(2),
    r.gapsMs.length === 0 ? "-" : r.gapsMs.map((g) => g.toFixed(0)).join(", "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0, i > 1))).join("  ");
  const own = result.portholePlayer.own;
  const { goal, host } = result;
  printerr(
    [
      `QEMU tone guest (${result.toneHz} Hz PC speaker) over VNC audio into a null sink; ` +
        `${result.seconds} s measured per player after a ${result.warmupSeconds} s warm-up ` +
        `(${host.cpus} CPUs, load ${host.loadAverageBefore.toFixed(2)} → ${host.loadAverageAfter.toFixed(2)})`,
      `latency = the player's stream in the sound server, Buffer Latency + Sink Latency (pactl every ` +
        `${result.pollMs} ms); underruns = silences ≥ ${result.gapThresholdMs} ms in the sink's monitor`,
      line(header),
      line(widths.map((w) => "-".repeat(w))),
      ...rows.map(line),
      own === null
        ? ""
        : `* Porthole's player in the bench's process, by its own view (buffered-ms, all it holds until heard): ` +
          `mean ${fixed(own.bufferedMs.mean)}, p95 ${fixed(own.bufferedMs.p95)}, max ${fixed(own.bufferedMs.max)} ms, ` +
          `of which ahead of the sound server mean ${fixed(own.aheadOfServerMs.mean)} ms; ` +
          `dropped ${own.droppedMs.toFixed(0)} ms to hold its target, ${own.overruns} overruns, ${own.underruns} underruns seen`,
      `goal for porthole, ${goal.maxUnderruns} underruns and p95 latency ≤ ${goal.maxLatencyMs} ms: ` +
        `${goal.portholeMeets ? "met" : "not met"} (viewer ${goal.underruns} underruns; ` +
        `player p95 ${fixed(goal.latencyP95Ms)} ms by its own view)`,
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

async function run(
  abort: Abort,
  processes: Processes,
  dir: string,
  hz: number,
  options: AudioBenchOptions,
): Promise<number> {
  requireProgram("qemu-system-x86_64", "Debian package qemu-system-x86");
  requireProgram("pulseaudio", "Debian package pulseaudio");
  requireProgram("parec", "Debian package pulseaudio-utils");
  const pactl = requireProgram("pactl", "Debian package pulseaudio-utils");
  const xvfb = requireProgram("Xvfb", "Debian package xvfb");
  const gvncviewer = requireProgram("gvncviewer", "Debian package gvncviewer");
  const gjs = requireProgram("gjs", "Debian package gjs");
  // PORTHOLE_BENCH_VIEWER: another build of the viewer's bundle to measure (see display).
  const viewerBundle = GLib.getenv("PORTHOLE_BENCH_VIEWER") ?? requireBundle("porthole");
  const loadBefore = loadAverage();

  const starting = async <T>(what: string, promise: Promise<T>): Promise<T> => {
    try {
      return await abort.race(promise);
    } catch (e) {
      if (e instanceof BenchFailure) throw e;
      throw new BenchFailure(`${what}: ${describe(e).split("\n").filter(Boolean).join(" | ")}`);
    }
  };
  const pulse = await starting(
    "the sound server did not start",
    startPulse(`${dir}/pulse`, { onSpawn: (c) => processes.add(c, abort) }),
  );
  debug(`pulseaudio at ${pulse.server}`);
  const guest = await starting(
    "the tone guest did not start",
    startToneGuest(`${dir}/guest`, {
      onTicks: TONE_TICKS,
      offTicks: 1,
      onSpawn: (c) => processes.add(c, abort),
    }),
  );
  processes.guest = guest;
  debug(`tone guest playing ${guest.frequency} Hz at ${guest.vncUri}`);
  const xvfbChild = processes.add(
    new ChildProcess([xvfb, "-screen", "0", VIEWER_SCREEN, "-nolisten", "tcp", "-displayfd", "1"], {
      log: `${dir}/Xvfb.log`,
      stdoutPipe: true,
      name: "Xvfb",
    }),
    abort,
  );
  const displayNumber = await starting(
    "Xvfb did not start",
    xvfbChild.readLine("its display number", START_TIMEOUT_MS),
  );
  if (!/^\d+$/.test(displayNumber))
    throw new BenchFailure(`Xvfb printed “${displayNumber}” instead of its display number`);
  const poller = Poller.start({ dir, pactl, pulse, processes, abort });

  const runtimeDir = `${dir}/runtime`;
  GLib.mkdir_with_parents(runtimeDir, 0o700);
  // A private session for each viewer, as porthole-bench display gives: no D-Bus, no
  // accessibility bus, no settings of the user's, X11 on the private Xvfb; and the private
  // sound server.
  const viewerEnv: Record<string, string | null> = {
    XDG_RUNTIME_DIR: runtimeDir,
    XDG_CONFIG_HOME: `${dir}/config`,
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/no-session-bus`,
    NO_AT_BRIDGE: "1",
    GTK_A11Y: "none",
    GDK_BACKEND: "x11",
    WAYLAND_DISPLAY: null,
    GSETTINGS_BACKEND: "memory",
    DISPLAY: `:${displayNumber}`,
    ...pulse.clientEnv,
  };
  const env: Environment = { abort, processes, dir, hz, pulse, guest, poller, options };

  // Porthole's viewer with its settings' defaults: audio on, a 60 ms latency target.
  const porthole = await measure(
    env,
    "porthole",
    viewerSubject(env, "porthole", [gjs, "-m", viewerBundle, guest.vncUri], {
      ...viewerEnv,
      // Cairo: Mesa's llvmpipe on Xvfb would only add CPU no desktop with a GPU pays.
      GSK_RENDERER: "cairo",
    }),
  );
  // gvncviewer takes a unix socket as any argument with a "/" (see display).
  const socket = guest.vncUri.slice("vnc+unix://".length);
  const gvnc = await measure(env, "gvncviewer", viewerSubject(env, "gvncviewer", [gvncviewer, socket], viewerEnv));
  const player = await measure(env, "porthole-player", playerSubject(env));

  const latencyP95Ms = player.own?.bufferedMs.p95 ?? NaN;
  const result: AudioBenchResult = {
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    pollMs: POLL_MS,
    gapThresholdMs: GAP_MS,
    toneHz: guest.frequency,
    host: { cpus: GLib.get_num_processors(), loadAverageBefore: loadBefore, loadAverageAfter: loadAverage() },
    porthole,
    portholePlayer: player,
    gvncviewer: gvnc,
    goal: {
      maxUnderruns: GOAL_UNDERRUNS,
      maxLatencyMs: GOAL_LATENCY_MS,
      underruns: porthole.underruns,
      latencyP95Ms,
      portholeMeets:
        porthole.underruns <= GOAL_UNDERRUNS &&
        latencyP95Ms <= GOAL_LATENCY_MS &&
        porthole.latencyMs.p95 <= GOAL_LATENCY_MS,
    },
  };
  print(JSON.stringify(result));
  printTable(result);
  return 0;
}

/**
 * Runs the audio benchmark in a main loop of its own and returns the exit status; every
 * process it started is stopped, and its directory removed, before it returns (see
 * displayBenchmark for why this is not async).
 */
export function audioBenchmark(options: AudioBenchOptions): number {
  const abort = new Abort();
  const processes = new Processes();
  const dir = GLib.dir_make_tmp("porthole-bench-audio-XXXXXX");
  const cleanUp = () => {
    processes.stopAll();
    if (DEBUG) printerr(`porthole-bench: PORTHOLE_BENCH_DEBUG is set: the logs stay in ${dir}`);
    else removeTree(dir);
  };
  const signals = [2, 15, 1].map((signum) =>
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, () => {
      cleanUp();
      printerr(`porthole-bench: audio: interrupted (signal ${signum})`);
      system.exit(128 + signum);
      return GLib.SOURCE_REMOVE;
    }),
  );
  const loop = new GLib.MainLoop(null, false);
  const outcome: { status: number; unexpected: Error | null } = { status: 1, unexpected: null };
  const failed = (e: unknown) => {
    if (e instanceof BenchFailure) printerr(`porthole-bench: audio: ${e.message}`);
    else outcome.unexpected = e instanceof Error ? e : new Error(String(e));
  };
  try {
    const running = run(abort, processes, dir, clockTicks(), options);
    running.catch(() => undefined);
    abort
      .race(running)
      .then((status) => {
        outcome.status = status;
      }, failed)
      .finally(() => {
        loop.quit();
      });
    loop.run();
  } catch (e) {
    failed(e);
  } finally {
    for (const id of signals) GLib.source_remove(id);
    cleanUp();
  }
  if (outcome.unexpected !== null) throw outcome.unexpected;
  return outcome.status;
}

function positiveSeconds(option: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isFinite(n) || n <= 0)
    throw new UsageError(`${option} takes a number of seconds above 0`);
  return n;
}

/** `porthole-bench audio [--seconds N] [--warmup N]`. */
export function audioCommand(args: string[]): number {
  let seconds = 60;
  let warmupSeconds = 5;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const [name, inline] =
      a.startsWith("--") && a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = () => inline ?? args[++i];
    if (name === "--seconds") seconds = positiveSeconds(name, value());
    else if (name === "--warmup") warmupSeconds = positiveSeconds(name, value());
    else if (a.startsWith("-")) throw new UsageError(`unknown option “${a}”`);
    else throw new UsageError("audio takes no files");
  }
  // One tone for both viewers, with room for their start-up: it must not end mid-window.
  const toneSeconds = TONE_TICKS / BIOS_TICK_HZ;
  if (2 * (seconds + warmupSeconds) + 2 * (START_TIMEOUT_MS / 1000) > toneSeconds)
    throw new UsageError(
      `--seconds and --warmup must fit twice, with start-up, in the guest's ${Math.floor(toneSeconds)} s tone`,
    );
  return audioBenchmark({ seconds, warmupSeconds });
}
