import { ProtocolError } from "../../src/protocol/errors.js";
import { type AudioFormat, AudioSampleFormat } from "../../src/protocol/extensions/qemu-audio.js";
import { toWavSamples, WavEncoder, wavHeader, wavHeaderSize, wavSilence } from "../../src/protocol/wav.js";

const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));
const u16le = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const u32le = (v: number) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

const S16_STEREO_48K: AudioFormat = { sampleFormat: AudioSampleFormat.S16, channels: 2, frequency: 48000 };
const U8_MONO: AudioFormat = { sampleFormat: AudioSampleFormat.U8, channels: 1, frequency: 22050 };

describe("WAV encoding", () => {
  it("writes the canonical 44-byte PCM header for 8- and 16-bit samples", () => {
    // RIFF WAVE with a 16-byte fmt chunk (WAVE_FORMAT_PCM = 1) and the data chunk's size;
    // the RIFF size counts all that follows it: 4 + (8 + 16) + (8 + data).
    expect(Array.from(wavHeader(S16_STEREO_48K, 1920))).toEqual([
      ...ascii("RIFF"),
      ...u32le(36 + 1920),
      ...ascii("WAVE"),
      ...ascii("fmt "),
      ...u32le(16),
      ...u16le(1), // WAVE_FORMAT_PCM
      ...u16le(2), // channels
      ...u32le(48000), // frames per second
      ...u32le(192000), // bytes per second
      ...u16le(4), // bytes per frame
      ...u16le(16), // bits per sample
      ...ascii("data"),
      ...u32le(1920),
    ]);
    expect(wavHeaderSize(S16_STEREO_48K)).toBe(44);
    const u8 = wavHeader(U8_MONO, 0);
    expect(Array.from(u8.subarray(20, 36))).toEqual([
      ...u16le(1),
      ...u16le(1),
      ...u32le(22050),
      ...u32le(22050),
      ...u16le(1),
      ...u16le(8),
    ]);
  });

  it("counts a pad byte in the RIFF size of an odd data chunk", () => {
    expect(Array.from(wavHeader(U8_MONO, 3).subarray(4, 8))).toEqual(u32le(36 + 3 + 1));
    expect(Array.from(wavHeader(U8_MONO, 3).subarray(40, 44))).toEqual(u32le(3));
  });

  it("uses WAVE_FORMAT_EXTENSIBLE with the PCM sub-format for 32-bit samples", () => {
    const format: AudioFormat = { sampleFormat: AudioSampleFormat.S32, channels: 1, frequency: 8000 };
    expect(wavHeaderSize(format)).toBe(68);
    expect(Array.from(wavHeader(format, 8))).toEqual([
      ...ascii("RIFF"),
      ...u32le(60 + 8),
      ...ascii("WAVE"),
      ...ascii("fmt "),
      ...u32le(40),
      ...u16le(0xfffe), // WAVE_FORMAT_EXTENSIBLE
      ...u16le(1),
      ...u32le(8000),
      ...u32le(32000),
      ...u16le(4),
      ...u16le(32),
      ...u16le(22), // cbSize
      ...u16le(32), // valid bits per sample
      ...u32le(0x4), // SPEAKER_FRONT_CENTER
      // KSDATAFORMAT_SUBTYPE_PCM 00000001-0000-0010-8000-00aa00389b71
      ...[0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71],
      ...ascii("data"),
      ...u32le(8),
    ]);
    const stereo = wavHeader({ ...format, sampleFormat: AudioSampleFormat.U32, channels: 2 }, 0);
    expect(Array.from(stereo.subarray(40, 44))).toEqual(u32le(0x3)); // front left | front right
  });

  it("refuses data that would make the file larger than 4 GiB", () => {
    expect(() => wavHeader(S16_STEREO_48K, 0xffffffff - 36)).toThrowMatching(
      (e) => e instanceof ProtocolError && e.code === "limit",
    );
    expect(() => wavHeader(S16_STEREO_48K, 0xffffffff - 36 - 1)).not.toThrow();
    const encoder = new WavEncoder(S16_STEREO_48K);
    // Counted before anything is allocated: 2^30 frames are 4 GiB.
    expect(() => encoder.silence(2 ** 30)).toThrowMatching((e) => e instanceof ProtocolError && e.code === "limit");
    expect(encoder.dataBytes).toBe(0);
  });

  it("flips the top bit of S8, U16 and U32 samples (WAV's 8-bit is unsigned, wider is signed)", () => {
    const f = (sampleFormat: AudioSampleFormat): AudioFormat => ({ sampleFormat, channels: 1, frequency: 8000 });
    expect(Array.from(toWavSamples(Uint8Array.of(0x00, 0x7f, 0x80, 0xff), f(AudioSampleFormat.S8)))).toEqual([
      0x80, 0xff, 0x00, 0x7f,
    ]);
    // U16 little-endian 32768, 65535, 0 are S16 0, 32767, -32768.
    expect(
      Array.from(toWavSamples(Uint8Array.of(0x00, 0x80, 0xff, 0xff, 0x00, 0x00), f(AudioSampleFormat.U16))),
    ).toEqual([0x00, 0x00, 0xff, 0x7f, 0x00, 0x80]);
    expect(Array.from(toWavSamples(Uint8Array.of(0, 0, 0, 0x80, 1, 2, 3, 4), f(AudioSampleFormat.U32)))).toEqual([
      0, 0, 0, 0, 1, 2, 3, 0x84,
    ]);
    for (const same of [AudioSampleFormat.U8, AudioSampleFormat.S16, AudioSampleFormat.S32]) {
      const pcm = Uint8Array.of(0x00, 0x80, 0xff, 0x7f);
      const out = toWavSamples(pcm, f(same));
      expect(Array.from(out)).toEqual(Array.from(pcm));
      expect(out).not.toBe(pcm);
    }
  });

  it("writes silence as WAV's zero level", () => {
    expect(Array.from(wavSilence(U8_MONO, 3))).toEqual([0x80, 0x80, 0x80]);
    expect(Array.from(wavSilence({ ...U8_MONO, sampleFormat: AudioSampleFormat.S8, channels: 2 }, 1))).toEqual([
      0x80, 0x80,
    ]);
    expect(Array.from(wavSilence(S16_STEREO_48K, 2))).toEqual(new Array<number>(8).fill(0));
    expect(Array.from(wavSilence({ sampleFormat: AudioSampleFormat.U32, channels: 1, frequency: 8000 }, 1))).toEqual([
      0, 0, 0, 0,
    ]);
  });

  it("streams: a header for no data first, then the pieces, then the header with their sizes", () => {
    const encoder = new WavEncoder(S16_STEREO_48K);
    expect(Array.from(encoder.header())).toEqual(Array.from(wavHeader(S16_STEREO_48K, 0)));
    const pieces = [
      encoder.samples(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)),
      encoder.silence(3),
      encoder.samples(Uint8Array.of(9, 10, 11, 12)),
      encoder.end(),
    ];
    expect(pieces.map((p) => p.length)).toEqual([8, 12, 4, 0]);
    expect(encoder.dataBytes).toBe(24);
    expect(encoder.frames).toBe(6);
    expect(Array.from(encoder.header())).toEqual(Array.from(wavHeader(S16_STEREO_48K, 24)));
  });

  it("keeps an odd 8-bit mono data chunk even with one more frame of silence", () => {
    const encoder = new WavEncoder(U8_MONO);
    encoder.samples(Uint8Array.of(1, 2, 3));
    expect(Array.from(encoder.end())).toEqual([0x80]);
    expect(encoder.frames).toBe(4);
    expect(Array.from(encoder.header().subarray(4, 8))).toEqual(u32le(36 + 4));
    const even = new WavEncoder(U8_MONO);
    even.samples(Uint8Array.of(1, 2));
    expect(even.end().length).toBe(0);
  });

  it("refuses data that is not whole frames", () => {
    const encoder = new WavEncoder(S16_STEREO_48K);
    expect(() => encoder.samples(Uint8Array.of(1, 2, 3))).toThrowMatching(
      (e) => e instanceof ProtocolError && e.code === "malformed",
    );
    expect(encoder.dataBytes).toBe(0);
  });
});
