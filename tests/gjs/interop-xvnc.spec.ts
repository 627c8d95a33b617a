// porthole-capture against a real TigerVNC Xvnc: for each encoding Xvnc offers, the PNG must
// equal the X server's own picture (`xwd -root`) pixel for pixel. The picture is a GTK
// window (tests/fixtures/x11-content.js) with gradients, noise, flat areas and text, so
// that every sub-encoding of the encoders gets used.

import GLib from "gi://GLib";

import { differingPixels, loadPng, type Picture, xwdRoot } from "./pictures.js";
import { capture, Child, fixturePath, freeDisplay, freePort, run, tempDir, startXvnc } from "./processes.js";

const WIDTH = 320;
const HEIGHT = 200;

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
    xvnc = startXvnc(displayNumber, { width: WIDTH, height: HEIGHT }, { unix: socket }, ["-SecurityTypes", "None"]);
    await xvnc.waitUntil("its socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
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
    return xwdRoot(displayNumber);
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
      const r = await capture("--stats", "--encoding", encoding, `vnc+unix://${socket}`, out);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const stats = JSON.parse(new TextDecoder().decode(r.stdout)) as { rects: Record<string, number> };
      expect(stats.rects[shows]).withContext(JSON.stringify(stats)).toBeGreaterThan(0);
      // Xvnc sends its cursor as Cursor With Alpha (-314) in raw, which must decode too.
      expect(stats.rects["-314"]).withContext(JSON.stringify(stats)).toBe(1);
      const ref = await reference();
      // The window really is on the server: the picture is not one flat colour.
      expect(new Set(ref.rgb).size).toBeGreaterThan(100);
      expect(differingPixels(loadPng(out), ref)).toBe(0);
    });
  }

  it("reports a dead server clearly and quickly", async () => {
    const started = GLib.get_monotonic_time();
    const r = await capture(`vnc+unix://${dir}/nothing.sock`, `${dir}/x.png`);
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
    xvnc = startXvnc(freeDisplay(), { width: 64, height: 48 }, { port }, [
      "-SecurityTypes",
      "VncAuth",
      "-PasswordFile",
      `${dir}/passwd`,
    ]);
    await xvnc.waitForPort(port);
  });

  afterAll(async () => {
    await xvnc.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("logs in with the right password", async () => {
    const r = await capture("--password-file", `${dir}/right`, `localhost::${port}`, `${dir}/ok.png`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(loadPng(`${dir}/ok.png`).width).toBe(64);
  });

  it("says the password is wrong, in one line, when it is", async () => {
    const r = await capture("--password-file", `${dir}/wrong`, `vnc://127.0.0.1:${port}`, `${dir}/no.png`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^porthole-capture: authentication failed/);
    expect(GLib.file_test(`${dir}/no.png`, GLib.FileTest.EXISTS)).toBeFalse();
  });

  it("asks for a password when none is given", async () => {
    const r = await capture(`localhost::${port}`, `${dir}/no.png`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("--password-file");
  });
});
