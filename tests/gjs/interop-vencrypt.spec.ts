// porthole-capture over VeNCrypt (rfbproto §7.2.8) against a real TigerVNC Xvnc with X509
// certificates made by openssl for this run: the picture must equal the X server's own
// (`xwd -root`) pixel for pixel, and each way the TLS or the login can go wrong must end
// in one clear line. TigerVNC's X509Plain checks system users through PAM, so Plain and
// X509Plain are covered by tests/node/vencrypt.spec.ts only.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { VncConnection } from "../../src/platform/connection.js";
import { type ServerCertificate, TlsCertificateError } from "../../src/platform/transport.js";
import { SecurityType } from "../../src/protocol/constants.js";
import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";
import { makeCertificates, sh } from "./certificates.js";
import { differingPixels, loadPng, xwdRoot } from "./pictures.js";
import { capture, Child, fixturePath, freeDisplay, freePort, run, tempDir, startXvnc } from "./processes.js";

Gio._promisify(Gio.OutputStream.prototype, "write_all_async", "write_all_finish");

const WIDTH = 64;
const HEIGHT = 48;

function xvnc(display: number, port: number, dir: string, cert: string, security: string, extra: string[] = []): Child {
  return startXvnc(display, { width: WIDTH, height: HEIGHT }, { port }, [
    "-SecurityTypes",
    security,
    "-X509Cert",
    `${dir}/${cert}.pem`,
    "-X509Key",
    `${dir}/${cert}.key`,
    ...extra,
  ]);
}

function expectOneLine(r: { status: number; stderr: string }, says: RegExp): void {
  expect(r.status).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines.length).withContext(r.stderr).toBe(1);
  expect(lines[0]).toMatch(says);
}

describe("porthole-capture over VeNCrypt X509 against TigerVNC Xvnc", () => {
  let dir: string;
  let plainDisplay: number;
  let noneServer: Child; // X509None, with a picture on it
  let vncServer: Child; // X509Vnc, password "sesame"
  let elsewhereServer: Child; // X509None with a certificate for another name
  let content: Child | null = null;
  const port = { none: 0, vnc: 0, elsewhere: 0 };

  beforeAll(async () => {
    dir = tempDir();
    await makeCertificates(dir, "ca", { server: "DNS:localhost,IP:127.0.0.1", elsewhere: "DNS:elsewhere.example" });
    await makeCertificates(dir, "otherca", {});
    await sh(`printf 'sesame\\nsesame\\nn\\n' | vncpasswd -f > ${dir}/passwd`);
    GLib.file_set_contents(`${dir}/right`, "sesame\n");
    GLib.file_set_contents(`${dir}/wrong`, "open up\n");

    plainDisplay = freeDisplay();
    port.none = freePort();
    noneServer = xvnc(plainDisplay, port.none, dir, "server", "X509None");
    await noneServer.waitForPort(port.none);
    // Display numbers come from the lock files, which Xvnc has made by now.
    port.vnc = freePort();
    vncServer = xvnc(freeDisplay(), port.vnc, dir, "server", "X509Vnc", ["-PasswordFile", `${dir}/passwd`]);
    await vncServer.waitForPort(port.vnc);
    port.elsewhere = freePort();
    elsewhereServer = xvnc(freeDisplay(), port.elsewhere, dir, "elsewhere", "X509None");
    await elsewhereServer.waitForPort(port.elsewhere);
    content = new Child(["gjs", "-m", fixturePath("x11-content.js"), String(WIDTH), String(HEIGHT)], {
      DISPLAY: `:${plainDisplay}`,
    });
    await content.waitForLine("ready");
  });

  afterAll(async () => {
    await content?.stop();
    await noneServer.stop();
    await vncServer.stop();
    await elsewhereServer.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("captures exactly the server's pixels over X509None with --ca-file", async () => {
    const out = `${dir}/none.png`;
    // An explicit encoding: the default adds a JPEG quality level, and Tight JPEG is lossy.
    const r = await capture("--encoding", "zrle", "--ca-file", `${dir}/ca.pem`, `localhost::${port.none}`, out);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const ref = await xwdRoot(plainDisplay);
    expect(new Set(ref.rgb).size).toBeGreaterThan(20);
    expect(differingPixels(loadPng(out), ref)).toBe(0);
  });

  it("checks the certificate against an IP address too", async () => {
    const r = await capture("--ca-file", `${dir}/ca.pem`, `vnc://127.0.0.1:${port.none}`, `${dir}/ip.png`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("logs in with VNC authentication inside X509Vnc", async () => {
    const out = `${dir}/vnc.png`;
    const r = await capture(
      "--ca-file",
      `${dir}/ca.pem`,
      "--password-file",
      `${dir}/right`,
      `localhost::${port.vnc}`,
      out,
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(loadPng(out).width).toBe(WIDTH);
  });

  it("refuses a certificate from a CA the system does not trust", async () => {
    const out = `${dir}/untrusted.png`;
    const r = await capture("--password-file", `${dir}/right`, `localhost::${port.vnc}`, out);
    expectOneLine(r, /^porthole-capture: the server's certificate is not trusted: it is signed by an authority/);
    expect(GLib.file_test(out, GLib.FileTest.EXISTS)).toBeFalse();
  });

  it("refuses a certificate that the given CA did not sign", async () => {
    const r = await capture("--ca-file", `${dir}/otherca.pem`, `localhost::${port.none}`, `${dir}/other.png`);
    expectOneLine(r, /^porthole-capture: the server's certificate is not trusted: it is not signed by a CA in /);
  });

  it("refuses a certificate issued for another name", async () => {
    const r = await capture("--ca-file", `${dir}/ca.pem`, `localhost::${port.elsewhere}`, `${dir}/elsewhere.png`);
    expectOneLine(r, /^porthole-capture: the server's certificate is not trusted: it is not issued for “localhost”/);
  });

  it("says a wrong CA file cannot be used", async () => {
    GLib.file_set_contents(`${dir}/garbage.pem`, "not a certificate\n");
    const r = await capture("--ca-file", `${dir}/garbage.pem`, `localhost::${port.none}`, `${dir}/garbage.png`);
    expectOneLine(r, /^porthole-capture: the CA file .*garbage\.pem holds no PEM certificate$/);
  });

  /** Connects through VncConnection, `pinned` if given; resolves with the outcome. */
  const connectPinned = (pinned: string | null, seen: ServerCertificate[] = []): Promise<string> =>
    new Promise<string>((resolve) => {
      const connection: VncConnection = new VncConnection(
        {
          address: { kind: "tcp", host: "localhost", port: port.none },
          framebuffer: new MemoryFramebuffer(),
          securityTypes: [SecurityType.VeNCrypt],
          pinned,
        },
        {
          failed: (e) => {
            if (e instanceof TlsCertificateError) seen.push(e.certificate);
            resolve(e.message);
          },
          connected: (info) => {
            const tls = connection.tls;
            connection.close();
            resolve(`connected ${info.width}x${info.height} over ${tls ? "TLS" : "plain"}`);
          },
        },
      );
      connection.connect();
    });

  it("reports the refused certificate with its problems and SHA-256 fingerprint, and accepts it pinned", async () => {
    const openssl = await run(["openssl", "x509", "-in", `${dir}/server.pem`, "-noout", "-fingerprint", "-sha256"]);
    const fingerprint = new TextDecoder().decode(openssl.stdout).trim().replace(/^.*=/, "");
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const [, pem] = GLib.file_get_contents(`${dir}/server.pem`);
    const seen: ServerCertificate[] = [];
    // Without a CA file the system's CAs do not know ours.
    const refused = await connectPinned(null, seen);
    expect(refused).toBe(
      "the server's certificate is not trusted: it is signed by an authority this computer does not trust",
    );
    expect(seen.length).toBe(1);
    const cert = seen[0];
    expect(cert?.sha256).toBe(fingerprint);
    expect(cert?.flags).toBe(Gio.TlsCertificateFlags.UNKNOWN_CA);
    expect(cert?.pem.trim()).toBe(new TextDecoder().decode(pem).trim());
    expect(cert?.subject).toContain("CN=server");
    // What a viewer does after the user accepts the fingerprint: reconnect pinning it.
    expect(await connectPinned(cert?.pem ?? "")).toBe(`connected ${WIDTH}x${HEIGHT} over TLS`);
    // A pin of another certificate does not let this server in.
    const [, other] = GLib.file_get_contents(`${dir}/elsewhere.pem`);
    expect(await connectPinned(new TextDecoder().decode(other))).toContain("certificate");
  });

  it("says the password is wrong when it is", async () => {
    const out = `${dir}/wrong.png`;
    const r = await capture(
      "--ca-file",
      `${dir}/ca.pem`,
      "--password-file",
      `${dir}/wrong`,
      `localhost::${port.vnc}`,
      out,
    );
    expectOneLine(r, /^porthole-capture: authentication failed/);
    expect(GLib.file_test(out, GLib.FileTest.EXISTS)).toBeFalse();
  });
});

/**
 * A fake VeNCrypt server on a unix socket: offers X509None, accepts it, then plays
 * `after` (bytes written once the client's ClientHello has arrived, or "close").
 */
function serveVeNCrypt(path: string, immediately: number[], after: number[] | "close"): Gio.SocketService {
  const service = new Gio.SocketService();
  service.add_address(Gio.UnixSocketAddress.new(path), Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null);
  service.connect("incoming", (_service, connection: Gio.SocketConnection) => {
    const input = connection.get_input_stream();
    const output = connection.get_output_stream();
    const hello = [...Array.from("RFB 003.008\n", (c) => c.charCodeAt(0)), 1, 19, 0, 2, 0, 1, 0, 0, 1, 4];
    // Client: version (12), type (1), VeNCrypt version (2), sub-type (4) = 19 bytes, then
    // its TLS ClientHello.
    let received = 0;
    let accepted = false;
    const read = () => {
      input.read_bytes_async(65536, GLib.PRIORITY_DEFAULT, null, (_s, res) => {
        let n = 0;
        try {
          n = input.read_bytes_finish(res).get_size();
        } catch {
          return;
        }
        if (n === 0) return;
        received += n;
        if (received >= 19 && !accepted) {
          accepted = true;
          void output.write_all_async(Uint8Array.from([1, ...immediately]), GLib.PRIORITY_DEFAULT, null);
        } else if (received > 19) {
          if (after === "close") connection.close(null);
          else void output.write_all_async(Uint8Array.from(after), GLib.PRIORITY_DEFAULT, null);
          return;
        }
        read();
      });
    };
    void output.write_all_async(Uint8Array.from(hello), GLib.PRIORITY_DEFAULT, null).then(read);
    return true;
  });
  service.start();
  return service;
}

describe("porthole-capture when the switch to TLS goes wrong", () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir();
  });

  afterAll(() => {
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  const cases = [
    ["unencrypted bytes after the accept byte", [0x41, 0x42], "close", /unencrypted data where the TLS handshake/],
    [
      "a server that closes instead of answering TLS",
      [],
      "close",
      /: the server (closed the connection during|did not complete) the TLS handshake/,
    ],
    [
      "a server that answers TLS with plain text",
      [],
      Array.from("HTTP/1.1 400 Bad Request\r\n\r\n", (c) => c.charCodeAt(0)),
      /^porthole-capture: the TLS handshake failed: /,
    ],
  ] as const;
  cases.forEach(([name, immediately, after, says], i) => {
    it(`ends cleanly on ${name}`, async () => {
      const socket = `${dir}/${i}.sock`;
      const service = serveVeNCrypt(socket, [...immediately], after === "close" ? after : [...after]);
      const started = GLib.get_monotonic_time();
      try {
        const r = await capture("--timeout", "5", `vnc+unix://${socket}`, `${dir}/x.png`);
        expectOneLine(r, says);
        expect(GLib.get_monotonic_time() - started).toBeLessThan(5e6);
      } finally {
        service.stop();
        service.close();
      }
    });
  });
});
