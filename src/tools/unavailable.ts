// What a program says when asked for work that a later part of the project delivers. It
// fails (exit 1) rather than pretending: no output file, no fake numbers.

export class NotYetAvailable extends Error {
  override name = "NotYetAvailable";

  constructor(what: string, needs: string) {
    super(`${what} is not available in this build: it needs ${needs}, which is not built yet`);
  }
}
