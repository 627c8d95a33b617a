// PortholeAudioPlayer: a VNC server's QEMU audio (rfbproto "QEMU Audio") played through
// GStreamer: appsrc ! queue ! audioconvert ! audioresample ! volume ! sink (pulsesink by
// default, which also serves PipeWire through its pulse server).
//
// Everything runs on the main loop: gjs 1.74 crashes when GStreamer calls JS on a streaming
// thread (need-data, handoff, probes), so data is pushed as it arrives and only bus messages
// (delivered on the main loop) are watched.
//
// Latency. Every chunk goes to appsrc as it arrives, and appsrc's own thread feeds the
// sink, so no JS runs between a chunk's arrival and its playout: a stalled main loop (a
// garbage collection) only delays arrivals, which the buffered level absorbs like network
// jitter. The sink runs with sync=false and a buffer-time of the whole target, so what is
// buffered sits in the sound server, which plays it from its own real-time thread. QEMU
// sends ~10 ms chunks, irregularly (2.5 % back to back, measured). The level (pushed less
// the sink's position) is steered on its lowest value over short windows, just before
// arrivals, to half the target: the sound server's clock and the guest's never run at
// exactly the same rate, so a millisecond is dropped or repeated now and then (far apart:
// inaudible). When it runs dry while the guest plays an underrun is counted and the player
// prebuffers again. It never grows without bound.
//
// Start-up: a pipeline left in PLAYING before any data mangled the first seconds (measured
// with pulsesink), so the pipeline starts only when the first prebuffer is there, and goes
// back to READY (releasing the sound device) some time after the guest's stream ends.

import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Gst from "gi://Gst?version=1.0";
import GstApp from "gi://GstApp?version=1.0";
import GstAudio from "gi://GstAudio?version=1.0";

import {
  type AudioFormat,
  audioFrameSize,
  AudioSampleFormat,
  QemuAudioExtension,
} from "../protocol/extensions/qemu-audio.js";
import { ProtocolError } from "../protocol/errors.js";

/** What the player asks the server for unless told otherwise (the default). */
export const DEFAULT_AUDIO_FORMAT: AudioFormat = { sampleFormat: AudioSampleFormat.S16, channels: 2, frequency: 48000 };

const GST_FORMATS: Readonly<Record<number, string>> = {
  [AudioSampleFormat.U8]: "U8",
  [AudioSampleFormat.S8]: "S8",
  [AudioSampleFormat.U16]: "U16LE",
  [AudioSampleFormat.S16]: "S16LE",
  [AudioSampleFormat.U32]: "U32LE",
  [AudioSampleFormat.S32]: "S32LE",
};

/** The sound server writes in periods of this length (pulsesink latency-time). */
const SINK_PERIOD_US = 10_000;
/** The least prebuffer, whatever the latency asked. */
const MIN_FLOOR_MS = 10;
/** The level is steered on its lowest value over windows of this length. */
const STEER_WINDOW_MS = 250;
/** After END, keep the sound device this long before going back to READY. */
const IDLE_RELEASE_MS = 2000;
/** One step (a drop or a repeat) of the level, and the least time between two steps. */
const DROP_STEP_MS = 1;
const DROP_INTERVAL_MS = 50;
/** The pipeline may hold this many times the target before data is thrown away outright. */
const OVERRUN_FACTOR = 2;

/**
 * The sink: an element name (pulsesink, pipewiresink, alsasink…), or a pipeline fragment
 * such as "wavenc ! filesink location=out.wav"; autoaudiosink when the element is missing.
 */
function makeSink(description: string): Gst.Element {
  if (/[!= ]/.test(description.trim())) {
    try {
      return Gst.parse_bin_from_description(description, true);
    } catch (e) {
      throw new Error(`the audio sink “${description}” is not a valid GStreamer description: ${String(e)}`);
    }
  }
  const sink = Gst.ElementFactory.make(description, null) ?? Gst.ElementFactory.make("autoaudiosink", null);
  if (!sink) throw new Error(`no audio sink: neither “${description}” nor autoaudiosink is installed`);
  return sink;
}

/** The audio device sinks in `element`: itself, or those inside it when it is a bin. */
function audioSinks(element: Gst.Element): GstAudio.AudioBaseSink[] {
  if (element instanceof GstAudio.AudioBaseSink) return [element];
  if (!(element instanceof Gst.Bin)) return [];
  const found: GstAudio.AudioBaseSink[] = [];
  const it = element.iterate_recurse();
  for (; it;) {
    const [result, value] = it.next();
    if (result === Gst.IteratorResult.RESYNC) {
      it.resync();
      found.length = 0;
      continue;
    }
    if (result !== Gst.IteratorResult.OK) break;
    if (value instanceof GstAudio.AudioBaseSink) found.push(value);
  }
  return found;
}

function hasProperty(object: GObject.Object, name: string): boolean {
  // find_property() gives null for an unknown name, whatever its typing says.
  const spec = (object.constructor as typeof GObject.Object).find_property(name) as GObject.ParamSpec | null;
  return spec !== null;
}

export type AudioState = "unavailable" | "idle" | "buffering" | "playing";

export interface AudioPlayerSignals extends GObject.Object.SignalSignatures {
  /** A playback problem (no sink, a GStreamer error), in words for a person. */
  error: (message: string) => void;
}

// GObject signals are typed per class in the GI typings (see vnc-display.ts).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export interface PortholeAudioPlayer {
  $signals: AudioPlayerSignals;
  connect<K extends keyof AudioPlayerSignals>(
    signal: K,
    callback: GObject.SignalCallback<this, AudioPlayerSignals[K]>,
  ): number;
  emit<K extends keyof AudioPlayerSignals>(signal: K, ...args: GObject.GjsParameters<AudioPlayerSignals[K]>): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see above
export class PortholeAudioPlayer extends GObject.Object {
  static {
    GObject.registerClass(
      {
        GTypeName: "PortholeAudioPlayer",
        Properties: {
          enabled: GObject.ParamSpec.boolean(
            "enabled",
            "Enabled",
            "Ask the server for audio and play it",
            GObject.ParamFlags.READWRITE,
            true,
          ),
          volume: GObject.ParamSpec.double(
            "volume",
            "Volume",
            "Linear volume, 1 is unchanged",
            GObject.ParamFlags.READWRITE,
            0,
            4,
            1,
          ),
          muted: GObject.ParamSpec.boolean("muted", "Muted", "Play silence", GObject.ParamFlags.READWRITE, false),
          latency: GObject.ParamSpec.uint(
            "latency",
            "Latency",
            "Target latency in milliseconds",
            GObject.ParamFlags.READWRITE,
            20,
            2000,
            60,
          ),
          sink: GObject.ParamSpec.string(
            "sink",
            "Sink",
            "GStreamer audio sink element (pulsesink, autoaudiosink…)",
            GObject.ParamFlags.READWRITE,
            "pulsesink",
          ),
          state: GObject.ParamSpec.string(
            "state",
            "State",
            "unavailable, idle, buffering or playing",
            GObject.ParamFlags.READABLE,
            "unavailable",
          ),
          "buffered-ms": GObject.ParamSpec.double(
            "buffered-ms",
            "Buffered",
            "Milliseconds queued ahead of the sound server",
            GObject.ParamFlags.READABLE,
            0,
            1e9,
            0,
          ),
          underruns: GObject.ParamSpec.uint(
            "underruns",
            "Underruns",
            "Times the queue ran dry while the guest played",
            GObject.ParamFlags.READABLE,
            0,
            0xffffffff,
            0,
          ),
          overruns: GObject.ParamSpec.uint(
            "overruns",
            "Overruns",
            "Times data was thrown away because the queue was far too long",
            GObject.ParamFlags.READABLE,
            0,
            0xffffffff,
            0,
          ),
          "dropped-ms": GObject.ParamSpec.double(
            "dropped-ms",
            "Dropped",
            "Milliseconds of audio dropped to hold the latency",
            GObject.ParamFlags.READABLE,
            0,
            1e12,
            0,
          ),
        },
        Signals: { error: { param_types: [GObject.TYPE_STRING] } },
      },
      this,
    );
  }

  declare enabled: boolean;
  declare volume: number;
  declare muted: boolean;
  declare latency: number;
  declare sink: string;

  /** Give this to the connection (VncDisplay.open's `extensions`) whose audio to play. */
  readonly extension: QemuAudioExtension;
  #format: AudioFormat = DEFAULT_AUDIO_FORMAT;
  #state: AudioState = "unavailable";
  #pipeline: Gst.Pipeline | null = null;
  #appsrc: GstApp.AppSrc | null = null;
  #volume: Gst.Element | null = null;
  #pipelineFormat: AudioFormat | null = null;
  #busWatch = false;
  /** PCM waiting for appsrc, oldest first, and its byte count. */
  #queue: Uint8Array[] = [];
  #queued = 0;
  #streaming = false;
  #release = 0;
  /** When the level last took a step (a drop or a repeat), in ms of the monotonic clock. */
  #lastStep = 0;
  /** The lowest level in the last whole window, and in the current one (see #steer). */
  #windowLow = Infinity;
  #currentLow = Infinity;
  #windowStart = 0;
  /** Frames pushed less the sink's position when playing (re)started from empty. */
  #levelBase: number | null = null;
  #underruns = 0;
  #overruns = 0;
  #droppedFrames = 0;
  /** Frames pushed into the current pipeline: the next buffer's timestamp. */
  #pushedFrames = 0;

  constructor(params: { enabled?: boolean; volume?: number; muted?: boolean; latency?: number; sink?: string } = {}) {
    super(params);
    if (!Gst.is_initialized()) Gst.init(null);
    this.extension = new QemuAudioExtension({
      audioAvailable: () => {
        this.#setState("idle");
        if (this.enabled) this.#start();
      },
      streamBegan: () => {
        // A new stream starts from a prebuffer, like one after an underrun (#onData's own
        // check never sees it: the BEGIN comes before the data).
        if (!this.#streaming) this.#rebuffer();
        this.#streaming = true;
        this.#cancelRelease();
      },
      audioData: (pcm, format) => {
        this.#onData(pcm, format);
      },
      streamEnded: () => {
        this.#streaming = false;
        this.#scheduleRelease();
      },
      audioUnavailable: () => {
        this.#stopPipeline();
        this.#setState("unavailable");
      },
    });
    this.connect("notify::enabled", () => {
      if (this.enabled) this.#start();
      else this.#stop();
    });
    this.connect("notify::volume", () => {
      this.#volume?.set_property("volume", this.volume);
    });
    this.connect("notify::muted", () => {
      this.#volume?.set_property("mute", this.muted);
    });
    this.connect("notify::sink", () => {
      this.#stopPipeline();
    });
  }

  get state(): AudioState {
    return this.#state;
  }

  /** What is queued ahead of the speaker: the prebuffer, and all the pipeline has not played. */
  get buffered_ms(): number {
    return this.#bytesToMs(this.#queued) + Math.max(0, this.#levelMs());
  }

  /**
   * Milliseconds pushed but not yet played since the pipeline last started from empty:
   * the frames pushed less the sink's position (an audio sink reports what the device has
   * played). 0 when not playing.
   */
  #levelMs(): number {
    if (this.#levelBase === null || this.#state !== "playing") return 0;
    const frames = this.#pushedFrames - this.#levelBase - this.#positionFrames();
    return (frames * 1000) / this.#format.frequency;
  }

  get underruns(): number {
    return this.#underruns;
  }

  get overruns(): number {
    return this.#overruns;
  }

  get dropped_ms(): number {
    return (this.#droppedFrames * 1000) / this.#format.frequency;
  }

  /** The format asked of the server. */
  get format(): AudioFormat {
    return this.#format;
  }

  /**
   * Chooses the PCM format to ask for (validated as QEMU would: a bad one would make it
   * drop the connection). Takes effect at once when audio is running.
   */
  setFormat(format: AudioFormat): void {
    if (GST_FORMATS[format.sampleFormat] === undefined)
      throw new ProtocolError("invalid-argument", `audio sample format ${format.sampleFormat} does not exist (0–5)`);
    if ((format.channels as number) !== 1 && (format.channels as number) !== 2)
      throw new ProtocolError("invalid-argument", `audio must have 1 or 2 channels, not ${format.channels}`);
    if (!Number.isInteger(format.frequency) || format.frequency < 8000 || format.frequency > 48000)
      throw new ProtocolError("invalid-argument", `an audio rate of ${format.frequency} Hz is outside 8000–48000 Hz`);
    this.#format = { ...format };
    if (this.extension.enabled) {
      this.extension.disable();
      this.#start();
    }
  }

  /** Stops playing and releases the sound device (the app calls it when closing). */
  shutdown(): void {
    this.#stop();
    this.#stopPipeline();
  }

  #start(): void {
    const ext = this.extension;
    if (!ext.available) return;
    if (ext.enabled) return;
    ext.setFormat(this.#format);
    ext.enable();
  }

  #stop(): void {
    if (this.extension.available && this.extension.enabled) this.extension.disable();
    this.#streaming = false;
    this.#clearQueue();
    this.#stopPipeline();
    if (this.#state !== "unavailable") this.#setState("idle");
  }

  #onData(pcm: Uint8Array, format: AudioFormat): void {
    if (!this.enabled || pcm.length === 0) return;
    if (!this.#streaming) this.#rebuffer();
    this.#streaming = true;
    this.#cancelRelease();
    if (!this.#ensurePipeline(format)) return;
    if (this.#state !== "playing") {
      // Prebuffer the floor, then hand everything to the pipeline and start it.
      this.#queue.push(pcm);
      this.#queued += pcm.length;
      if (this.#bytesToMs(this.#queued) >= this.#floorMs()) this.#play();
      else this.#setState("buffering");
    } else {
      const level = this.#levelMs();
      if (level <= 0) {
        // The pipeline played out everything while the guest was still sending: an
        // underrun. Count it and prebuffer again.
        this.#underruns++;
        this.notify("underruns");
        this.#rebuffer();
        this.#queue.push(pcm);
        this.#queued += pcm.length;
        this.#setState("buffering");
      } else {
        this.#push(this.#steer(pcm, level));
      }
    }
    this.notify("buffered-ms");
  }

  /**
   * What the player keeps ahead of the speaker just before a chunk arrives: half the
   * target, so that the level right after a chunk (one ~10 ms chunk and the arrival
   * jitter higher) stays within it.
   */
  #floorMs(): number {
    return Math.max(MIN_FLOOR_MS, this.latency / 2);
  }

  /**
   * Holds the level near the floor: a millisecond dropped when even the lowest level of
   * the last window was above it (the guest's clock is faster than the sound server's),
   * a millisecond repeated when that low fell under half of it (slower, or the network's
   * jitter grew), each at most every DROP_INTERVAL_MS; a hard cut when far behind.
   */
  #steer(pcm: Uint8Array, level: number): Uint8Array {
    const frame = audioFrameSize(this.#format);
    const now = GLib.get_monotonic_time() / 1000;
    if (now - this.#windowStart >= STEER_WINDOW_MS) {
      this.#windowLow = this.#currentLow;
      this.#currentLow = Infinity;
      this.#windowStart = now;
    }
    this.#currentLow = Math.min(this.#currentLow, level);
    const floor = this.#floorMs();
    if (level > this.latency * OVERRUN_FACTOR) {
      // Far behind (the app stalled, the sink blocked): throw away what is above the floor.
      this.#overruns++;
      this.notify("overruns");
      return this.#drop(pcm, this.#msToBytes(level - floor), frame);
    }
    if (now - this.#lastStep < DROP_INTERVAL_MS || this.#windowLow === Infinity) return pcm;
    if (this.#windowLow > floor + DROP_STEP_MS) {
      this.#lastStep = now;
      this.#windowLow = Infinity;
      return this.#drop(pcm, this.#msToBytes(DROP_STEP_MS), frame);
    }
    if (this.#windowLow < floor / 2) {
      this.#lastStep = now;
      this.#windowLow = Infinity;
      // Repeat the chunk's last millisecond: a step in phase, never a silence.
      const extra = Math.min(pcm.length, this.#msToBytes(DROP_STEP_MS));
      const longer = new Uint8Array(pcm.length + extra);
      longer.set(pcm);
      longer.set(pcm.subarray(pcm.length - extra), pcm.length);
      return longer;
    }
    return pcm;
  }

  #drop(pcm: Uint8Array, bytes: number, frame: number): Uint8Array {
    const cut = Math.min(pcm.length, bytes - (bytes % frame));
    if (cut <= 0) return pcm;
    this.#droppedFrames += cut / frame;
    this.notify("dropped-ms");
    return pcm.subarray(cut);
  }

  /** Hands PCM to appsrc, whose own thread feeds the sink: no JS runs in the steady flow. */
  #push(pcm: Uint8Array): void {
    const appsrc = this.#appsrc;
    if (!appsrc || pcm.length === 0) return;
    // Timestamps from the sample count: a continuous timeline whatever the arrival
    // jitter (a sink that syncs plays it at the stream's rate).
    const frames = pcm.length / audioFrameSize(this.#format);
    const buffer = Gst.Buffer.new_wrapped(pcm);
    buffer.pts = Math.round((this.#pushedFrames * 1e9) / this.#format.frequency);
    buffer.duration = Math.round((frames * 1e9) / this.#format.frequency);
    this.#pushedFrames += frames;
    appsrc.push_buffer(buffer);
  }

  /** Starts again from an empty pipeline: after an underrun, or a new stream after END. */
  #rebuffer(): void {
    this.#levelBase = null;
    this.#windowLow = Infinity;
    this.#currentLow = Infinity;
    if (this.#state === "playing") {
      // Paused until the prebuffer is there (#play): a sink left playing dry for a while
      // lost the first 0.3–0.6 s of what came next (measured: the demo guest's tone, all
      // of it pushed, reached the sound server without its start in 6 runs of 6).
      this.#pipeline?.set_state(Gst.State.PAUSED);
      this.#setState("buffering");
    }
  }

  #play(): void {
    const pipeline = this.#pipeline;
    if (!pipeline) return;
    if (this.#state !== "playing") pipeline.set_state(Gst.State.PLAYING);
    this.#setState("playing");
    // The level counts from here: whatever the sink played before (including the silence
    // it writes when it runs dry, which moves its position on) is behind us.
    this.#levelBase = this.#pushedFrames - this.#positionFrames();
    const queued = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    for (const chunk of queued) this.#push(chunk);
    this.#windowStart = GLib.get_monotonic_time() / 1000;
  }

  /** The sink's position in frames (0 before it reports one). */
  #positionFrames(): number {
    const [ok, position] = this.#pipeline?.query_position(Gst.Format.TIME) ?? [false, 0];
    return ok && position > 0 ? Math.round((position * this.#format.frequency) / 1e9) : 0;
  }

  #ensurePipeline(format: AudioFormat): boolean {
    const same =
      this.#pipelineFormat?.sampleFormat === format.sampleFormat &&
      this.#pipelineFormat.channels === format.channels &&
      this.#pipelineFormat.frequency === format.frequency;
    if (this.#pipeline && same) return true;
    this.#stopPipeline();
    try {
      this.#buildPipeline(format);
      return true;
    } catch (e) {
      this.emit("error", e instanceof Error ? e.message : String(e));
      this.#stopPipeline();
      return false;
    }
  }

  #buildPipeline(format: AudioFormat): void {
    const sink = makeSink(this.sink);
    // Tune the sound device's sink, also inside a description ("pulsesink server=…"); other
    // sinks (a file, a fakesink for tests) keep what they were given.
    for (const device of audioSinks(sink)) {
      device.set_property("buffer-time", Math.max(2 * SINK_PERIOD_US, this.latency * 1000));
      device.set_property("latency-time", SINK_PERIOD_US);
      device.set_property("sync", false);
      if (hasProperty(device, "client-name")) device.set_property("client-name", "Porthole");
    }

    const pipeline = new Gst.Pipeline({ name: "porthole-audio" });
    const appsrc = Gst.ElementFactory.make("appsrc", "src") as GstApp.AppSrc | null;
    const queue = Gst.ElementFactory.make("queue", null);
    const convert = Gst.ElementFactory.make("audioconvert", null);
    const resample = Gst.ElementFactory.make("audioresample", null);
    const volume = Gst.ElementFactory.make("volume", null);
    if (!appsrc || !queue || !convert || !resample || !volume)
      throw new Error("GStreamer's base plugins (appsrc, audioconvert, audioresample, volume) are missing");
    const caps = Gst.Caps.from_string(
      `audio/x-raw,format=${GST_FORMATS[format.sampleFormat] ?? "S16LE"},layout=interleaved,channels=${format.channels},rate=${format.frequency}`,
    );
    appsrc.set_caps(caps);
    appsrc.set_property("format", Gst.Format.TIME);
    appsrc.set_property("is-live", true);
    appsrc.set_property("do-timestamp", false);
    // The queue between appsrc and the sink stays short: appsrc holds what the sound server
    // has no room for yet, and the level counts both.
    queue.set_property("max-size-time", SINK_PERIOD_US * 1000);
    queue.set_property("max-size-buffers", 0);
    queue.set_property("max-size-bytes", 0);
    volume.set_property("volume", this.volume);
    volume.set_property("mute", this.muted);
    for (const e of [appsrc, queue, convert, resample, volume, sink]) pipeline.add(e);
    if (
      !appsrc.link(queue) ||
      !queue.link(convert) ||
      !convert.link(resample) ||
      !resample.link(volume) ||
      !volume.link(sink)
    )
      throw new Error("the audio pipeline could not be linked");

    const bus = pipeline.get_bus();
    bus.add_signal_watch();
    this.#busWatch = true;
    bus.connect("message::error", (_bus, message: Gst.Message) => {
      const [error] = message.parse_error();
      this.emit("error", `audio playback failed: ${error?.message ?? "unknown GStreamer error"}`);
      this.#stopPipeline();
      this.#clearQueue();
      if (this.#state !== "unavailable") this.#setState("idle");
    });
    pipeline.set_state(Gst.State.READY);
    this.#pipeline = pipeline;
    this.#pushedFrames = 0;
    this.#appsrc = appsrc;
    this.#volume = volume;
    this.#pipelineFormat = { ...format };
  }

  #stopPipeline(): void {
    this.#cancelRelease();
    const pipeline = this.#pipeline;
    if (pipeline) {
      pipeline.set_state(Gst.State.NULL);
      if (this.#busWatch) pipeline.get_bus().remove_signal_watch();
    }
    this.#busWatch = false;
    this.#pipeline = null;
    this.#appsrc = null;
    this.#volume = null;
    this.#pipelineFormat = null;
    if (this.#state === "playing" || this.#state === "buffering") this.#setState("idle");
  }

  #scheduleRelease(): void {
    this.#cancelRelease();
    this.#release = GLib.timeout_add(GLib.PRIORITY_DEFAULT, this.latency + IDLE_RELEASE_MS, () => {
      this.#release = 0;
      if (!this.#streaming) {
        this.#clearQueue();
        this.#stopPipeline();
      }
      return GLib.SOURCE_REMOVE;
    });
  }

  #cancelRelease(): void {
    if (this.#release) GLib.source_remove(this.#release);
    this.#release = 0;
  }

  #clearQueue(): void {
    this.#queue = [];
    this.#queued = 0;
  }

  #setState(state: AudioState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.notify("state");
  }

  #bytesPerMs(): number {
    return (audioFrameSize(this.#format) * this.#format.frequency) / 1000;
  }

  #bytesToMs(bytes: number): number {
    return bytes / this.#bytesPerMs();
  }

  #msToBytes(ms: number): number {
    const frame = audioFrameSize(this.#format);
    return Math.round((ms * this.#bytesPerMs()) / frame) * frame;
  }
}
