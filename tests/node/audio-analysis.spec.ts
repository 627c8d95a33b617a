// The audio specs' measuring tools (tests/gjs/audio-analysis.ts) on signals made here, whose
// frequency, gaps and stretches are known exactly.

import {
  channelOf,
  dominantFrequency,
  findGaps,
  findSegments,
  goertzelAmplitude,
  phaseJumps,
  risingCrossings,
  s16le,
  steadyPart,
  zeroCrossingFrequency,
} from "../gjs/audio-analysis.js";

const RATE = 48000;

function sine(hz: number, secondsLong: number, amplitude = 10000, phase = 0.3): Int16Array {
  return Int16Array.from({ length: Math.round(secondsLong * RATE) }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / RATE + phase)),
  );
}

/** A square wave as QEMU's speaker makes it: ±amplitude, switching between two samples. */
function square(hz: number, secondsLong: number, amplitude = 24576): Int16Array {
  return Int16Array.from({ length: Math.round(secondsLong * RATE) }, (_, i) =>
    (hz * i) / RATE + 0.1 - Math.floor((hz * i) / RATE + 0.1) < 0.5 ? amplitude : -amplitude,
  );
}

/** A deterministic noise in [-1, 1). */
function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 1073741824 - 1;
  };
}

const relative = (value: number, expected: number) => Math.abs(value / expected - 1);

describe("audio analysis", () => {
  describe("zeroCrossingFrequency", () => {
    it("measures sines and square waves to within 0.01% over one second", () => {
      for (const hz of [440, 437.3, 500, 1234.5]) {
        expect(relative(zeroCrossingFrequency(sine(hz, 1), RATE), hz))
          .withContext(`sine ${hz}`)
          .toBeLessThan(1e-4);
        expect(relative(zeroCrossingFrequency(square(hz, 1), RATE), hz))
          .withContext(`square ${hz}`)
          .toBeLessThan(1e-4);
      }
    });

    it("is not fooled by noise around the zero line", () => {
      const next = noise(7);
      const noisy = sine(440, 1).map((v) => v + Math.round(next() * 800));
      expect(relative(zeroCrossingFrequency(noisy, RATE), 440)).toBeLessThan(1e-3);
      // Without the hysteresis, the same noise adds crossings.
      expect(relative(zeroCrossingFrequency(noisy, RATE, 0), 440)).toBeGreaterThan(0.05);
    });

    it("says NaN when there is no period to measure", () => {
      expect(zeroCrossingFrequency(new Int16Array(4800), RATE)).toBeNaN();
    });
  });

  describe("risingCrossings and phaseJumps", () => {
    it("place crossings between samples and find where a steady tone loses its rhythm", () => {
      // 500 Hz at 48 kHz: 96 samples a period; the square wave rises at 0.9 periods, i.e.
      // between samples 86 and 87 (−A to +A: halfway), then every 96 samples.
      const crossings = risingCrossings(square(500, 0.1));
      expect(crossings.length).toBe(50);
      crossings.forEach((c, i) => {
        expect(c).toBe(86.5 + 96 * i);
      });
      const whole = square(500, 1);
      expect(phaseJumps(whole, RATE, 500)).toEqual([]);
      // Drop 487 frames (one of QEMU's DATA messages) at 0.5 s: one period is 7 samples short.
      const dropped = Int16Array.from([...whole.subarray(0, 24000), ...whole.subarray(24487)]);
      const jumps = phaseJumps(dropped, RATE, 500);
      expect(jumps.length).toBe(1);
      expect(jumps[0]).toBeGreaterThan(24000);
      expect(jumps[0]).toBeLessThan(24000 + 96);
      // Whole periods lost leave no trace: 480 frames are 5 periods.
      expect(phaseJumps(Int16Array.from([...whole.subarray(0, 24000), ...whole.subarray(24480)]), RATE, 500)).toEqual(
        [],
      );
    });
  });

  describe("dominantFrequency and goertzelAmplitude", () => {
    it("find the strongest component and its amplitude", () => {
      const mix = sine(440, 1).map((v, i) => v + Math.round(3000 * Math.sin((2 * Math.PI * 1000 * i) / RATE)));
      expect(relative(dominantFrequency(mix, RATE), 440)).toBeLessThan(1e-4);
      expect(goertzelAmplitude(mix, RATE, 440)).toBeCloseTo(10000, -1);
      expect(goertzelAmplitude(mix, RATE, 1000)).toBeCloseTo(3000, -1);
      expect(goertzelAmplitude(mix, RATE, 700)).toBeLessThan(30);
      // A square wave's fundamental is 4/π of its amplitude and beats its harmonics.
      const sq = square(500, 6);
      expect(relative(dominantFrequency(sq, RATE), 500)).toBeLessThan(1e-4);
      expect(relative(goertzelAmplitude(sq, RATE, 500), (4 / Math.PI) * 24576)).toBeLessThan(0.01);
    });

    it("tells a tone 1% off from the expected one", () => {
      expect(relative(dominantFrequency(sine(505, 1), RATE), 500)).toBeGreaterThan(0.009);
      expect(relative(dominantFrequency(sine(505, 0.3), RATE), 505)).toBeLessThan(1e-3);
    });
  });

  describe("findGaps", () => {
    it("finds runs of silence at least as long as asked, and only those", () => {
      const signal = square(500, 2);
      signal.fill(0, 24000, 24000 + 1200); // 25 ms
      signal.fill(5, 60000, 60000 + 720); // 15 ms of near-silence
      expect(findGaps(signal, RATE, 20)).toEqual([{ start: 24000, end: 25200 }]);
      expect(findGaps(signal, RATE, 10)).toEqual([
        { start: 24000, end: 25200 },
        { start: 60000, end: 60720 },
      ]);
      expect(findGaps(signal, RATE, 30)).toEqual([]);
    });

    it("finds none in an unbroken square wave or sine, however short the gap asked for", () => {
      expect(findGaps(square(500, 1), RATE, 0.05)).toEqual([]);
      expect(findGaps(sine(440, 1), RATE, 0.05)).toEqual([]);
    });

    it("counts a silence at the very end", () => {
      const signal = square(500, 1);
      signal.fill(0, RATE - 1000);
      expect(findGaps(signal, RATE, 20)).toEqual([{ start: RATE - 1000, end: RATE }]);
    });
  });

  describe("findSegments", () => {
    it("splits a pattern at its pauses, not at short drop-outs, and leaves out silence at the ends", () => {
      const signal = new Int16Array(4 * RATE);
      signal.set(square(500, 1), 0.25 * RATE);
      signal.set(square(500, 1.5), 2 * RATE);
      signal.fill(0, 0.5 * RATE, 0.5 * RATE + 1440); // a 30 ms drop-out
      expect(findSegments(signal, RATE, 200)).toEqual([
        { start: 0.25 * RATE, end: 1.25 * RATE },
        { start: 2 * RATE, end: 3.5 * RATE },
      ]);
      expect(findSegments(signal, RATE, 20).length).toBe(3);
      expect(findSegments(new Int16Array(RATE), RATE, 200)).toEqual([]);
    });

    it("gives the steady part of a segment", () => {
      expect(steadyPart({ start: 1000, end: 49000 }, RATE, 100)).toEqual({ start: 5800, end: 44200 });
      expect(steadyPart({ start: 1000, end: 5000 }, RATE, 100)).toEqual({ start: 5800, end: 5800 });
    });
  });

  it("reads s16le bytes and separates interleaved channels", () => {
    const samples = s16le(Uint8Array.of(0x01, 0x00, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f));
    expect(Array.from(samples)).toEqual([1, -1, -32768, 32767]);
    expect(Array.from(channelOf(samples, 2, 0))).toEqual([1, -32768]);
    expect(Array.from(channelOf(samples, 2, 1))).toEqual([-1, 32767]);
    expect(() => channelOf(samples, 2, 2)).toThrow();
  });
});
