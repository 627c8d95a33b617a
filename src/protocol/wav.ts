// WAV (RIFF/WAVE) encoding of the PCM that QEMU audio delivers, for porthole-capture --audio.
// Pure: the caller writes the bytes this returns, then rewrites the header once the size is
// known (a streamed WAV cannot know its data size up front; the header's sizes are patched
// when the file is finished).
//
// Layout (Microsoft "Multimedia Programming Interface and Data Specifications 1.0", RIFF
// WAVE; "Multiple Channel Audio Data and WAVE Files" for WAVE_FORMAT_EXTENSIBLE), every
// number little-endian:
//   "RIFF" U32 riffSize "WAVE"
//   "fmt " U32 16|40  U16 formatTag U16 channels U32 sampleRate U32 byteRate
//                     U16 blockAlign U16 bitsPerSample [U16 cbSize=22 U16 validBits
//                     U32 channelMask GUID subFormat]
//   "data" U32 dataSize  PCM…  [a pad byte when dataSize is odd]
// riffSize counts everything after itself, pad byte included. WavEncoder keeps the data
// chunk even instead of padding it (see its end()).
//
// WAV's sample encoding is fixed by the sample size: 8-bit samples are unsigned (silence
// 0x80), wider ones signed two's complement. QEMU's S8, U16 and U32 are therefore converted
// (the top bit flipped); U8, S16 and S32 are written as received. 32-bit samples use
// WAVE_FORMAT_EXTENSIBLE, which that document requires for more than 16 bits per sample;
// 8- and 16-bit ones use plain WAVE_FORMAT_PCM, which every reader knows.

import { ProtocolError } from "./errors.js";
import { type AudioFormat, AudioSampleFormat, audioFrameSize } from "./extensions/qemu-audio.js";

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_PCM, 00000001-0000-0010-8000-00aa00389b71, in its byte order on disk. */
const SUBTYPE_PCM = [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
/** SPEAKER_FRONT_CENTER for mono, SPEAKER_FRONT_LEFT | SPEAKER_FRONT_RIGHT for stereo. */
const CHANNEL_MASK = { 1: 0x4, 2: 0x3 } as const;

/** RIFF sizes are U32: the data may not make the file larger than 4 GiB. */
const MAX_RIFF_SIZE = 0xffffffff;

function sampleBytes(format: AudioFormat): number {
  return audioFrameSize(format) / format.channels;
}

function extensible(format: AudioFormat): boolean {
  return sampleBytes(format) > 2;
}

/** The size of the header before the PCM: 44 bytes, 68 for 32-bit samples. */
export function wavHeaderSize(format: AudioFormat): number {
  return extensible(format) ? 68 : 44;
}

/** The RIFF chunk's size for `dataBytes` of PCM; throws if the file would exceed 4 GiB. */
function riffSize(format: AudioFormat, dataBytes: number): number {
  const size = wavHeaderSize(format) - 8 + dataBytes + (dataBytes % 2);
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || size > MAX_RIFF_SIZE)
    throw new ProtocolError("limit", `${dataBytes} bytes of audio do not fit in a WAV file (4 GiB at most)`);
  return size;
}

/** The header of a WAV file whose data chunk holds `dataBytes` bytes of PCM. */
export function wavHeader(format: AudioFormat, dataBytes: number): Uint8Array {
  const size = wavHeaderSize(format);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) view.setUint8(at + i, text.charCodeAt(i));
  };
  const frame = audioFrameSize(format);
  ascii(0, "RIFF");
  view.setUint32(4, riffSize(format, dataBytes), true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, extensible(format) ? 40 : 16, true);
  view.setUint16(20, extensible(format) ? WAVE_FORMAT_EXTENSIBLE : WAVE_FORMAT_PCM, true);
  view.setUint16(22, format.channels, true);
  view.setUint32(24, format.frequency, true);
  view.setUint32(28, format.frequency * frame, true);
  view.setUint16(32, frame, true);
  view.setUint16(34, sampleBytes(format) * 8, true);
  let at = 36;
  if (extensible(format)) {
    view.setUint16(36, 22, true);
    view.setUint16(38, sampleBytes(format) * 8, true);
    view.setUint32(40, CHANNEL_MASK[format.channels], true);
    bytes.set(SUBTYPE_PCM, 44);
    at = 60;
  }
  ascii(at, "data");
  view.setUint32(at + 4, dataBytes, true);
  return bytes;
}

/**
 * QEMU's little-endian PCM in `format` as WAV stores it: a copy with the top bit of every
 * sample flipped for S8, U16 and U32, the bytes as they are otherwise.
 */
export function toWavSamples(pcm: Uint8Array, format: AudioFormat): Uint8Array {
  const out = pcm.slice();
  const width = sampleBytes(format);
  const flip =
    format.sampleFormat === AudioSampleFormat.S8 ||
    format.sampleFormat === AudioSampleFormat.U16 ||
    format.sampleFormat === AudioSampleFormat.U32;
  if (flip) for (let i = width - 1; i < out.length; i += width) out[i] = (out[i] ?? 0) ^ 0x80;
  return out;
}

/** `frames` of silence as WAV stores them (0x80 for 8-bit samples, zeros otherwise). */
export function wavSilence(format: AudioFormat, frames: number): Uint8Array {
  const out = new Uint8Array(frames * audioFrameSize(format));
  if (sampleBytes(format) === 1) out.fill(0x80);
  return out;
}

/**
 * Keeps count of the PCM written after the header: `header()` first (sizes of what has been
 * counted so far), then `samples()` and `silence()` for each piece in order, then `end()`
 * and `header()` again to overwrite the first one.
 */
export class WavEncoder {
  readonly format: AudioFormat;
  #dataBytes = 0;

  constructor(format: AudioFormat) {
    this.format = format;
  }

  /** PCM bytes counted so far. */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** Frames counted so far. */
  get frames(): number {
    return this.#dataBytes / audioFrameSize(this.format);
  }

  header(): Uint8Array {
    return wavHeader(this.format, this.#dataBytes);
  }

  /** A DATA payload (whole frames of `format`) as WAV samples. Throws past 4 GiB. */
  samples(pcm: Uint8Array): Uint8Array {
    const frame = audioFrameSize(this.format);
    if (pcm.length % frame !== 0)
      throw new ProtocolError("malformed", `${pcm.length} bytes of audio are not whole ${frame}-byte frames`);
    this.#count(pcm.length);
    return toWavSamples(pcm, this.format);
  }

  silence(frames: number): Uint8Array {
    if (!Number.isInteger(frames) || frames < 0)
      throw new ProtocolError("invalid-argument", `${frames} is not a number of frames`);
    this.#count(frames * audioFrameSize(this.format));
    return wavSilence(this.format, frames);
  }

  /**
   * The bytes that close the data chunk. RIFF chunks are word-aligned, so an odd-sized one
   * (only 8-bit mono can be odd) needs one more byte; measured: GStreamer 1.22's wavparse
   * reads nothing at all from a file whose odd data chunk is followed by the standard pad
   * byte (it looks for a chunk header after it and gives up), while it reads an even one.
   * So the pad is one more frame of silence, counted in the data.
   */
  end(): Uint8Array {
    return this.#dataBytes % 2 === 1 ? this.silence(1) : new Uint8Array(0);
  }

  #count(bytes: number): void {
    riffSize(this.format, this.#dataBytes + bytes);
    this.#dataBytes += bytes;
  }
}
