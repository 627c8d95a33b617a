// porthole-bench: measurements of the real code paths, never timed tests.

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { runProgram, UsageError } from "../platform/command-line.js";
import { gdkImageDecoder } from "../platform/images.js";
import { audioCommand, GOAL_LATENCY_MS } from "./bench-audio.js";
import { DEFAULT_GSK_RENDERER, displayCommand } from "./bench-display.js";
import {
  DEFAULT_ECHOES,
  DEFAULT_SECONDS as SERIAL_SECONDS,
  DEFAULT_SIZE_MIB,
  DEFAULT_WINDOW,
  GOAL_ADDED_ECHO_MS,
  GOAL_FLOOD_FRAME_RATIO,
  GOAL_THROUGHPUT_RATIO,
  serialCommand,
} from "./bench-serial.js";
import { type EngineResult, type PreparedEngine, sha256 } from "./bench-engine.js";
import { prepareLimit } from "./bench-limit.js";
import { prepareNoVnc } from "./bench-novnc.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { parseRecordingInfo, type RecordingInfo, replay } from "./recording.js";

const ENGINES = ["porthole", "novnc", "limit"] as const;
type Engine = (typeof ENGINES)[number];

/** compare: each engine runs once to warm up, then this many times; the best run counts. */
const COMPARE_RUNS = 15;

function readFile(path: string): Uint8Array {
  try {
    const [, contents] = Gio.File.new_for_path(path).load_contents(null);
    return contents;
  } catch (e) {
    throw new Error(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

interface Recording {
  readonly file: string;
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly info: RecordingInfo;
}

function loadRecording(file: string): Recording {
  const bytes = readFile(file);
  const sidecar = file.replace(/\.rfb$/, "") + ".json";
  const info = parseRecordingInfo(JSON.parse(new TextDecoder().decode(readFile(sidecar))) as unknown);
  return { file, name: GLib.path_get_basename(file), bytes, info };
}

/** Porthole's real client path (docs/recording.md), fed from memory. */
function preparePorthole(bytes: Uint8Array, info: RecordingInfo): PreparedEngine {
  // A first pass finds where the last complete update ends (a recording may stop inside
  // one); the timed pass decodes exactly that much, so the framebuffer hash is the
  // state after the last complete update.
  // The framebuffer is allocated here, outside the timing, and reused by every run (see
  // prepareNoVnc): first-touching fresh pages is not decoding.
  const framebuffer = new MemoryFramebuffer();
  const { completeBytes } = replay(bytes, info, gdkImageDecoder, 65536, framebuffer);
  const complete = bytes.subarray(0, completeBytes);
  return {
    run(): EngineResult {
      const started = GLib.get_monotonic_time();
      const result = replay(complete, info, gdkImageDecoder, 65536, framebuffer);
      const seconds = (GLib.get_monotonic_time() - started) / 1e6;
      return {
        framebufferUpdates: result.framebufferUpdates,
        rects: result.rects,
        pixels: result.pixels,
        seconds,
        sha256: sha256(result.framebuffer.bytes),
      };
    },
  };
}

function prepare(engine: Engine, rec: Recording): PreparedEngine {
  try {
    switch (engine) {
      case "porthole":
        return preparePorthole(rec.bytes, rec.info);
      case "novnc":
        return prepareNoVnc(rec.bytes, rec.info);
      case "limit":
        return prepareLimit(rec.bytes, rec.info);
    }
  } catch (e) {
    throw new Error(`${rec.file}: engine ${engine}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A timed run, after a collection so no engine pays for another's garbage. */
function timedRun(engine: Engine, rec: Recording, prepared: PreparedEngine): EngineResult {
  system.gc();
  try {
    return prepared.run();
  } catch (e) {
    throw new Error(`${rec.file}: engine ${engine}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function hashOk(rec: Recording, r: EngineResult): boolean {
  return rec.info.lossy || r.sha256 === rec.info.finalSha256;
}

const round = (s: number): number => Number(s.toFixed(4));
const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));

/** docs/recording.md: decode a recording from memory and report time and final hash. */
function decodeBenchmark(file: string, engine: Engine): number {
  const rec = loadRecording(file);
  const result = timedRun(engine, rec, prepare(engine, rec));
  print(
    JSON.stringify({
      file: rec.name,
      engine,
      framebufferUpdates: result.framebufferUpdates,
      rects: result.rects,
      pixels: result.pixels,
      seconds: round(result.seconds),
      sha256: result.sha256,
    }),
  );
  if (!hashOk(rec, result)) {
    printerr(`porthole-bench: ${file}: the final framebuffer's SHA-256 differs from the sidecar's finalSha256`);
    return 1;
  }
  return 0;
}

interface Comparison {
  readonly rec: Recording;
  readonly results: Record<Engine, EngineResult>;
}

function compareFile(file: string): Comparison {
  const rec = loadRecording(file);
  const results = {} as Record<Engine, EngineResult>;
  for (const engine of ENGINES) {
    const prepared = prepare(engine, rec);
    timedRun(engine, rec, prepared);
    let best: EngineResult | null = null;
    for (let i = 0; i < COMPARE_RUNS; i++) {
      const r = timedRun(engine, rec, prepared);
      if (best === null || r.seconds < best.seconds) best = r;
    }
    if (best === null) throw new Error("no run");
    results[engine] = best;
  }
  return { rec, results };
}

function pad(s: string, n: number, left = false): string {
  return left ? s.padStart(n) : s.padEnd(n);
}

function compareBenchmark(files: string[]): number {
  let failures = 0;
  const rows: string[][] = [];
  for (const file of files) {
    const { rec, results } = compareFile(file);
    const { porthole, novnc, limit } = results;
    const mismatched = ENGINES.filter((e) => !hashOk(rec, results[e]));
    const counts = new Set(
      ENGINES.map((e) => `${results[e].framebufferUpdates}/${results[e].rects}/${results[e].pixels}`),
    );
    if (counts.size > 1)
      printerr(
        `porthole-bench: ${file}: the engines count differently (updates/rects/pixels): ` +
          ENGINES.map((e) => `${e} ${results[e].framebufferUpdates}/${results[e].rects}/${results[e].pixels}`).join(
            ", ",
          ),
      );
    for (const e of mismatched)
      printerr(
        `porthole-bench: ${file}: engine ${e}: the final framebuffer's SHA-256 differs from the sidecar's finalSha256`,
      );
    failures += mismatched.length;
    print(
      JSON.stringify({
        file: rec.name,
        framebufferUpdates: porthole.framebufferUpdates,
        rects: porthole.rects,
        pixels: porthole.pixels,
        runs: COMPARE_RUNS,
        seconds: { porthole: round(porthole.seconds), novnc: round(novnc.seconds), limit: round(limit.seconds) },
        novncOverPorthole: ratio(novnc.seconds, porthole.seconds),
        portholeOverLimit: ratio(porthole.seconds, limit.seconds),
        sha256: { porthole: porthole.sha256, novnc: novnc.sha256, limit: limit.sha256 },
        expectedSha256: rec.info.lossy ? null : rec.info.finalSha256,
        sha256Mismatches: mismatched,
      }),
    );
    rows.push([
      rec.name,
      porthole.seconds.toFixed(4),
      novnc.seconds.toFixed(4),
      limit.seconds.toFixed(4),
      (novnc.seconds / porthole.seconds).toFixed(2),
      (porthole.seconds / limit.seconds).toFixed(2),
      rec.info.lossy ? "lossy" : mismatched.length === 0 ? "ok" : `MISMATCH: ${mismatched.join(",")}`,
    ]);
  }
  const header = ["recording", "porthole s", "novnc s", "limit s", "novnc/porthole", "porthole/limit", "sha256"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0, i > 0))).join("  ");
  printerr(
    [
      `best of ${COMPARE_RUNS} runs after one warm-up, per engine`,
      line(header),
      line(widths.map((w) => "-".repeat(w))),
      ...rows.map(line),
    ].join("\n"),
  );
  return failures > 0 ? 1 : 0;
}

function parseEngine(value: string | undefined): Engine {
  const engine = ENGINES.find((e) => e === value);
  if (engine === undefined) throw new UsageError(`--engine takes one of ${ENGINES.join(", ")}`);
  return engine;
}

runProgram(
  {
    name: "porthole-bench",
    summary: "Measure Porthole's decoders, streams and audio path",
    usage: [
      "decode [--engine porthole|novnc|limit] FILE.rfb",
      "compare FILE.rfb...",
      "display [--seconds N] [--warmup N] [--gsk-renderer NAME]",
      "audio [--seconds N] [--warmup N]",
      "serial [--size MIB] [--echoes N] [--seconds N] [--window BYTES]",
    ],
    description:
      "decode   replays a recording (FILE.rfb with its FILE.json sidecar) and prints one JSON\n" +
      "         object with the time spent decoding, the framebuffer hash and the engine:\n" +
      "           porthole  the RFB client and decoders the viewer uses (the default);\n" +
      "           novnc     noVNC 1.7's decoders and receive queue in the same runtime;\n" +
      "           limit     only native zlib inflate of the compressed payloads plus a\n" +
      "                     memcpy of every rectangle's pixels (the physical limit).\n" +
      "compare  runs all three engines on each recording (one warm-up, then the best of\n" +
      `         ${COMPARE_RUNS} runs each), prints one JSON line per recording with the seconds and the\n` +
      "         ratios novnc/porthole and porthole/limit, and a table on stderr. Exits 1 if\n" +
      "         any engine's final framebuffer differs from a lossless recording's hash.\n" +
      "display  runs a 1920×1080 Xvnc showing a picture that changes everywhere on every\n" +
      "         frame, and on it, in turn, Porthole's viewer and gtk-vnc's gvncviewer (on a\n" +
      "         private Xvfb, through a proxy that counts the FramebufferUpdates). After a\n" +
      "         warm-up (--warmup, default 3 s) each is measured for --seconds (default 10):\n" +
      "         the CPU time of its process and the frames it received. Prints one JSON\n" +
      "         object (frames/s, CPU ms per frame, encodings, and the ratio of CPU per\n" +
      "         frame porthole/gvncviewer) and a table on stderr; the ratio is reported,\n" +
      "         not asserted. --gsk-renderer sets GSK_RENDERER for Porthole's viewer\n" +
      `         (default ${DEFAULT_GSK_RENDERER}: on Xvfb GTK's GL renderer is Mesa's llvmpipe, software\n` +
      "         rendering in the viewer's process, where gvncviewer's GTK 3 draws with cairo).\n" +
      "         Exits 1 with one line if a program is missing, a viewer dies or shows no frames.\n" +
      "audio    runs QEMU with a guest playing one continuous PC-speaker tone over VNC audio\n" +
      "         and a private PulseAudio with a null sink, and plays it, in turn, with\n" +
      "         Porthole's viewer, gtk-vnc's gvncviewer (both on a private Xvfb) and\n" +
      "         Porthole's audio player inside the bench, whose own view of what it holds\n" +
      "         (buffered-ms) the viewer's process does not show. After a warm-up (--warmup,\n" +
      "         default 5 s) each is measured for --seconds (default 60): every 100 ms the\n" +
      "         Buffer + Sink Latency of its stream in the sound server (pactl), the\n" +
      "         silences ≥ 5 ms in a recording of the sink's monitor (underruns), the tone's\n" +
      "         frequency there, and the CPU time of the viewers' processes. Prints one JSON\n" +
      "         object (latency mean, p50, p95 and max, the level per second, underruns, CPU,\n" +
      "         and whether Porthole meets its goal: 0 underruns and a p95 latency ≤\n" +
      `         ${GOAL_LATENCY_MS} ms) and a table on stderr; the goal is reported, not asserted. Exits 1\n` +
      "         with one line if a program is missing, or a player fails or never plays.\n" +
      "serial   runs porthole-gateway in front of QEMU (a still picture) with two stream\n" +
      "         devices, an echo and a flood, and measures with Porthole's client: the\n" +
      `         round trip of --size MiB (default ${DEFAULT_SIZE_MIB}) through the echo device, directly,\n` +
      "         through a plain byte relay built on the gateway's own I/O layer (no RFB: the\n" +
      "         ceiling of any gateway on it) and through the gateway, with stream windows of\n" +
      `         --window bytes each way (default ${DEFAULT_WINDOW}), checked by SHA-256; --echoes one-byte\n` +
      `         echoes (default ${DEFAULT_ECHOES}) each way; and for --seconds (default ${SERIAL_SECONDS}) each, the\n` +
      "         time from a non-incremental update request for the whole screen to the\n" +
      "         decoded update: directly to QEMU, through the gateway idle, and while the\n" +
      "         flood device writes as fast as the client takes it on the same connection.\n" +
      "         Prints one JSON object and a table on stderr with the issue's goals and\n" +
      `         whether they are met, not asserted: gateway ≥ ${GOAL_THROUGHPUT_RATIO * 100} % of direct throughput,\n` +
      `         ≤ ${GOAL_ADDED_ECHO_MS} ms added mean echo latency, update latency under flood ≤ ${GOAL_FLOOD_FRAME_RATIO}× idle at\n` +
      "         p50 and p95. Exits 1 if any byte came back wrong, or with one line if a\n" +
      "         program is missing or fails.",
  },
  (args) => {
    const [command, ...rest] = args;
    if (command === undefined) throw new UsageError("a benchmark name is required");
    if (command === "decode") {
      let engine: Engine = "porthole";
      const files: string[] = [];
      for (let i = 0; i < rest.length; i++) {
        const a = rest[i] ?? "";
        if (a === "--engine") engine = parseEngine(rest[++i]);
        else if (a.startsWith("--engine=")) engine = parseEngine(a.slice("--engine=".length));
        else if (a.startsWith("-")) throw new UsageError(`unknown option “${a}”`);
        else files.push(a);
      }
      const [file, ...extra] = files;
      if (file === undefined || extra.length > 0) throw new UsageError("decode takes one recording file");
      return decodeBenchmark(file, engine);
    }
    if (command === "compare") {
      if (rest.length === 0) throw new UsageError("compare takes one or more recording files");
      const bad = rest.find((a) => a.startsWith("-"));
      if (bad !== undefined) throw new UsageError(`unknown option “${bad}”`);
      return compareBenchmark(rest);
    }
    if (command === "display") return displayCommand(rest);
    if (command === "audio") return audioCommand(rest);
    if (command === "serial") return serialCommand(rest);
    throw new UsageError(`unknown benchmark “${command}”`);
  },
);
