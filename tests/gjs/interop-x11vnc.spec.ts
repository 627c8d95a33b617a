// porthole-capture against x11vnc (libvncserver) on Xvfb, for the encodings TigerVNC does
// not implement (RRE's cousin CoRRE, Zlib) and libvncserver's own encoders of the others:
// each PNG must equal the X server's own picture (`xwd -root`) pixel for pixel.

import GLib from "gi://GLib";

import { differingPixels, loadPng, xwdRoot } from "./pictures.js";
import { capture, Child, delay, fixturePath, freeDisplay, freePort, tempDir } from "./processes.js";

const WIDTH = 320;
const HEIGHT = 200;

describe("porthole-capture against x11vnc", () => {
  let dir: string;
  let display: number;
  let port: number;
  let xvfb: Child;
  let content: Child | null = null;
  let x11vnc: Child | null = null;

  beforeAll(async () => {
    dir = tempDir();
    display = freeDisplay();
    xvfb = new Child(["Xvfb", `:${display}`, "-screen", "0", `${WIDTH}x${HEIGHT}x24`, "-nolisten", "tcp"]);
    await xvfb.waitUntil("its socket", () => GLib.file_test(`/tmp/.X11-unix/X${display}`, GLib.FileTest.EXISTS));
    content = new Child(["gjs", "-m", fixturePath("x11-content.js"), String(WIDTH), String(HEIGHT)], {
      DISPLAY: `:${display}`,
    });
    await content.waitForLine("ready");
    port = freePort();
    x11vnc = new Child([
      "x11vnc",
      "-display",
      `:${display}`,
      "-rfbport",
      String(port),
      "-localhost",
      "-nopw",
      "-forever",
      "-shared",
      "-quiet",
      "-noxdamage",
    ]);
    await x11vnc.waitForPort(port);
    await delay(500);
  });

  afterAll(async () => {
    await x11vnc?.stop();
    await content?.stop();
    await xvfb.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  for (const encoding of ["rre", "corre", "zlib", "hextile", "zrle", "tight"] as const) {
    it(`captures exactly the server's pixels with ${encoding}`, async () => {
      const out = `${dir}/${encoding}.png`;
      const r = await capture("--stats", "--encoding", encoding, `localhost::${port}`, out);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const stats = JSON.parse(new TextDecoder().decode(r.stdout)) as { rects: Record<string, number> };
      expect(stats.rects[encoding]).withContext(JSON.stringify(stats)).toBeGreaterThan(0);
      const ref = await xwdRoot(display);
      expect(new Set(ref.rgb).size).toBeGreaterThan(100);
      expect(differingPixels(loadPng(out), ref)).toBe(0);
    });
  }
});
