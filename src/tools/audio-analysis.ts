// What recorded PCM says about a tone: its frequency, the silent gaps inside a stretch that
// should sound without a break, pieces lost or repeated without a gap (phase jumps of a
// steady tone), and the on/off stretches of a pattern. Pure (no GI, no node): porthole-bench
// audio measures the viewers' recordings with it, tests/node/audio-analysis.spec.ts checks it
// on synthetic signals, and the GJS specs (through tests/gjs/audio-analysis.ts) use it on
// real recordings (porthole-capture's WAV, PulseAudio's monitor).
// Sample positions are indices into the one-channel array given; divide by the rate for
// seconds.

/** One channel's samples: a typed array or an array of numbers. */
export type Samples = ArrayLike<number> & Iterable<number>;

/** A stretch of samples, [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** Channel `channel` of interleaved `samples` with `channels` channels. */
export function channelOf(samples: Int16Array, channels: number, channel = 0): Int16Array {
  if (!Number.isInteger(channels) || channels < 1 || channel < 0 || channel >= channels)
    throw new Error(`no channel ${channel} of ${channels}`);
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels + channel] ?? 0;
  return out;
}

/** Little-endian s16 bytes (a WAV's or parec's data) as samples, copied. */
export function s16le(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length >> 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

function peak(samples: Samples): number {
  let max = 0;
  for (const v of samples) max = Math.max(max, Math.abs(v));
  return max;
}

/**
 * The rising zero crossings of a periodic signal, in samples, each placed between its two
 * samples by linear interpolation. A crossing counts only after the signal went below
 * −`hysteresis` (default 10% of the stretch's peak), so noise around zero cannot add any.
 */
export function risingCrossings(samples: Samples, hysteresis?: number): number[] {
  const h = hysteresis ?? peak(samples) / 10;
  const crossings: number[] = [];
  let armed = false;
  for (let i = 1; i < samples.length; i++) {
    const x = samples[i] ?? 0;
    const prev = samples[i - 1] ?? 0;
    if (x < -h) armed = true;
    else if (armed && prev < 0 && x >= 0) {
      crossings.push(i - 1 + -prev / (x - prev));
      armed = false;
    }
  }
  return crossings;
}

/**
 * The frequency of a periodic signal from its rising zero crossings (risingCrossings):
 * (crossings − 1) periods between the first and the last. For a clean tone over 1 s at
 * 48 kHz the error is a small fraction of a sample per second, far below 0.1%. NaN when
 * there are fewer than two crossings.
 */
export function zeroCrossingFrequency(samples: Samples, rate: number, hysteresis?: number): number {
  const crossings = risingCrossings(samples, hysteresis);
  const first = crossings[0] ?? NaN;
  const last = crossings[crossings.length - 1] ?? NaN;
  return crossings.length < 2 ? NaN : ((crossings.length - 1) * rate) / (last - first);
}

/**
 * Where a tone of `frequency` loses its rhythm: the rising crossings that come more than
 * `toleranceSamples` (default 2) earlier or later than one period after the previous one.
 * A lost or repeated piece of a steady tone shows here even when it leaves no silence
 * (dropping 487 frames of a 500 Hz tone at 48 kHz moves the phase by 7 samples), while
 * resampling moves crossings by a fraction of a sample.
 */
export function phaseJumps(samples: Samples, rate: number, frequency: number, toleranceSamples = 2): number[] {
  const period = rate / frequency;
  const crossings = risingCrossings(samples);
  const jumps: number[] = [];
  for (let i = 1; i < crossings.length; i++) {
    const at = crossings[i] ?? 0;
    if (Math.abs(at - (crossings[i - 1] ?? 0) - period) > toleranceSamples) jumps.push(at);
  }
  return jumps;
}

/**
 * The amplitude of the `frequency` component of `samples` (Goertzel's algorithm, a single
 * DFT term at any frequency): a sine of amplitude A gives ≈ A, a square wave of amplitude A
 * ≈ 4A/π at its fundamental.
 */
export function goertzelAmplitude(samples: Samples, rate: number, frequency: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const w = (2 * Math.PI * frequency) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = (samples[i] ?? 0) + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const re = s1 - s2 * Math.cos(w);
  const im = s2 * Math.sin(w);
  return (2 * Math.hypot(re, im)) / n;
}

/**
 * The frequency of the strongest component between `minHz` and `maxHz` (default 50–5000),
 * found by Goertzel scans that narrow down: first over a quarter-second excerpt in steps of
 * 2 Hz, then, over excerpts four times longer each time, ±1 resolution (rate / excerpt
 * length) of the previous stage around its best in steps of a tenth of the new one, ending
 * on the whole stretch. Accurate to a few hundredths of a Hz for a second or more of a clean
 * tone; each stage costs about 80 Goertzel terms over its excerpt.
 */
export function dominantFrequency(
  samples: Samples,
  rate: number,
  { minHz = 50, maxHz = 5000 }: { minHz?: number; maxHz?: number } = {},
): number {
  const excerpt = (length: number): Samples => {
    if (length >= samples.length) return samples;
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) out[i] = samples[i] ?? 0;
    return out;
  };
  const best = (data: Samples, from: number, to: number, step: number): number => {
    let bestF = from;
    let bestA = -1;
    for (let f = Math.max(minHz, from); f <= Math.min(maxHz, to) + 1e-9; f += step) {
      const a = goertzelAmplitude(data, rate, f);
      if (a > bestA) {
        bestA = a;
        bestF = f;
      }
    }
    return bestF;
  };
  let length = Math.min(samples.length, Math.round(rate / 4));
  let f = best(excerpt(length), minHz, maxHz, 2);
  let resolution = rate / length;
  while (length < samples.length) {
    length = Math.min(samples.length, length * 4);
    const data = excerpt(length);
    const next = rate / length;
    f = best(data, f - resolution, f + resolution, next / 10);
    resolution = next;
  }
  return f;
}

/**
 * The runs of at least `minMs` where every sample's magnitude is at most `threshold`
 * (default 1% of full scale, 327): silences. A square wave crosses zero between two samples,
 * and a sine spends a fraction of a sample near zero, so only real silences qualify.
 */
export function findGaps(samples: Samples, rate: number, minMs: number, threshold = 327): Span[] {
  const minLength = Math.max(1, Math.ceil((minMs / 1000) * rate));
  const gaps: Span[] = [];
  let start = -1;
  for (let i = 0; i <= samples.length; i++) {
    const quiet = i < samples.length && Math.abs(samples[i] ?? 0) <= threshold;
    if (quiet && start < 0) start = i;
    else if (!quiet && start >= 0) {
      if (i - start >= minLength) gaps.push({ start, end: i });
      start = -1;
    }
  }
  return gaps;
}

/**
 * The stretches where the signal sounds: each from a sample louder than `threshold` to the
 * end of the last loud one before a run of at least `minSilenceMs` without any (see
 * findGaps), or the end of the data. Quiet samples at either end of the data belong to no
 * span. With minSilenceMs above any drop-out but below the pattern's pauses, each span is
 * one tone-on stretch.
 */
export function findSegments(samples: Samples, rate: number, minSilenceMs: number, threshold = 327): Span[] {
  const minLength = Math.max(1, Math.ceil((minSilenceMs / 1000) * rate));
  const segments: Span[] = [];
  let start = -1;
  let lastLoud = -1;
  for (let i = 0; i < samples.length; i++) {
    if (Math.abs(samples[i] ?? 0) <= threshold) continue;
    if (start < 0) start = i;
    else if (i - lastLoud - 1 >= minLength) {
      segments.push({ start, end: lastLoud + 1 });
      start = i;
    }
    lastLoud = i;
  }
  if (start >= 0) segments.push({ start, end: lastLoud + 1 });
  return segments;
}

/** `span` without `marginMs` at either end: its steady part (empty if it is too short). */
export function steadyPart(span: Span, rate: number, marginMs: number): Span {
  const margin = Math.round((marginMs / 1000) * rate);
  const start = span.start + margin;
  return { start, end: Math.max(start, span.end - margin) };
}

export function seconds(span: Span, rate: number): number {
  return (span.end - span.start) / rate;
}

/** The samples of `span`. */
export function slice(samples: Int16Array, span: Span): Int16Array {
  return samples.subarray(span.start, span.end);
}
