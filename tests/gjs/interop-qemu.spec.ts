// porthole-capture against QEMU 7.2's own VNC server: for each lossless encoding QEMU
// offers, the PNG must equal QMP `screendump` pixel for pixel. The guest paints the VGA
// screen once and halts (tests/gjs/qemu.ts); a capture is compared only when screendumps
// taken just before and just after it agree, in case the display is still settling.

import GLib from "gi://GLib";

import { makeCertificates, sh } from "./certificates.js";
import { differingPixels, loadPng, parsePpm, type Picture } from "./pictures.js";
import { capture, delay, tempDir } from "./processes.js";
import { type Qemu, startQemu } from "./qemu.js";

async function screendump(qemu: Qemu, path: string): Promise<Picture> {
  await qemu.qmp.execute("screendump", { filename: path });
  const [, data] = GLib.file_get_contents(path);
  return parsePpm(data);
}

/** Waits for the guest's picture: mode 13h shows as 640×400 with many colours. */
async function waitForGuest(qemu: Qemu, dir: string): Promise<void> {
  const deadline = GLib.get_monotonic_time() + 30e6;
  for (;;) {
    const now = await screendump(qemu, `${dir}/wait.ppm`);
    if (now.width === 640 && new Set(now.rgb).size > 100) return;
    if (GLib.get_monotonic_time() > deadline) throw new Error("the guest did not paint its screen");
    await delay(250);
  }
}

/** Captures with `args` until a capture falls between two identical screendumps. */
async function captureStable(
  qemu: Qemu,
  dir: string,
  args: string[],
): Promise<{ capture: Picture; screen: Picture; stats: string }> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const before = await screendump(qemu, `${dir}/before.ppm`);
    const out = `${dir}/capture.png`;
    const r = await capture("--stats", ...args, qemu.vncUri, out);
    if (r.status !== 0) throw new Error(`porthole-capture failed: ${r.stderr}`);
    const after = await screendump(qemu, `${dir}/after.ppm`);
    if (differingPixels(before, after) === 0)
      return { capture: loadPng(out), screen: after, stats: new TextDecoder().decode(r.stdout) };
    await delay(100);
  }
  throw new Error("the guest's screen never held still around a capture");
}

describe("porthole-capture against QEMU", () => {
  let dir: string;
  let qemu: Qemu;

  beforeAll(async () => {
    dir = tempDir();
    qemu = await startQemu(dir);
    await waitForGuest(qemu, dir);
  });

  afterAll(async () => {
    qemu.qmp.close();
    await qemu.child.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  // QEMU 7.2 encodes raw, hextile, zlib, zrle, tight and tight-png; without a JPEG
  // quality level its Tight and Tight PNG are lossless.
  for (const [encoding, shows] of [
    ["raw", "raw"],
    ["hextile", "hextile"],
    ["zlib", "zlib"],
    ["zrle", "zrle"],
    ["tight", "tight"],
    ["tightpng", "tightpng"],
  ] as const) {
    it(`captures exactly the guest's screen with ${encoding}`, async () => {
      const { capture, screen, stats } = await captureStable(qemu, dir, ["--encoding", encoding]);
      expect((JSON.parse(stats) as { rects: Record<string, number> }).rects[shows])
        .withContext(stats)
        .toBeGreaterThan(0);
      expect(new Set(screen.rgb).size).toBeGreaterThan(100);
      expect(differingPixels(capture, screen)).toBe(0);
    });
  }
});

describe("porthole-capture against QEMU with a VNC password set over QMP", () => {
  let dir: string;
  let qemu: Qemu;

  beforeAll(async () => {
    dir = tempDir();
    qemu = await startQemu(dir, { vncOptions: ",password=on" });
    await qemu.qmp.execute("change-vnc-password", { password: "guest42" });
    GLib.file_set_contents(`${dir}/right`, "guest42\n");
    GLib.file_set_contents(`${dir}/wrong`, "guest43\n");
  });

  afterAll(async () => {
    qemu.qmp.close();
    await qemu.child.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("logs in with the password", async () => {
    const r = await capture("--password-file", `${dir}/right`, qemu.vncUri, `${dir}/ok.png`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("reports a wrong password with QEMU's reason", async () => {
    const r = await capture("--password-file", `${dir}/wrong`, qemu.vncUri, `${dir}/no.png`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^porthole-capture: authentication failed/);
  });
});

describe("porthole-capture against QEMU over VeNCrypt with tls-creds-x509", () => {
  let dir: string;
  let qemu: Qemu;

  beforeAll(async () => {
    dir = tempDir();
    // QEMU reads ca-cert.pem, server-cert.pem and server-key.pem from the credentials' dir.
    await makeCertificates(dir, "ca", { server: "DNS:localhost,IP:127.0.0.1" });
    await sh(`cd ${dir} && cp ca.pem ca-cert.pem && cp server.pem server-cert.pem && cp server.key server-key.pem`);
    qemu = await startQemu(dir, {
      tcp: true,
      extraArgs: ["-object", `tls-creds-x509,id=tls0,dir=${dir},endpoint=server,verify-peer=off`],
      vncOptions: ",tls-creds=tls0",
    });
    await waitForGuest(qemu, dir);
  });

  afterAll(async () => {
    qemu.qmp.close();
    await qemu.child.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("captures exactly the guest's screen through TLS checked against the CA", async () => {
    const { capture: picture, screen } = await captureStable(qemu, dir, [
      "--encoding",
      "zrle",
      "--ca-file",
      `${dir}/ca.pem`,
    ]);
    expect(differingPixels(picture, screen)).toBe(0);
  });

  it("refuses QEMU's certificate without the CA", async () => {
    const r = await capture(qemu.vncUri, `${dir}/untrusted.png`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^porthole-capture: the server's certificate is not trusted/);
  });
});
