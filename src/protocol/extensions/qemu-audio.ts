// QEMU audio (rfbproto "QEMU Audio Pseudo-encoding", "QEMU Audio Client Message", "QEMU
// Audio Server Message"): the guest's sound output as PCM over the RFB connection.
//
// The order is strict, and QEMU enforces it by dropping the connection:
// 1. the client lists -259 in SetEncodings;
// 2. the server answers with an empty -259 pseudo-rectangle, and only if it has an audio
//    backend (QEMU ui/vnc.c set_encodings() sends it when vd->audio_state is set);
// 3. only then may the client send 255/1 (QEMU ui/vnc.c protocol_client_msg() fails the
//    client on an audio message while VNC_FEATURE_AUDIO is off);
// 4. set-format before enable (rfbproto: otherwise the client cannot interpret the data).
//
// Client message 255/1: U16 operation — 0 enable, 1 disable, 2 set-format followed by U8
// sample format (0 U8, 1 S8, 2 U16, 3 S16, 4 U32, 5 S32), U8 channels (1 or 2) and U32
// frequency. QEMU disconnects on any other format or channel count and on a frequency above
// 48000 ("a sensible upper bound", ui/vnc.c), so those are refused here before sending.
//
// Server message 255/1: U16 operation — 0 end of stream, 1 begin, 2 data followed by a U32
// length and that many bytes of PCM, which rfbproto says is a whole number of frames
// (sample size × channels) of the format the client chose. QEMU sends its capture buffer as
// is (ui/vnc.c audio_capture()), in the host's byte order: little-endian on the x86 and ARM
// hosts it runs on, as measured; the bytes are passed on untouched.

import type { ByteQueue } from "../byte-queue.js";
import { ClientMessage, Encoding, QEMUClientMessage } from "../constants.js";
import type { Rect } from "../decoders/decoder.js";
import { ProtocolError } from "../errors.js";
import type { Extension, ExtensionHost } from "../extension.js";

/** rfbproto's sample formats, by their wire number. */
export const AudioSampleFormat = { U8: 0, S8: 1, U16: 2, S16: 3, U32: 4, S32: 5 } as const;
export type AudioSampleFormat = (typeof AudioSampleFormat)[keyof typeof AudioSampleFormat];

const BYTES_PER_SAMPLE: Readonly<Record<AudioSampleFormat, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4 };

export interface AudioFormat {
  readonly sampleFormat: AudioSampleFormat;
  readonly channels: 1 | 2;
  /** Frames per second, 1–48000. */
  readonly frequency: number;
}

/** What the audio extension tells its owner. */
export interface QemuAudioListener {
  /** The server acknowledged -259: `setFormat` and `enable` may now be used. */
  audioAvailable?(): void;
  /** A stream starts; its data will be in `format`. */
  streamBegan?(format: AudioFormat): void;
  streamEnded?(): void;
  /** Little-endian PCM, a whole number of frames of `format`; the array is the owner's. */
  audioData?(pcm: Uint8Array, format: AudioFormat): void;
  /** The connection ended (after audioAvailable): no more audio until the next ack. */
  audioUnavailable?(): void;
}

/** QEMU's audio operations, client to server (ui/vnc.h VNC_MSG_CLIENT_QEMU_AUDIO_*). */
const ClientOp = { Enable: 0, Disable: 1, SetFormat: 2 } as const;
/** And server to client (ui/vnc.h VNC_MSG_SERVER_QEMU_AUDIO_*). */
const ServerOp = { End: 0, Begin: 1, Data: 2 } as const;

/** QEMU ui/vnc.c refuses higher rates. */
export const MAX_AUDIO_FREQUENCY = 48000;
/**
 * The largest DATA message accepted. QEMU sends one mixing buffer per message (a few KiB:
 * audio_capture() gets what the mixer produced since the last call); 1 MiB is seconds of
 * 48 kHz stereo S32, far beyond any buffer, yet bounds what a server can make us hold.
 */
export const MAX_AUDIO_DATA = 1024 * 1024;

function audioMessage(op: number, extra = 0): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(4 + extra);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, ClientMessage.QEMU);
  view.setUint8(1, QEMUClientMessage.Audio);
  view.setUint16(2, op);
  return { bytes, view };
}

/** 255/1 operation 2: the format QEMU should capture in. */
export function qemuAudioSetFormat(format: AudioFormat): Uint8Array {
  const { bytes, view } = audioMessage(ClientOp.SetFormat, 6);
  view.setUint8(4, format.sampleFormat);
  view.setUint8(5, format.channels);
  view.setUint32(6, format.frequency);
  return bytes;
}

export function qemuAudioEnable(): Uint8Array {
  return audioMessage(ClientOp.Enable).bytes;
}

export function qemuAudioDisable(): Uint8Array {
  return audioMessage(ClientOp.Disable).bytes;
}

/** The bytes of one frame (a sample for every channel) of `format`. */
export function audioFrameSize(format: AudioFormat): number {
  return BYTES_PER_SAMPLE[format.sampleFormat] * format.channels;
}

function checkFormat(format: AudioFormat): void {
  if (!Object.hasOwn(BYTES_PER_SAMPLE, format.sampleFormat))
    throw new ProtocolError("invalid-argument", `audio sample format ${format.sampleFormat} does not exist (0–5)`);
  if ((format.channels as number) !== 1 && (format.channels as number) !== 2)
    throw new ProtocolError("invalid-argument", `audio must have 1 or 2 channels, not ${format.channels}`);
  if (!Number.isInteger(format.frequency) || format.frequency < 1 || format.frequency > MAX_AUDIO_FREQUENCY)
    throw new ProtocolError(
      "invalid-argument",
      `an audio frequency of ${format.frequency} Hz is outside 1–${MAX_AUDIO_FREQUENCY} Hz, which QEMU refuses`,
    );
}

export class QemuAudioExtension implements Extension {
  readonly pseudoEncodings: readonly number[] = [Encoding.QEMUAudio];
  readonly qemuSubtypes: readonly number[] = [QEMUClientMessage.Audio];
  readonly #listener: QemuAudioListener;
  #host: ExtensionHost | null = null;
  #acknowledged = false;
  /** The format last sent with set-format. */
  #format: AudioFormat | null = null;
  #enabled = false;
  /**
   * The format data arrives in: the one in force at the last enable. It outlives disable,
   * since data already on its way still comes (rfbproto notes the race).
   */
  #streamFormat: AudioFormat | null = null;

  constructor(listener: QemuAudioListener = {}) {
    this.#listener = listener;
  }

  /** Whether the server acknowledged -259 (audio messages may be sent). */
  get available(): boolean {
    return this.#acknowledged;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  get format(): AudioFormat | null {
    return this.#format;
  }

  attach(host: ExtensionHost): void {
    this.#host = host;
  }

  detach(): void {
    const was = this.#acknowledged;
    this.#host = null;
    this.#acknowledged = false;
    this.#format = null;
    this.#enabled = false;
    this.#streamFormat = null;
    if (was) this.#listener.audioUnavailable?.();
  }

  rect(_q: ByteQueue, _rect: Rect): boolean {
    // The ack is an empty rectangle; QEMU repeats it on every SetEncodings listing -259.
    if (!this.#acknowledged) {
      this.#acknowledged = true;
      this.#listener.audioAvailable?.();
    }
    return true;
  }

  /**
   * Chooses the PCM format. Throws on a format QEMU would disconnect for, and while audio
   * is enabled (QEMU keeps capturing in the format of the enable, so later data would not
   * match). Returns false, sending nothing, before the server's ack.
   */
  setFormat(format: AudioFormat): boolean {
    checkFormat(format);
    if (this.#enabled) throw new ProtocolError("invalid-argument", "disable audio before changing its format");
    const host = this.#host;
    if (!host || !this.#acknowledged) return false;
    this.#format = { sampleFormat: format.sampleFormat, channels: format.channels, frequency: format.frequency };
    host.send(qemuAudioSetFormat(this.#format));
    return true;
  }

  /**
   * Starts capture. Throws if no format was set (rfbproto: set it first). Returns false,
   * sending nothing, before the server's ack.
   */
  enable(): boolean {
    const host = this.#host;
    if (!host || !this.#acknowledged) return false;
    const format = this.#format;
    if (!format) throw new ProtocolError("invalid-argument", "set the audio format before enabling audio");
    host.send(qemuAudioEnable());
    this.#enabled = true;
    this.#streamFormat = format;
    return true;
  }

  /** Stops capture; data already sent may still arrive. False before the ack. */
  disable(): boolean {
    const host = this.#host;
    if (!host || !this.#acknowledged) return false;
    host.send(qemuAudioDisable());
    this.#enabled = false;
    return true;
  }

  message(q: ByteQueue): boolean {
    if (!q.has(4)) return false;
    const op = q.peekU16(2);
    switch (op) {
      case ServerOp.End:
        q.skip(4);
        this.#listener.streamEnded?.();
        return true;
      case ServerOp.Begin: {
        const format = this.#requireStreamFormat("an audio stream began");
        q.skip(4);
        this.#listener.streamBegan?.(format);
        return true;
      }
      case ServerOp.Data: {
        if (!q.has(8)) return false;
        const length = q.peekU32(4);
        if (length > MAX_AUDIO_DATA)
          throw new ProtocolError(
            "limit",
            `the server sent ${length} bytes of audio at once (limit ${MAX_AUDIO_DATA})`,
          );
        const format = this.#requireStreamFormat("audio data arrived");
        const frame = audioFrameSize(format);
        if (length % frame !== 0)
          throw new ProtocolError(
            "malformed",
            `the server sent ${length} bytes of audio, not a whole number of ${frame}-byte frames`,
          );
        if (!q.has(8 + length)) return false;
        q.skip(8);
        // A copy: the queue's bytes are only valid until its next push.
        this.#listener.audioData?.(q.takeBytes(length), format);
        return true;
      }
      default:
        throw new ProtocolError("malformed", `the server sent audio operation ${op}, which does not exist`);
    }
  }

  #requireStreamFormat(what: string): AudioFormat {
    if (!this.#streamFormat) throw new ProtocolError("malformed", `${what} although this client never enabled audio`);
    return this.#streamFormat;
  }
}
