import { ProtocolError } from "../../src/protocol/errors.js";
import { formatVersion, negotiateVersion, parseVersion } from "../../src/protocol/version.js";
import { ascii } from "./helpers.js";

describe("ProtocolVersion", () => {
  it("parses the versions real servers send", () => {
    expect(parseVersion(ascii("RFB 003.008\n"))).toEqual({ major: 3, minor: 8 });
    expect(parseVersion(ascii("RFB 003.889\n"))).toEqual({ major: 3, minor: 889 });
    expect(parseVersion(ascii("RFB 004.001\n"))).toEqual({ major: 4, minor: 1 });
  });

  it("rejects anything that is not a version message", () => {
    for (const bad of ["RFB 003.008 ", "RFB 3.8\n\n\n\n\n", "SSH-2.0-Open", "RFB 003.00a\n", "HTTP/1.1 200"]) {
      expect(() => parseVersion(ascii(bad.padEnd(12, "\0").slice(0, 12)))).toThrowMatching(
        (e: unknown) => e instanceof ProtocolError && e.code === "malformed",
      );
    }
    expect(() => parseVersion(ascii("RFB 003.008"))).toThrowError(ProtocolError);
  });

  it("answers with the highest version both sides speak", () => {
    const answer = (major: number, minor: number) => negotiateVersion({ major, minor });
    expect(answer(3, 8)).toEqual({ major: 3, minor: 8 });
    expect(answer(3, 7)).toEqual({ major: 3, minor: 7 });
    expect(answer(3, 5)).toEqual({ major: 3, minor: 3 }); // RFC 6143: 3.5 is 3.3
    expect(answer(3, 889)).toEqual({ major: 3, minor: 8 });
    expect(answer(4, 1)).toEqual({ major: 3, minor: 8 });
    expect(() => answer(3, 2)).toThrowMatching((e: unknown) => e instanceof ProtocolError && e.code === "unsupported");
    expect(() => answer(2, 0)).toThrowError(ProtocolError);
  });

  it("formats the 12-byte reply", () => {
    expect(formatVersion({ major: 3, minor: 8 })).toEqual(ascii("RFB 003.008\n"));
    expect(formatVersion({ major: 3, minor: 3 })).toEqual(ascii("RFB 003.003\n"));
  });
});
