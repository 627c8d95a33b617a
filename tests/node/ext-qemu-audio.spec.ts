import { Encoding } from "../../src/protocol/constants.js";
import type { ProtocolError } from "../../src/protocol/errors.js";
import {
  type AudioFormat,
  AudioSampleFormat,
  MAX_AUDIO_DATA,
  QemuAudioExtension,
} from "../../src/protocol/extensions/qemu-audio.js";
import {
  connected,
  everySplit,
  everySplitAfter,
  feed,
  rectHeader,
  type Session,
  u16,
  u32,
  update,
} from "./ext-helpers.js";

const ENCODINGS = [Encoding.Raw, Encoding.QEMUAudio];
const ack = update(rectHeader(0, 0, 0, 0, Encoding.QEMUAudio));
const S16_STEREO: AudioFormat = { sampleFormat: AudioSampleFormat.S16, channels: 2, frequency: 44100 };

/** Each session's PCM arrays as reported, read only once all input is in. */
const pcmOf = new Map<string[], Uint8Array[]>();

const make = (events: string[]) => {
  const pcm: Uint8Array[] = [];
  pcmOf.set(events, pcm);
  return new QemuAudioExtension({
    audioAvailable: () => events.push("available"),
    streamBegan: (f) => events.push(`begin ${f.sampleFormat}/${f.channels}/${f.frequency}`),
    streamEnded: () => events.push("end"),
    audioData: (data, f) => {
      events.push(`data ${f.sampleFormat}`);
      pcm.push(data);
    },
  });
};

// Server messages 255/1: END 0, BEGIN 1, DATA 2 + U32 length + PCM.
const end = [255, 1, ...u16(0)];
const begin = [255, 1, ...u16(1)];
const data = (pcm: number[]) => [255, 1, ...u16(2), ...u32(pcm.length), ...pcm];

function enabled(s: Session<QemuAudioExtension>, format: AudioFormat = S16_STEREO) {
  expect(s.ext.setFormat(format)).toBeTrue();
  expect(s.ext.enable()).toBeTrue();
}

function failsWith(code: ProtocolError["code"], mention: string) {
  return (s: Session<QemuAudioExtension>) => {
    expect(s.error?.code).withContext(mention).toBe(code);
    expect(s.error?.message).withContext(mention).toContain(mention);
    expect(s.client.closed).toBeTrue();
  };
}

describe("QEMU audio", () => {
  it("sends no audio message before the server's ack", () => {
    const s = connected(make, ENCODINGS);
    expect(s.ext.setFormat(S16_STEREO)).toBeFalse();
    expect(s.ext.enable()).toBeFalse();
    expect(s.ext.disable()).toBeFalse();
    expect(s.sent).toEqual([]);
    expect(s.ext.available).toBeFalse();
  });

  it("takes the empty -259 rectangle as the ack at every split point", () => {
    everySplit(make, ENCODINGS, [...ack, ...ack], (s) => {
      expect(s.error).toBeNull();
      expect(s.events).toEqual(["available"]);
      expect(s.ext.available).toBeTrue();
    });
  });

  it("sends set-format, enable and disable as QEMU reads them", () => {
    const s = connected(make, ENCODINGS);
    feed(s, ack);
    s.ext.setFormat(S16_STEREO);
    s.ext.enable();
    s.ext.disable();
    s.ext.setFormat({ sampleFormat: AudioSampleFormat.U8, channels: 1, frequency: 48000 });
    expect(s.sent).toEqual([
      [255, 1, ...u16(2), 3, 2, ...u32(44100)],
      [255, 1, ...u16(0)],
      [255, 1, ...u16(1)],
      [255, 1, ...u16(2), 0, 1, ...u32(48000)],
    ]);
  });

  it("refuses formats QEMU would disconnect for, and enable before set-format", () => {
    const s = connected(make, ENCODINGS);
    feed(s, ack);
    const bad: [AudioFormat, string][] = [
      [{ ...S16_STEREO, sampleFormat: 6 as AudioSampleFormat }, "sample format 6"],
      [{ ...S16_STEREO, channels: 3 as 1 }, "not 3"],
      [{ ...S16_STEREO, frequency: 48001 }, "48001 Hz"],
      [{ ...S16_STEREO, frequency: 0 }, "0 Hz"],
      [{ ...S16_STEREO, frequency: 44100.5 }, "44100.5 Hz"],
    ];
    for (const [format, mention] of bad)
      expect(() => s.ext.setFormat(format)).toThrowMatching(
        (e: ProtocolError) => e.code === "invalid-argument" && e.message.includes(mention),
      );
    expect(() => s.ext.enable()).toThrowMatching((e: Error) => e.message.includes("format before enabling"));
    expect(s.sent).toEqual([]);
    enabled(s);
    expect(() => s.ext.setFormat(S16_STEREO)).toThrowMatching((e: Error) => e.message.includes("disable audio"));
  });

  it("reports a stream's begin, data (copied out of the queue) and end at every split point", () => {
    const tail = [
      ...begin,
      ...data([1, 2, 3, 4, 5, 6, 7, 8]),
      ...update(),
      ...data([]),
      ...end,
      // Data still in flight after a disable is in the format of the enable.
      ...data([9, 10, 11, 12]),
    ];
    everySplitAfter(make, ENCODINGS, ack, enabled, tail, (s) => {
      expect(s.error).toBeNull();
      expect(s.events).toEqual(["available", "begin 3/2/44100", "data 3", "data 3", "end", "data 3"]);
      // Still intact after every later push: the arrays are copies, not views of the queue.
      expect(pcmOf.get(s.events)?.map((a) => Array.from(a))).toEqual([[1, 2, 3, 4, 5, 6, 7, 8], [], [9, 10, 11, 12]]);
    });
  });

  it("checks DATA against the format: whole frames only", () => {
    const u32Mono: AudioFormat = { sampleFormat: AudioSampleFormat.U32, channels: 1, frequency: 8000 };
    everySplitAfter(
      make,
      ENCODINGS,
      ack,
      (s) => enabled(s, u32Mono),
      data([1, 2, 3, 4, 5, 6]),
      failsWith("malformed", "not a whole number of 4-byte frames"),
    );
  });

  it("bounds DATA before waiting for it", () => {
    const header = [255, 1, ...u16(2), ...u32(MAX_AUDIO_DATA + 4)];
    everySplitAfter(make, ENCODINGS, ack, enabled, header, failsWith("limit", `limit ${MAX_AUDIO_DATA}`));
    // The limit itself is fine.
    everySplitAfter(make, ENCODINGS, ack, enabled, [255, 1, ...u16(2), ...u32(MAX_AUDIO_DATA)], (s) =>
      expect(s.error).toBeNull(),
    );
  });

  it("rejects audio the client never enabled and unknown operations", () => {
    everySplit(make, ENCODINGS, [...ack, ...data([0, 0, 0, 0])], failsWith("malformed", "never enabled"));
    everySplit(make, ENCODINGS, [...ack, ...begin], failsWith("malformed", "never enabled"));
    everySplitAfter(make, ENCODINGS, ack, enabled, [255, 1, ...u16(3)], failsWith("malformed", "operation 3"));
  });

  it("forgets the ack and the format when the connection ends", () => {
    const s = connected(make, ENCODINGS);
    feed(s, ack);
    enabled(s);
    s.client.close();
    expect(s.ext.available).toBeFalse();
    expect(s.ext.enabled).toBeFalse();
    expect(s.ext.format).toBeNull();
    expect(s.ext.enable()).toBeFalse();
  });
});
