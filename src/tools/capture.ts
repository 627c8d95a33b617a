// porthole-capture: connect, receive one complete framebuffer, save it as PNG, exit; or
// with --audio, record what the server plays (QEMU's audio extension) into a WAV file for a
// given time, without any sound device. Every failure is one line on stderr and a non-zero
// exit within --timeout seconds (plus --duration when recording).

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { runProgram, UsageError } from "../platform/command-line.js";
import { answerCredentials, checkCaFile, errorText, readPassword } from "./client-options.js";
import { VncConnection } from "../platform/connection.js";
import { savePng } from "../platform/png.js";
import { parseServerAddress } from "../protocol/address.js";
import { DEFAULT_ENCODINGS, encodingName } from "../protocol/client.js";
import { Encoding, ENCODINGS_BY_NAME } from "../protocol/constants.js";
import {
  type AudioFormat,
  AudioSampleFormat,
  audioFrameSize,
  MAX_AUDIO_FREQUENCY,
  QemuAudioExtension,
} from "../protocol/extensions/qemu-audio.js";
import { MemoryFramebuffer } from "../protocol/framebuffer.js";
import { WavEncoder, wavHeaderSize } from "../protocol/wav.js";

const PSEUDO_ENCODINGS = [
  Encoding.DesktopSize,
  Encoding.ExtendedDesktopSize,
  Encoding.LastRect,
  Encoding.DesktopName,
  // Announcing cursor support keeps the server from drawing its cursor into the pixels.
  Encoding.CursorWithAlpha,
  Encoding.Cursor,
];

/** --audio-format's names for rfbproto's sample formats. */
const SAMPLE_FORMATS: Readonly<Record<string, AudioSampleFormat>> = {
  u8: AudioSampleFormat.U8,
  s8: AudioSampleFormat.S8,
  u16: AudioSampleFormat.U16,
  s16: AudioSampleFormat.S16,
  u32: AudioSampleFormat.U32,
  s32: AudioSampleFormat.S32,
};

interface AudioOptions {
  duration: number;
  format: AudioFormat;
}

interface Options {
  uri: string;
  /** The PNG to write, or with --audio the WAV. */
  output: string;
  /** Set with --audio: record sound instead of a picture. */
  audio: AudioOptions | null;
  encodings: number[];
  passwordFile: string | null;
  username: string | null;
  caFile: string | null;
  timeout: number;
  stats: boolean;
}

function parseOptions(args: string[]): Options {
  const positional: string[] = [];
  const encodings: number[] = [];
  let passwordFile: string | null = null;
  let username: string | null = null;
  let caFile: string | null = null;
  let timeout = 30;
  let stats = false;
  let audioOutput: string | null = null;
  let duration: number | null = null;
  let sampleFormat: AudioSampleFormat = AudioSampleFormat.S16;
  let frequency = 48000;
  let channels: 1 | 2 = 2;
  /** The --audio-* and --duration options given, to refuse them without --audio. */
  const audioOnly: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const [name, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--encoding": {
        const v = value().toLowerCase();
        const e = ENCODINGS_BY_NAME[v];
        if (e === undefined)
          throw new UsageError(`unknown encoding “${v}” (known: ${Object.keys(ENCODINGS_BY_NAME).join(", ")})`);
        encodings.push(e);
        break;
      }
      case "--stats":
        stats = true;
        break;
      case "--password-file":
        passwordFile = value();
        break;
      case "--username":
        username = value();
        break;
      case "--ca-file":
        caFile = value();
        break;
      case "--timeout": {
        const v = Number(value());
        if (!(v > 0 && v <= 3600)) throw new UsageError("--timeout takes a number of seconds between 0 and 3600");
        timeout = v;
        break;
      }
      case "--audio":
        audioOutput = value();
        break;
      case "--duration": {
        const v = Number(value());
        if (!(v > 0 && v <= 86400)) throw new UsageError("--duration takes a number of seconds between 0 and 86400");
        duration = v;
        audioOnly.push(name);
        break;
      }
      case "--audio-format": {
        const v = value().toLowerCase();
        const f = SAMPLE_FORMATS[v];
        if (f === undefined)
          throw new UsageError(`unknown audio format “${v}” (known: ${Object.keys(SAMPLE_FORMATS).join(", ")})`);
        sampleFormat = f;
        audioOnly.push(name);
        break;
      }
      case "--audio-rate": {
        const v = Number(value());
        // QEMU drops the connection above 48000 Hz (ui/vnc.c).
        if (!(Number.isInteger(v) && v >= 1 && v <= MAX_AUDIO_FREQUENCY))
          throw new UsageError(`--audio-rate takes a whole number of Hz between 1 and ${MAX_AUDIO_FREQUENCY}`);
        frequency = v;
        audioOnly.push(name);
        break;
      }
      case "--audio-channels": {
        const v = value();
        if (v !== "1" && v !== "2") throw new UsageError("--audio-channels takes 1 or 2");
        channels = v === "1" ? 1 : 2;
        audioOnly.push(name);
        break;
      }
      default:
        if (name.startsWith("-") && name !== "-") throw new UsageError(`unknown option “${name}”`);
        positional.push(arg);
    }
  }
  const common = { encodings, passwordFile, username, caFile, timeout, stats };
  if (audioOutput !== null) {
    const [uri, ...extra] = positional;
    if (uri === undefined) throw new UsageError("a server URI is required");
    if (extra.length > 0) throw new UsageError(`unexpected argument “${extra[0] ?? ""}” (--audio names the output)`);
    if (duration === null) throw new UsageError("--audio needs --duration SECONDS");
    if (encodings.length > 0) throw new UsageError("--encoding is for pictures, not with --audio");
    const format: AudioFormat = { sampleFormat, channels, frequency };
    // A WAV file holds at most 4 GiB; allow 1% more data than the wall time for jitter.
    if (wavHeaderSize(format) + duration * 1.01 * frequency * audioFrameSize(format) > 0xffffffff)
      throw new UsageError("--duration is too long for one WAV file (4 GiB) in this format");
    return { uri, output: audioOutput, audio: { duration, format }, ...common };
  }
  if (audioOnly.length > 0) throw new UsageError(`${audioOnly[0] ?? ""} only goes with --audio`);
  const [uri, output, ...extra] = positional;
  if (uri === undefined || output === undefined) throw new UsageError("a server URI and an output file are required");
  if (extra.length > 0) throw new UsageError(`unexpected argument “${extra[0] ?? ""}”`);
  return { uri, output, audio: null, ...common };
}

/**
 * Which pixels the server has sent since the last resize. A server may answer the first
 * request with only pseudo-rectangles (TigerVNC sends ExtendedDesktopSize first) or paint
 * the screen over several updates, so "one update arrived" does not mean "a picture".
 */
class Coverage {
  #mask = new Uint8Array(0);
  #width = 0;
  #missing = 0;

  reset(width: number, height: number): void {
    this.#mask = new Uint8Array(width * height);
    this.#width = width;
    this.#missing = width * height;
  }

  add(x: number, y: number, w: number, h: number): void {
    for (let row = y; row < y + h; row++) {
      const start = row * this.#width + x;
      for (let i = start; i < start + w; i++) {
        if (this.#mask[i] === 0) {
          this.#mask[i] = 1;
          this.#missing--;
        }
      }
    }
  }

  get complete(): boolean {
    return this.#missing === 0 && this.#mask.length > 0;
  }
}

async function capture(options: Options): Promise<number> {
  const address = parseServerAddress(options.uri);
  const password = options.passwordFile !== null ? readPassword(options.passwordFile) : null;
  if (options.caFile !== null) checkCaFile(options.caFile);
  const encodings = options.encodings.length > 0 ? [...options.encodings, ...PSEUDO_ENCODINGS] : [...DEFAULT_ENCODINGS];

  return new Promise<number>((resolve) => {
    let done = false;
    const framebuffer = new MemoryFramebuffer();
    const coverage = new Coverage();
    const rects = new Map<string, number>();
    const finish = (status: number, message?: string) => {
      if (done) return;
      done = true;
      GLib.source_remove(timer);
      if (message !== undefined) printerr(`porthole-capture: ${message}`);
      connection.close();
      resolve(status);
    };
    const timer = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, options.timeout, () => {
      finish(1, `no complete picture within ${options.timeout} s`);
      return GLib.SOURCE_REMOVE;
    });
    const connection: VncConnection = new VncConnection(
      { address, framebuffer, encodings, caFile: options.caFile, connectTimeout: options.timeout },
      {
        failed: (e) => {
          finish(1, e.message);
        },
        credentialsRequired: (needed) => {
          answerCredentials(connection, needed, { username: options.username, password }, (message) => {
            finish(1, message);
          });
        },
        connected: (info) => {
          coverage.reset(info.width, info.height);
        },
        resized: (width, height) => {
          coverage.reset(width, height);
        },
        rectDecoded: (r) => {
          if (r.encoding >= 0 || r.encoding === Encoding.TightPNG) coverage.add(r.x, r.y, r.width, r.height);
          const name = encodingName(r.encoding);
          rects.set(name, (rects.get(name) ?? 0) + 1);
        },
        updateComplete: () => {
          if (!coverage.complete) return;
          try {
            savePng(options.output, framebuffer.width, framebuffer.height, framebuffer.pixels);
            if (options.stats)
              print(
                JSON.stringify({
                  width: framebuffer.width,
                  height: framebuffer.height,
                  rects: Object.fromEntries(rects),
                }),
              );
            finish(0);
          } catch (e) {
            finish(1, `cannot write ${options.output}: ${e instanceof Error ? e.message : String(e)}`);
          }
        },
      },
    );
    connection.connect();
  });
}

/** Asks for what the server wants with what the options hold, or ends the program. */

/** A WAV file written as the audio arrives; its header is rewritten with the sizes at the end. */
class WavFile {
  readonly path: string;
  readonly encoder: WavEncoder;
  #stream: Gio.FileOutputStream;

  constructor(path: string, format: AudioFormat) {
    this.path = path;
    this.encoder = new WavEncoder(format);
    this.#stream = Gio.File.new_for_path(path).replace(null, false, Gio.FileCreateFlags.REPLACE_DESTINATION, null);
    this.#write(this.encoder.header());
  }

  samples(pcm: Uint8Array): void {
    this.#write(this.encoder.samples(pcm));
  }

  silence(frames: number): void {
    if (frames > 0) this.#write(this.encoder.silence(frames));
  }

  /** Ends the data chunk (WavEncoder.end), writes the final header and closes the file. */
  finish(): void {
    this.#write(this.encoder.end());
    this.#stream.seek(0, GLib.SeekType.SET, null);
    this.#write(this.encoder.header());
    this.#stream.close(null);
  }

  #write(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#stream.write_all(bytes, null);
  }
}

const SAMPLE_FORMAT_NAMES = Object.fromEntries(Object.entries(SAMPLE_FORMATS).map(([k, v]) => [v, k]));

/**
 * Records the server's audio for `duration` seconds of wall time from the enable. QEMU sends
 * nothing between END and the next BEGIN, nor before the first BEGIN (measured with QEMU
 * 7.2: tests/gjs/tone-guest.ts), so each such silence becomes silent samples as long as the
 * wall clock says it lasted; within a stream the samples are written exactly as they came,
 * never stretched or padded for network jitter.
 */
async function captureAudio(options: Options, audioOptions: AudioOptions): Promise<number> {
  const address = parseServerAddress(options.uri);
  const password = options.passwordFile !== null ? readPassword(options.passwordFile) : null;
  if (options.caFile !== null) checkCaFile(options.caFile);
  const { format, duration } = audioOptions;

  return new Promise<number>((resolve) => {
    let done = false;
    let file: WavFile | null = null;
    /** When the current silence began (the enable, or the last END); null while a stream runs. */
    let silentSince: number | null = null;
    const stats = { dataMessages: 0, begins: 0, ends: 0, silenceFrames: 0 };
    let timer = 0;
    const now = () => GLib.get_monotonic_time();
    /** Writes silence for the time from `silentSince` until now. */
    const padSilence = () => {
      if (file === null || silentSince === null) return;
      const frames = Math.round(((now() - silentSince) / 1e6) * format.frequency);
      file.silence(frames);
      stats.silenceFrames += frames;
      silentSince = null;
    };
    /** Runs `step`; a failure to write ends the program. */
    const writing = (step: () => void) => {
      if (done) return;
      try {
        step();
      } catch (e) {
        finish(1, `cannot write ${options.output}: ${errorText(e)}`);
      }
    };
    const finish = (status: number, message?: string) => {
      if (done) return;
      done = true;
      if (timer !== 0) GLib.source_remove(timer);
      if (file !== null) {
        try {
          if (status === 0) padSilence();
          if (audio.enabled) audio.disable();
          file.finish();
          if (options.stats)
            print(
              JSON.stringify({
                format: SAMPLE_FORMAT_NAMES[format.sampleFormat],
                channels: format.channels,
                rate: format.frequency,
                frames: file.encoder.frames,
                ...stats,
              }),
            );
        } catch (e) {
          status = 1;
          message ??= `cannot write ${options.output}: ${errorText(e)}`;
        }
      }
      if (message !== undefined) printerr(`porthole-capture: ${message}`);
      connection.close();
      resolve(status);
    };
    const start = () => {
      try {
        file = new WavFile(options.output, format);
      } catch (e) {
        finish(1, `cannot write ${options.output}: ${errorText(e)}`);
        return;
      }
      if (timer !== 0) GLib.source_remove(timer);
      audio.setFormat(format);
      audio.enable();
      silentSince = now();
      timer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, Math.round(duration * 1000), () => {
        timer = 0;
        finish(0);
        return GLib.SOURCE_REMOVE;
      });
    };
    timer = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, options.timeout, () => {
      timer = 0;
      finish(1, `the server did not offer audio within ${options.timeout} s`);
      return GLib.SOURCE_REMOVE;
    });
    const audio = new QemuAudioExtension({
      audioAvailable: start,
      streamBegan: () => {
        stats.begins++;
        writing(padSilence);
      },
      streamEnded: () => {
        stats.ends++;
        silentSince ??= now();
      },
      audioData: (pcm) => {
        stats.dataMessages++;
        writing(() => {
          // QEMU always sends BEGIN first; a server that did not still had a silence before.
          padSilence();
          file?.samples(pcm);
        });
      },
    });
    const connection: VncConnection = new VncConnection(
      {
        address,
        // Only the first update is asked for: the pixels are not wanted, and the answer to
        // that request tells whether the server acknowledged audio (below).
        framebuffer: new MemoryFramebuffer(),
        requestUpdates: false,
        extensions: [audio],
        caFile: options.caFile,
        connectTimeout: options.timeout,
      },
      {
        failed: (e) => {
          finish(1, e.message);
        },
        credentialsRequired: (needed) => {
          answerCredentials(connection, needed, { username: options.username, password }, (message) => {
            finish(1, message);
          });
        },
        updateComplete: () => {
          // QEMU answers SetEncodings with the -259 ack at once (ui/vnc.c set_encodings()
          // calls send_ext_audio_ack() while handling the message), before it reads the
          // FramebufferUpdateRequest that follows it; so an update that completes without
          // the ack comes from a server that will not send one.
          if (!audio.available) finish(1, "the server does not support QEMU audio");
        },
      },
    );
    connection.connect();
  });
}

runProgram(
  {
    name: "porthole-capture",
    summary: "Save what a VNC server shows as a PNG, or what it plays as a WAV",
    usage: [
      "[--encoding NAME]… [--username NAME] [--password-file FILE] [--ca-file FILE] [--timeout SECONDS] [--stats]" +
        " URI OUT.png",
      "--audio OUT.wav --duration SECONDS [--audio-format FORMAT] [--audio-rate HZ] [--audio-channels 1|2]" +
        " [--username NAME] [--password-file FILE] [--ca-file FILE] [--timeout SECONDS] [--stats] URI",
    ],
    description:
      "URI is vnc://HOST[:PORT], vnc+unix:///PATH, HOST:DISPLAY, HOST::PORT or /PATH.\n" +
      "--encoding restricts the encodings offered: raw, copyrect, rre, corre, hextile, zlib, zrle,\n" +
      "tight, tightpng (repeat it to offer several). The default offers all of them.\n" +
      "--password-file holds the password, --username the user name (VeNCrypt Plain/X509Plain).\n" +
      "--ca-file trusts the CA certificates in FILE (PEM) for a VeNCrypt X509 server instead of\n" +
      "the system's; the certificate must be issued for the host name in URI.\n" +
      "--timeout bounds the wait for a complete picture, or with --audio for the server's\n" +
      "acknowledgement of audio (default 30 s).\n" +
      "--stats prints the size and the rectangles received per encoding as JSON on stdout\n" +
      "(with --audio: the format, the frames written and the messages received).\n" +
      "\n" +
      "--audio records the server's sound (QEMU's audio extension) into OUT.wav for SECONDS of\n" +
      "wall time, without playing it. FORMAT is s16 (the default), u8, s8, u16, s32 or u32, HZ\n" +
      "1–48000 (default 48000), 1 or 2 channels (default 2). QEMU sends nothing while the guest\n" +
      "is silent: each such silence is written as silent samples lasting as long as it did by\n" +
      "the wall clock, so the file's timeline follows real time; the sound itself is written as\n" +
      "it arrived. A server that does not support QEMU audio is an error (exit 1).",
  },
  (args) => {
    const options = parseOptions(args);
    return options.audio !== null ? captureAudio(options, options.audio) : capture(options);
  },
);
