// Where tests/fixtures is: meson passes it in PORTHOLE_FIXTURES; ad-hoc runs from the
// repository root find it relative to the working directory.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = process.env.PORTHOLE_FIXTURES ?? join(process.cwd(), "tests/fixtures");

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, name)));
}
