import { Encoding } from "../../src/protocol/constants.js";
import { XvpExtension } from "../../src/protocol/extensions/xvp.js";
import { connected, everySplit, feed, rectHeader, update } from "./ext-helpers.js";

const ENCODINGS = [Encoding.Raw, Encoding.Xvp];

const make = (events: string[]) =>
  new XvpExtension({
    xvpAvailable: (v) => events.push(`available v${v}`),
    powerActionFailed: () => events.push("failed"),
  });

// xvp server message: 250, padding, version, code (0 XVP_FAIL, 1 XVP_INIT).
const init = (version: number) => [250, 0, version, 1];
const fail = [250, 0, 1, 0];

describe("xvp", () => {
  it("takes XVP_INIT as the server's ack and reports failures, at every split point", () => {
    everySplit(make, ENCODINGS, [...update(), ...init(1), 2, ...fail], (s) => {
      expect(s.error).toBeNull();
      expect(s.events).toEqual(["available v1", "failed"]);
      expect(s.ext.available).toBeTrue();
    });
  });

  it("sends power requests with version 1 only after XVP_INIT", () => {
    const s = connected(make, ENCODINGS);
    expect(s.ext.power("reset")).toBeFalse();
    expect(s.sent).toEqual([]);
    // A server speaking a later version still takes version 1 (rfbproto).
    feed(s, init(3));
    expect(s.ext.power("shutdown")).toBeTrue();
    s.ext.power("reboot");
    s.ext.power("reset");
    expect(s.sent).toEqual([
      [250, 0, 1, 2],
      [250, 0, 1, 3],
      [250, 0, 1, 4],
    ]);
    s.client.close();
    expect(s.ext.available).toBeFalse();
    expect(s.ext.power("reset")).toBeFalse();
  });

  it("rejects undefined codes and version 0", () => {
    for (const [bytes, mention] of [
      [[250, 0, 1, 7], "code 7"],
      [init(0), "version 0"],
    ] as const)
      everySplit(make, ENCODINGS, bytes, (s) => {
        expect(s.error?.code).toBe("malformed");
        expect(s.error?.message).toContain(mention);
        expect(s.events).toEqual([]);
      });
  });

  it("does not take a -309 rectangle for the ack: rfbproto defines none", () => {
    everySplit(make, ENCODINGS, update(rectHeader(0, 0, 0, 0, Encoding.Xvp)), (s) => {
      expect(s.error?.message).toContain("encoding -309");
      expect(s.ext.available).toBeFalse();
    });
  });
});
