import { createHash } from "node:crypto";

import { parseRecordingInfo, replay } from "../../src/tools/recording.js";
import { fixture } from "./fixtures.js";

const RECORDINGS = ["desktop-1280x800-xvnc-tight", "scroll-1280x800-xvnc-zrle", "slides-1280x800-xvnc-hextile"];

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// Public recordings of real servers (docs/recording.md): the state after the last complete
// update must hash to the sidecar's finalSha256 whatever sizes the input arrives in.
describe("recordings from real servers", () => {
  for (const name of RECORDINGS) {
    describe(name, () => {
      const bytes = fixture(`recordings/${name}.rfb`);
      const info = parseRecordingInfo(JSON.parse(new TextDecoder().decode(fixture(`recordings/${name}.json`))));

      it("decodes every update to the recorded final framebuffer", () => {
        const first = replay(bytes, info);
        expect(first.framebufferUpdates).toBe(info.framebufferUpdates);
        const complete = replay(bytes.subarray(0, first.completeBytes), info);
        expect(complete.framebufferUpdates).toBe(info.framebufferUpdates);
        expect([complete.framebuffer.width, complete.framebuffer.height]).toEqual([info.width, info.height]);
        expect(sha256(complete.framebuffer.bytes)).toBe(info.finalSha256);
      });

      it("gives the same framebuffer for any chunking of the input", () => {
        const { completeBytes } = replay(bytes, info);
        const complete = bytes.subarray(0, completeBytes);
        for (const chunk of [1, 7, 1000, 1 << 20]) {
          // One byte at a time costs seconds on the large recordings: use it on the small one.
          if (chunk === 1 && bytes.length > 200_000) continue;
          expect(sha256(replay(complete, info, null, chunk).framebuffer.bytes))
            .withContext(`chunks of ${chunk} bytes`)
            .toBe(info.finalSha256);
        }
      });
    });
  }
});
