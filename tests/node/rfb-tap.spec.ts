import { Encoding } from "../../src/protocol/constants.js";
import * as msg from "../../src/protocol/messages.js";
import { DEFAULT_PIXEL_FORMAT, type PixelFormat } from "../../src/protocol/pixel-format.js";
import { formatVersion } from "../../src/protocol/version.js";
import { RfbTap } from "../../src/tools/rfb-tap.js";
import { HANDSHAKE, rectHeader, u32, update } from "./ext-helpers.js";
import { ascii, splits } from "./helpers.js";

const bytes = (...parts: (Uint8Array | readonly number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => Array.from(p)));

const RGB565: PixelFormat = {
  bitsPerPixel: 16,
  depth: 16,
  bigEndian: true,
  trueColour: true,
  redMax: 31,
  greenMax: 63,
  blueMax: 31,
  redShift: 11,
  greenShift: 5,
  blueShift: 0,
};

// ext-helpers' HANDSHAKE is the server's side up to ServerInit, cut where the viewer answers.
const SERVER_VERSION = HANDSHAKE.slice(0, 12);
const SERVER_TYPES = HANDSHAKE.slice(12, 14);
const SERVER_RESULT_AND_INIT = HANDSHAKE.slice(14);

/** A 2×2 Raw rectangle at `bpp` bytes per pixel. */
const raw2x2 = (bpp: number) => [...rectHeader(0, 0, 2, 2, Encoding.Raw), ...new Array<number>(4 * bpp).fill(0x11)];

interface Conversation {
  readonly tap: RfbTap;
  readonly events: string[];
}

/**
 * Plays a connection through a tap in wire order: the handshake, then the viewer's
 * `setup` messages, then the server's `updates` in the given chunks.
 */
function converse(
  viewer: { version?: string; security?: number; setup: Uint8Array },
  updates: readonly Uint8Array[],
): Conversation {
  const events: string[] = [];
  const tap = new RfbTap(null, {
    updateComplete: () => events.push("update"),
    failed: (e) => events.push(`failed: ${e.message}`),
  });
  tap.fromServer(Uint8Array.from(SERVER_VERSION));
  tap.fromClient(ascii(viewer.version ?? "RFB 003.008\n"));
  tap.fromServer(Uint8Array.from(SERVER_TYPES));
  tap.fromClient(Uint8Array.of(viewer.security ?? 1));
  tap.fromServer(Uint8Array.from(SERVER_RESULT_AND_INIT.slice(0, 4)));
  tap.fromClient(Uint8Array.of(1));
  tap.fromServer(Uint8Array.from(SERVER_RESULT_AND_INIT.slice(4)));
  tap.fromClient(viewer.setup);
  for (const u of updates) tap.fromServer(u);
  return { tap, events };
}

describe("RfbTap", () => {
  const setup = bytes(
    msg.setPixelFormat(RGB565),
    msg.setEncodings([Encoding.Raw, Encoding.DesktopSize]),
    msg.framebufferUpdateRequest(false, 0, 0, 64, 48),
  );

  it("counts updates decoded in the viewer's pixel format, however the server's bytes are cut", () => {
    const stream = bytes(update(raw2x2(2)), update(raw2x2(2), raw2x2(2)), update());
    for (const chunks of splits(stream)) {
      const { tap, events } = converse({ setup }, chunks);
      expect(events).toEqual(["update", "update", "update"]);
      expect(tap.framebufferUpdates).toBe(3);
      expect(tap.rectsByEncoding.get(Encoding.Raw)).toBe(3);
      expect(tap.pixelFormat).toEqual(RGB565);
      expect(tap.encodings).toEqual([Encoding.Raw, Encoding.DesktopSize]);
      expect(tap.failure).toBeNull();
    }
  });

  it("reads rectangles in the server's format when the viewer sets none", () => {
    const { tap, events } = converse(
      { setup: bytes(msg.setEncodings([Encoding.Raw]), msg.framebufferUpdateRequest(false, 0, 0, 64, 48)) },
      [bytes(update(raw2x2(4)))],
    );
    expect(events).toEqual(["update"]);
    expect(tap.pixelFormat).toEqual(DEFAULT_PIXEL_FORMAT);
  });

  it("takes SetEncodings and SetPixelFormat in either order, up to the first request", () => {
    const reversed = bytes(
      msg.setEncodings([Encoding.Raw]),
      msg.setPixelFormat(RGB565),
      msg.framebufferUpdateRequest(false, 0, 0, 64, 48),
    );
    const { tap, events } = converse({ setup: reversed }, [bytes(update(raw2x2(2)))]);
    expect(events).toEqual(["update"]);
    expect(tap.pixelFormat).toEqual(RGB565);
  });

  it("skips the messages of the extensions the viewer listed", () => {
    const fence = [248, 0, 0, 0, ...u32(0x80000001), 2, 7, 7];
    const withFence = bytes(
      msg.setEncodings([Encoding.Raw, Encoding.Fence]),
      msg.framebufferUpdateRequest(false, 0, 0, 64, 48),
    );
    const { events } = converse({ setup: withFence }, [bytes(fence, update(raw2x2(4)), [150])]);
    expect(events).toEqual(["update"]);
    // Without -312 in the list, a server fence is something the viewer could not read either.
    const without = converse({ setup: bytes(msg.framebufferUpdateRequest(false, 0, 0, 64, 48)) }, [bytes(fence)]);
    expect(without.events).toEqual([jasmine.stringContaining("failed: the server's stream does not parse") as never]);
    expect(without.tap.failure?.message).toContain("message type 248");
  });

  it("counts nothing it cannot follow, and says why", () => {
    const cases: [string, Conversation, string][] = [
      ["VNC authentication", converse({ security: 2, setup: new Uint8Array(0) }, []), "VNC authentication"],
      [
        "an older version than Porthole answers",
        converse({ version: "RFB 003.003\n", setup: new Uint8Array(0) }, []),
        "the viewer answered RFB 003.003 where Porthole's client answers RFB 003.008",
      ],
      [
        "a pixel format change mid-stream",
        converse({ setup: bytes(setup, msg.setPixelFormat(DEFAULT_PIXEL_FORMAT)) }, [bytes(update(raw2x2(2)))]),
        "changed its pixel format",
      ],
      ["a viewer message of unknown length", converse({ setup: bytes(setup, [77]) }, []), "message type 77"],
      ["a server message of unknown type", converse({ setup }, [Uint8Array.of(99)]), "message type 99"],
    ];
    for (const [what, c, mention] of cases) {
      expect(c.tap.failure?.message).withContext(what).toContain(mention);
      expect(c.events.filter((e) => e.startsWith("failed")))
        .withContext(what)
        .toHaveSize(1);
      expect(c.tap.framebufferUpdates).withContext(what).toBe(0);
    }
  });

  it("accepts the same pixel format sent again", () => {
    const again = bytes(setup, msg.setPixelFormat(RGB565));
    const { tap, events } = converse({ setup: again }, [bytes(update(raw2x2(2)))]);
    expect(events).toEqual(["update"]);
    expect(tap.failure).toBeNull();
  });

  it("keeps the server's bytes until the viewer's first request, then feeds them", () => {
    const tap = new RfbTap(null);
    tap.fromServer(Uint8Array.from(SERVER_VERSION));
    tap.fromClient(formatVersion({ major: 3, minor: 8 }));
    tap.fromServer(Uint8Array.from([...SERVER_TYPES, ...SERVER_RESULT_AND_INIT]));
    tap.fromClient(Uint8Array.of(1, 1));
    tap.fromClient(msg.setEncodings([Encoding.Raw]));
    expect(tap.pixelFormat).toBeNull();
    tap.fromClient(msg.framebufferUpdateRequest(false, 0, 0, 64, 48));
    expect(tap.pixelFormat).toEqual(DEFAULT_PIXEL_FORMAT);
    expect(tap.serverBytes).toBe(HANDSHAKE.length);
  });
});
