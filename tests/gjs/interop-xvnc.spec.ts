// porthole-capture against a real TigerVNC Xvnc: for each encoding Xvnc offers, the PNG must
// equal the X server's own picture (`xwd -root`) pixel for pixel. The picture is a GTK
// window (tests/fixtures/x11-content.js) with gradients, noise, flat areas and text, so
// that every sub-encoding of the encoders gets used.

import GdkPixbuf from "gi://GdkPixbuf";
import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { Child, fixturePath, freeDisplay, freePort, programBundle, run, tempDir, waitFor } from "./processes.js";

const WIDTH = 320;
const HEIGHT = 200;

interface Picture {
  width: number;
  height: number;
  /** 0xRRGGBB per pixel. */
  rgb: Uint32Array;
}

/** Parses what `xwd -root` writes (XWDFileHeader: 25 big-endian CARD32s, name, colours, image). */
function parseXwd(data: Uint8Array): Picture {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const h = (i: number) => v.getUint32(i * 4);
  const [headerSize, width, height, byteOrder, bpp, bytesPerLine, redMask, greenMask, blueMask, ncolors] = [
    h(0),
    h(4),
    h(5),
    h(7),
    h(11),
    h(12),
    h(14),
    h(15),
    h(16),
    h(19),
  ];
  if (bpp !== 32) throw new Error(`xwd image has ${bpp} bits per pixel, expected 32`);
  const shift = (mask: number) => 31 - Math.clz32(mask & -mask);
  const start = headerSize + ncolors * 12;
  const rgb = new Uint32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = v.getUint32(start + y * bytesPerLine + x * 4, byteOrder === 0);
      const r = (p & redMask) >>> shift(redMask);
      const g = (p & greenMask) >>> shift(greenMask);
      const b = (p & blueMask) >>> shift(blueMask);
      rgb[y * width + x] = (r << 16) | (g << 8) | b;
    }
  return { width, height, rgb };
}

function loadPng(path: string): Picture {
  const pixbuf = GdkPixbuf.Pixbuf.new_from_file(path);
  const width = pixbuf.get_width();
  const height = pixbuf.get_height();
  const n = pixbuf.get_n_channels();
  const stride = pixbuf.get_rowstride();
  const px = pixbuf.get_pixels();
  const rgb = new Uint32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = y * stride + x * n;
      rgb[y * width + x] = ((px[o] ?? 0) << 16) | ((px[o + 1] ?? 0) << 8) | (px[o + 2] ?? 0);
    }
  return { width, height, rgb };
}

function differingPixels(a: Picture, b: Picture): number {
  if (a.width !== b.width || a.height !== b.height) return Math.max(a.rgb.length, b.rgb.length);
  let n = 0;
  for (let i = 0; i < a.rgb.length; i++) if (a.rgb[i] !== b.rgb[i]) n++;
  return n;
}

describe("porthole-capture against TigerVNC Xvnc", () => {
  let dir: string;
  let socket: string;
  let displayNumber: number;
  let xvnc: Child;
  let content: Child | null = null;

  beforeAll(async () => {
    dir = tempDir();
    socket = `${dir}/vnc.sock`;
    displayNumber = freeDisplay();
    xvnc = new Child([
      "Xvnc",
      `:${displayNumber}`,
      "-geometry",
      `${WIDTH}x${HEIGHT}`,
      "-depth",
      "24",
      "-rfbport",
      "-1",
      "-rfbunixpath",
      socket,
      "-SecurityTypes",
      "None",
      "-nolisten",
      "tcp",
    ]);
    await waitFor("Xvnc's socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
    content = new Child(["gjs", "-m", fixturePath("x11-content.js"), String(WIDTH), String(HEIGHT)], {
      DISPLAY: `:${displayNumber}`,
    });
    await content.waitForLine("ready");
  });

  afterAll(async () => {
    await content?.stop();
    await xvnc.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  const reference = async (): Promise<Picture> => {
    const xwd = await run(["xwd", "-root", "-silent", "-display", `:${displayNumber}`]);
    expect(xwd.status).toBe(0);
    return parseXwd(xwd.stdout);
  };

  // Xvnc implements these (it has no CoRRE, Zlib or Tight PNG encoder).
  for (const [encoding, shows] of [
    ["raw", "raw"],
    ["rre", "rre"],
    ["hextile", "hextile"],
    ["zrle", "zrle"],
    ["tight", "tight"],
  ] as const) {
    it(`captures exactly the server's pixels with ${encoding}`, async () => {
      const out = `${dir}/${encoding}.png`;
      const r = await run([
        "gjs",
        "-m",
        programBundle("porthole-capture"),
        "--stats",
        "--encoding",
        encoding,
        `vnc+unix://${socket}`,
        out,
      ]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const stats = JSON.parse(new TextDecoder().decode(r.stdout)) as { rects: Record<string, number> };
      expect(stats.rects[shows]).withContext(JSON.stringify(stats)).toBeGreaterThan(0);
      const ref = await reference();
      // The window really is on the server: the picture is not one flat colour.
      expect(new Set(ref.rgb).size).toBeGreaterThan(100);
      expect(differingPixels(loadPng(out), ref)).toBe(0);
    });
  }

  it("reports a dead server clearly and quickly", async () => {
    const started = GLib.get_monotonic_time();
    const r = await run([
      "gjs",
      "-m",
      programBundle("porthole-capture"),
      `vnc+unix://${dir}/nothing.sock`,
      `${dir}/x.png`,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("cannot connect");
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(GLib.get_monotonic_time() - started).toBeLessThan(10e6);
  });
});

describe("porthole-capture with VNC authentication over TCP", () => {
  let dir: string;
  let port: number;
  let xvnc: Child;

  beforeAll(async () => {
    dir = tempDir();
    const passwd = await run(["sh", "-c", `printf 'sesame\\nsesame\\nn\\n' | vncpasswd -f > ${dir}/passwd`]);
    expect(passwd.status).toBe(0);
    GLib.file_set_contents(`${dir}/right`, "sesame\n");
    GLib.file_set_contents(`${dir}/wrong`, "open up\n");
    port = freePort();
    xvnc = new Child([
      "Xvnc",
      `:${freeDisplay()}`,
      "-geometry",
      "64x48",
      "-depth",
      "24",
      "-rfbport",
      String(port),
      "-localhost",
      "-SecurityTypes",
      "VncAuth",
      "-PasswordFile",
      `${dir}/passwd`,
      "-nolisten",
      "tcp",
    ]);
    await waitFor("Xvnc's port", () => {
      try {
        new Gio.SocketClient().connect_to_host("127.0.0.1", port, null).close(null);
        return true;
      } catch {
        return false;
      }
    });
  });

  afterAll(async () => {
    await xvnc.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("logs in with the right password", async () => {
    const r = await run([
      "gjs",
      "-m",
      programBundle("porthole-capture"),
      "--password-file",
      `${dir}/right`,
      `localhost::${port}`,
      `${dir}/ok.png`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(loadPng(`${dir}/ok.png`).width).toBe(64);
  });

  it("says the password is wrong, in one line, when it is", async () => {
    const r = await run([
      "gjs",
      "-m",
      programBundle("porthole-capture"),
      "--password-file",
      `${dir}/wrong`,
      `vnc://127.0.0.1:${port}`,
      `${dir}/no.png`,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^porthole-capture: authentication failed/);
    expect(GLib.file_test(`${dir}/no.png`, GLib.FileTest.EXISTS)).toBeFalse();
  });

  it("asks for a password when none is given", async () => {
    const r = await run(["gjs", "-m", programBundle("porthole-capture"), `localhost::${port}`, `${dir}/no.png`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("--password-file");
  });
});
