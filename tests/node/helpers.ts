// Helpers shared by the protocol specs.

/** Every way to cut `bytes` into two pieces, plus one byte at a time. */
export function* splits(bytes: Uint8Array): Generator<Uint8Array[]> {
  for (let i = 0; i <= bytes.length; i++) yield [bytes.subarray(0, i), bytes.subarray(i)];
  yield Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1));
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}
