// PortholeAudioPlayer: a VNC server's QEMU audio (rfbproto "QEMU Audio") played through
// GStreamer: appsrc ! queue ! audioconvert ! audioresample ! volume ! sink (pulsesink by
// default, which also serves PipeWire through its pulse server).
//
// Everything runs on the main loop: gjs 1.74 crashes when GStreamer calls JS on a streaming
// thread (need-data, handoff, probes), so data is pushed as it arrives and paced by polling
// appsrc's queued bytes, and only bus messages (delivered on the main loop) are watched.
//
// Latency. The sink runs with sync=false: it writes into the sound server as fast as the
// server takes data, so the server's buffer (`buffer-time`, a fixed part of the target)
// absorbs the network's jitter. QEMU sends ~10 ms chunks, irregularly (2.5 % back to back,
// measured). Ahead of the sink the player keeps a small queue of its own, the only buffer it
// can see and steer: the sound server's clock and the guest's never run at exactly the same
// rate, so that queue drifts. When it grows past the target the player drops a few frames
// (1 ms steps, far apart: inaudible), when it runs dry an underrun is counted and it
// prebuffers again before playing on. It never grows without bound.
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

/**
 * The part of the latency target asked of the sound server's own buffer (buffer-time).
 * Measured with porthole-bench audio: the server held only ~17 ms of the 36 asked, ~35 ms
 * waited here, and stalls over ~17 ms on a loaded host were audible. Moving more of the
 * target there is the next step, to be measured on a quiet host.
 */
const SINK_SHARE = 0.6;
/** The sound server writes in periods of this length (pulsesink latency-time). */
const SINK_PERIOD_US = 10_000;
/** Pump period while playing: bounded by the queue's resolution, not by the sink. */
const PUMP_MS = 5;
/** After END, keep the sound device this long before going back to READY. */
const IDLE_RELEASE_MS = 2000;
/** One drop step when the queue is too long, and the least time between two steps. */
const DROP_STEP_MS = 1;
const DROP_INTERVAL_MS = 50;
/** The queue may hold this many times the target before data is thrown away outright. */
const OVERRUN_FACTOR = 4;

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
  #pump = 0;
  #release = 0;
  #lastDrop = 0;
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

  /** What is queued ahead of the speaker: the player's queue, appsrc's, and the sink's. */
  get buffered_ms(): number {
    const own = this.#bytesToMs(this.#queued + (this.#appsrc?.get_current_level_bytes() ?? 0));
    return own + Math.max(0, this.#sinkLevelMs() ?? 0);
  }

  /**
   * Milliseconds pushed but not yet played: the end of the last buffer pushed less the
   * pipeline's position (an audio sink reports the samples the device has played). Null
   * when the sink cannot say.
   */
  #sinkLevelMs(): number | null {
    const pipeline = this.#pipeline;
    if (!pipeline || this.#state !== "playing") return null;
    const [ok, position] = pipeline.query_position(Gst.Format.TIME);
    if (!ok || position < 0) return null;
    const pushed = (this.#pushedFrames * 1000) / this.#format.frequency;
    return pushed - position / 1e6;
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
    this.#streaming = true;
    this.#cancelRelease();
    if (!this.#ensurePipeline(format)) return;
    this.#queue.push(pcm);
    this.#queued += pcm.length;
    this.#holdLatency();
    if (this.#state !== "playing") {
      // Prebuffer what the sound server will not hold, then start.
      if (this.#bytesToMs(this.#queued) >= this.#queueTargetMs()) this.#play();
      else this.#setState("buffering");
    }
    this.#feed();
    this.notify("buffered-ms");
  }

  /** Milliseconds the player's own queue aims at (the rest of the target is the sink's). */
  #queueTargetMs(): number {
    return Math.max(PUMP_MS * 2, this.latency * (1 - SINK_SHARE));
  }

  /** Moves queued PCM into appsrc while appsrc holds less than one pump period. */
  #feed(): void {
    const appsrc = this.#appsrc;
    if (!appsrc || this.#state !== "playing") return;
    const low = this.#msToBytes(PUMP_MS * 2);
    while (this.#queue.length > 0 && appsrc.get_current_level_bytes() < low) {
      const chunk = this.#queue.shift();
      if (!chunk) break;
      this.#queued -= chunk.length;
      // Timestamps from the sample count: a continuous timeline whatever the arrival
      // jitter (a sink that syncs plays it at the stream's rate).
      const frames = chunk.length / audioFrameSize(this.#format);
      const buffer = Gst.Buffer.new_wrapped(chunk);
      buffer.pts = Math.round((this.#pushedFrames * 1e9) / this.#format.frequency);
      buffer.duration = Math.round((frames * 1e9) / this.#format.frequency);
      this.#pushedFrames += frames;
      appsrc.push_buffer(buffer);
    }
    if (this.#queue.length === 0 && appsrc.get_current_level_bytes() === 0 && this.#streaming) {
      // Dry while the guest plays, and the sink has played all it got: an underrun.
      // Count it, and prebuffer before playing on.
      const sink = this.#sinkLevelMs();
      if (sink !== null && sink <= 0) {
        this.#underruns++;
        this.notify("underruns");
        this.#setState("buffering");
      }
    }
  }

  /** Keeps the queue near its target: small drops for drift, a hard cut for a backlog. */
  #holdLatency(): void {
    const frame = audioFrameSize(this.#format);
    const targetBytes = this.#msToBytes(this.#queueTargetMs());
    if (this.#queued > targetBytes * OVERRUN_FACTOR) {
      // Far behind (the app stalled, the sink blocked): drop the oldest beyond the target.
      this.#overruns++;
      this.notify("overruns");
      this.#dropBytes(this.#queued - targetBytes, frame);
      return;
    }
    const now = GLib.get_monotonic_time() / 1000;
    if (this.#state === "playing" && this.#queued > targetBytes * 2 && now - this.#lastDrop >= DROP_INTERVAL_MS) {
      this.#lastDrop = now;
      this.#dropBytes(this.#msToBytes(DROP_STEP_MS), frame);
    }
  }

  #dropBytes(bytes: number, frame: number): void {
    let left = bytes - (bytes % frame);
    const dropped = left;
    while (left > 0 && this.#queue.length > 0) {
      const head = this.#queue[0];
      if (!head) break;
      if (head.length <= left) {
        this.#queue.shift();
        left -= head.length;
        this.#queued -= head.length;
      } else {
        this.#queue[0] = head.subarray(left);
        this.#queued -= left;
        left = 0;
      }
    }
    this.#droppedFrames += (dropped - left) / frame;
    this.notify("dropped-ms");
  }

  #play(): void {
    const pipeline = this.#pipeline;
    if (!pipeline) return;
    pipeline.set_state(Gst.State.PLAYING);
    this.#setState("playing");
    if (this.#pump === 0)
      this.#pump = GLib.timeout_add(GLib.PRIORITY_HIGH, PUMP_MS, () => {
        this.#feed();
        return GLib.SOURCE_CONTINUE;
      });
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
      device.set_property("buffer-time", Math.max(2 * SINK_PERIOD_US, Math.round(this.latency * SINK_SHARE * 1000)));
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
    // The queue between appsrc and the sink's thread stays short: the player's own queue
    // is the buffer it steers.
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
    if (this.#pump) GLib.source_remove(this.#pump);
    this.#pump = 0;
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
