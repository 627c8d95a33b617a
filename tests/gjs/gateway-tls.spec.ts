// porthole-gateway as a TLS endpoint (VeNCrypt X509, rfbproto §7.2.8) with certificates
// made by openssl for this run, in front of a real TigerVNC Xvnc: Porthole's own tools log
// in over X509Vnc and carry the display and a stream; a hand-driven VeNCrypt client covers
// X509Plain, X509None and client certificates (--tls-ca), which the tools do not choose;
// an untrusted certificate, a wrong password and a missing or foreign client certificate
// each fail cleanly while the gateway goes on serving.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { SecurityType, VeNCryptSubtype } from "../../src/protocol/constants.js";
import { makeCertificates, sh } from "./certificates.js";
import { loadPng } from "./pictures.js";
import { capture, Child, freeDisplay, freePort, programBundle, run, startXvnc, tempDir, waitFor } from "./processes.js";

const WIDTH = 64;
const HEIGHT = 48;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function gatewayLog(child: Child): string {
  try {
    return text(GLib.file_get_contents(child.log)[1]);
  } catch {
    return "";
  }
}

/** Waits until the gateway's log matches (its lines follow what the viewer saw). */
async function logShows(child: Child, pattern: RegExp | string): Promise<void> {
  const matches = () => {
    const log = gatewayLog(child);
    return typeof pattern === "string" ? log.includes(pattern) : pattern.test(log);
  };
  await waitFor(`the gateway to log ${String(pattern)}`, matches, 10000).catch(() => undefined);
  if (typeof pattern === "string") expect(gatewayLog(child)).toContain(pattern);
  else expect(gatewayLog(child)).toMatch(pattern);
}

function startGateway(args: string[], port: number): Promise<Child> {
  const child = new Child(["gjs", "-m", programBundle("porthole-gateway"), ...args]);
  return child.waitForPort(port).then(() => child);
}

/** A client certificate for `name`, signed by the CA `ca` (made by makeCertificates). */
async function clientCertificate(dir: string, ca: string, name: string): Promise<void> {
  GLib.file_set_contents(
    `${dir}/${name}.ext`,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await sh(
    `cd ${dir}
     openssl req -newkey rsa:2048 -nodes -subj "/CN=${name}" -keyout ${name}.key -out ${name}.csr 2>/dev/null
     openssl x509 -req -in ${name}.csr -CA ${ca}.pem -CAkey ${ca}.key -CAcreateserial -days 2 \\
       -extfile ${name}.ext -out ${name}.pem 2>/dev/null`,
  );
}

interface LoginResult {
  /** The sub-types the gateway offered. */
  readonly offered: number[];
  /** The SecurityResult: 0 is success. */
  readonly securityResult: number;
  /** The framebuffer size in ServerInit, after a successful login. */
  readonly size: [number, number] | null;
}

/**
 * A VeNCrypt login driven by hand, with blocking calls (the gateway is another process):
 * RFB 3.8, type 19, version 0.2, the given sub-type, TLS (checking the gateway against
 * `caFile`, optionally presenting a client certificate), then Plain's credentials if given,
 * the SecurityResult and, on success, ClientInit and ServerInit.
 */
function veNCryptLogin(
  port: number,
  subtype: number,
  caFile: string,
  options: { plain?: [string, string]; clientCert?: [string, string] } = {},
): LoginResult {
  const connection = new Gio.SocketClient().connect(Gio.NetworkAddress.new("localhost", port), null);
  let input = connection.get_input_stream();
  let output = connection.get_output_stream();
  const read = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = input.read_bytes(n - at, null).toArray();
      if (chunk.length === 0) throw new Error("the gateway closed the connection");
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  };
  const write = (bytes: Uint8Array) => {
    output.write_all(bytes, null);
  };
  const u32 = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset).getUint32(at);
  const be32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return b;
  };
  try {
    expect(text(read(12))).toBe("RFB 003.008\n");
    write(new TextEncoder().encode("RFB 003.008\n"));
    const count = read(1)[0] ?? 0;
    expect(Array.from(read(count))).toEqual([SecurityType.VeNCrypt]);
    write(Uint8Array.of(SecurityType.VeNCrypt));
    expect(Array.from(read(2))).toEqual([0, 2]);
    write(Uint8Array.of(0, 2));
    expect(read(1)[0]).toBe(0);
    const n = read(1)[0] ?? 0;
    const list = read(4 * n);
    const offered = Array.from({ length: n }, (_, i) => u32(list, 4 * i));
    write(be32(subtype));
    const ack = read(1)[0];
    if (ack !== 1) return { offered, securityResult: -1, size: null };
    const tls = Gio.TlsClientConnection.new(connection, Gio.NetworkAddress.new("localhost", port));
    tls.set_database(Gio.TlsFileDatabase.new(caFile));
    if (options.clientCert) tls.set_certificate(Gio.TlsCertificate.new_from_files(...options.clientCert));
    tls.handshake(null);
    input = tls.get_input_stream();
    output = tls.get_output_stream();
    if (options.plain) {
      const [user, password] = options.plain.map((s) => new TextEncoder().encode(s)) as [Uint8Array, Uint8Array];
      write(Uint8Array.from([...be32(user.length), ...be32(password.length), ...user, ...password]));
    }
    const securityResult = u32(read(4));
    if (securityResult !== 0) return { offered, securityResult, size: null };
    write(Uint8Array.of(1));
    const init = read(24);
    const dv = new DataView(init.buffer);
    read(dv.getUint32(20));
    return { offered, securityResult, size: [dv.getUint16(0), dv.getUint16(2)] };
  } finally {
    connection.close(null);
  }
}

/** What a login that must fail threw, or "succeeded". */
function loginError(login: () => LoginResult): string {
  try {
    const r = login();
    return r.securityResult === 0 ? "succeeded" : `SecurityResult ${r.securityResult}`;
  } catch (e) {
    return e instanceof Error || e instanceof GLib.Error ? e.message : String(e);
  }
}

describe("porthole-gateway with TLS (VeNCrypt X509)", () => {
  let dir: string;
  let xvnc: Child;
  let echo: Child;
  let gateway: Child; // X509Vnc / X509Plain, passwords "sesame" and read-only "peek"
  let open: Child; // X509None, viewers' certificates from "clientca" required
  const port = { xvnc: 0, gateway: 0, open: 0 };

  beforeAll(async () => {
    dir = tempDir();
    await makeCertificates(dir, "ca", { server: "DNS:localhost,IP:127.0.0.1" });
    await makeCertificates(dir, "otherca", {});
    await makeCertificates(dir, "clientca", {});
    await clientCertificate(dir, "clientca", "alice");
    await clientCertificate(dir, "otherca", "mallory");
    GLib.file_set_contents(`${dir}/password`, "sesame\n");
    GLib.file_set_contents(`${dir}/readonly`, "peek\n");
    GLib.file_set_contents(`${dir}/wrong`, "open up\n");

    port.xvnc = freePort();
    xvnc = startXvnc(freeDisplay(), { width: WIDTH, height: HEIGHT }, { port: port.xvnc }, ["-SecurityTypes", "None"]);
    await xvnc.waitForPort(port.xvnc);
    echo = new Child(["gjs", "-m", programBundle("porthole-stream-device"), "echo", `${dir}/echo.sock`]);
    await echo.waitForLine("ready");

    port.gateway = freePort();
    gateway = await startGateway(
      [
        "--listen",
        `tcp:127.0.0.1:${port.gateway}`,
        "--vnc",
        `tcp:127.0.0.1:${port.xvnc}`,
        "--stream",
        `echo=unix:${dir}/echo.sock,kind=serial`,
        "--tls-cert",
        `${dir}/server.pem`,
        "--tls-key",
        `${dir}/server.key`,
        "--password-file",
        `${dir}/password`,
        "--readonly-password-file",
        `${dir}/readonly`,
      ],
      port.gateway,
    );
    port.open = freePort();
    open = await startGateway(
      [
        "--listen",
        `tcp:127.0.0.1:${port.open}`,
        "--vnc",
        `tcp:127.0.0.1:${port.xvnc}`,
        "--tls-cert",
        `${dir}/server.pem`,
        "--tls-key",
        `${dir}/server.key`,
        "--tls-ca",
        `${dir}/clientca.pem`,
      ],
      port.open,
    );
  });

  afterAll(async () => {
    await gateway.stop();
    await open.stop();
    await echo.stop();
    await xvnc.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("says what it serves when it starts", () => {
    expect(gatewayLog(gateway)).toContain("(VeNCrypt X509, password, read-only password; streams: echo)");
    expect(gatewayLog(open)).toContain("(VeNCrypt X509, no password, client certificates required; streams: none)");
  });

  it("serves porthole-capture over X509Vnc with the CA and the password", async () => {
    const out = `${dir}/tls.png`;
    const args = ["--ca-file", `${dir}/ca.pem`, "--password-file", `${dir}/password`];
    const r = await capture(...args, `vnc://127.0.0.1:${port.gateway}`, out);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const png = loadPng(out);
    expect([png.width, png.height]).toEqual([WIDTH, HEIGHT]);
    expect(gatewayLog(gateway)).toMatch(
      /client \d+: TLS 1\.[23]\n.*client \d+: logged in \(VeNCrypt X509Vnc, RFB 3\.8\)/,
    );
  });

  it("carries a stream inside TLS: porthole-console lists it and echoes through it", async () => {
    const tools = ["--ca-file", `${dir}/ca.pem`, "--password-file", `${dir}/password`];
    const uri = `vnc://localhost:${port.gateway}`;
    const list = await run(["gjs", "-m", programBundle("porthole-console"), "--list", ...tools, uri]);
    expect(text(list.stdout)).toMatch(/^echo\s+serial\b/m);
    const piped = await run([
      "sh",
      "-c",
      `(printf 'over TLS\\n'; sleep 2) | gjs -m ${programBundle("porthole-console")} --stream echo ${tools.join(" ")} ${uri}`,
    ]);
    expect(piped.stderr).toBe("");
    expect(text(piped.stdout)).toBe("over TLS\n");
  });

  it("logs in over X509Plain, with the read-only password as read-only, and refuses a wrong one", async () => {
    const full = veNCryptLogin(port.gateway, VeNCryptSubtype.X509Plain, `${dir}/ca.pem`, {
      plain: ["alice", "sesame"],
    });
    expect(full.offered).toEqual([VeNCryptSubtype.X509Vnc, VeNCryptSubtype.X509Plain]);
    expect(full.size).toEqual([WIDTH, HEIGHT]);
    const ro = veNCryptLogin(port.gateway, VeNCryptSubtype.X509Plain, `${dir}/ca.pem`, { plain: ["bob", "peek"] });
    expect(ro.securityResult).toBe(0);
    const wrong = veNCryptLogin(port.gateway, VeNCryptSubtype.X509Plain, `${dir}/ca.pem`, { plain: ["eve", "sesam"] });
    expect(wrong.securityResult).toBe(1);
    await logShows(gateway, 'logged in (VeNCrypt X509Plain as "alice", RFB 3.8)');
    await logShows(gateway, 'logged in (VeNCrypt X509Plain as "bob", read-only, RFB 3.8)');
    await logShows(gateway, /disconnected: authentication failed: the viewer's password is wrong/);
  });

  it("refuses a sub-type it did not offer with a 0 acknowledgement", async () => {
    const r = veNCryptLogin(port.gateway, VeNCryptSubtype.X509None, `${dir}/ca.pem`);
    expect(r.securityResult).toBe(-1);
    await logShows(gateway, "the viewer chose VeNCrypt X509None, which was not offered");
  });

  it("fails cleanly for a viewer that does not trust its CA or has the wrong password, and serves on", async () => {
    const untrusted = await capture(
      "--ca-file",
      `${dir}/otherca.pem`,
      "--password-file",
      `${dir}/password`,
      `vnc://127.0.0.1:${port.gateway}`,
      `${dir}/untrusted.png`,
    );
    expect(untrusted.status).toBe(1);
    expect(untrusted.stderr.trim().split("\n")).toEqual([
      jasmine.stringMatching(/^porthole-capture: the server's certificate is not trusted: it is not signed by a CA/),
    ]);
    const wrong = await capture(
      "--ca-file",
      `${dir}/ca.pem`,
      "--password-file",
      `${dir}/wrong`,
      `vnc://127.0.0.1:${port.gateway}`,
      `${dir}/wrong.png`,
    );
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/Authentication failed/);
    await logShows(gateway, /client \d+: disconnected: the TLS handshake failed: /);
    const again = await capture(
      "--ca-file",
      `${dir}/ca.pem`,
      "--password-file",
      `${dir}/password`,
      `vnc://127.0.0.1:${port.gateway}`,
      `${dir}/again.png`,
    );
    expect(again.status).toBe(0);
  });

  it("with --tls-ca, lets in a viewer whose certificate that CA issued, and no other", async () => {
    const ca = `${dir}/ca.pem`;
    const alice = veNCryptLogin(port.open, VeNCryptSubtype.X509None, ca, {
      clientCert: [`${dir}/alice.pem`, `${dir}/alice.key`],
    });
    expect(alice.offered).toEqual([VeNCryptSubtype.X509None]);
    expect(alice.size).toEqual([WIDTH, HEIGHT]);
    await logShows(open, /TLS 1\.[23], client certificate “CN=alice”/);
    // Without a certificate, or with one from another CA, the login never completes (TLS
    // 1.3 may finish the client's side of the handshake before the server refuses it).
    expect(loginError(() => veNCryptLogin(port.open, VeNCryptSubtype.X509None, ca))).not.toBe("succeeded");
    expect(
      loginError(() =>
        veNCryptLogin(port.open, VeNCryptSubtype.X509None, ca, {
          clientCert: [`${dir}/mallory.pem`, `${dir}/mallory.key`],
        }),
      ),
    ).not.toBe("succeeded");
    await logShows(open, /the TLS handshake failed: .*\n(.*\n)*.*the TLS handshake failed: /);
  });
});

describe("porthole-gateway's TLS configuration", () => {
  const gw = (...args: string[]) => run(["gjs", "-m", programBundle("porthole-gateway"), ...args]);

  it("listens off loopback without --insecure once it has TLS and a password", async () => {
    const dir = tempDir();
    try {
      await makeCertificates(dir, "ca", { server: "DNS:localhost,IP:127.0.0.1" });
      GLib.file_set_contents(`${dir}/password`, "sesame\n");
      const tls = ["--tls-cert", `${dir}/server.pem`, "--tls-key", `${dir}/server.key`];
      const p = freePort();
      const child = await startGateway(
        [
          "--listen",
          `tcp:0.0.0.0:${p}`,
          "--vnc",
          `unix:${dir}/none.sock`,
          ...tls,
          "--password-file",
          `${dir}/password`,
        ],
        p,
      );
      await child.stop();
      // TLS without any authentication is still refused there.
      const bare = await gw("--listen", `tcp:0.0.0.0:${freePort()}`, "--vnc", `unix:${dir}/none.sock`, ...tls);
      expect(bare.status).toBe(2);
      expect(bare.stderr).toMatch(/without authentication/);
    } finally {
      GLib.spawn_command_line_sync(`rm -rf ${dir}`);
    }
  });

  it("says in one line which certificate, key or CA file it cannot use, exit 2", async () => {
    const dir = tempDir();
    try {
      await makeCertificates(dir, "ca", { server: "DNS:localhost" });
      const base = ["--listen", `unix:${dir}/gw.sock`, "--vnc", `unix:${dir}/none.sock`];
      for (const [args, says] of [
        [
          ["--tls-cert", `${dir}/missing.pem`, "--tls-key", `${dir}/server.key`],
          /cannot load the certificate .*missing\.pem/,
        ],
        [
          ["--tls-cert", `${dir}/server.pem`, "--tls-key", `${dir}/ca.key`],
          /the certificate .*server\.pem and the key .*ca\.key do not work together: /,
        ],
        [
          ["--tls-cert", `${dir}/server.pem`, "--tls-key", `${dir}/server.key`, "--tls-ca", `${dir}/nothing.pem`],
          /cannot load the CA certificates .*nothing\.pem/,
        ],
      ] as [string[], RegExp][]) {
        const r = await gw(...base, ...args);
        expect(r.status).withContext(args.join(" ")).toBe(2);
        const lines = r.stderr.trimEnd().split("\n");
        expect(lines.length).withContext(r.stderr).toBe(1);
        expect(lines[0]).toMatch(says);
      }
    } finally {
      GLib.spawn_command_line_sync(`rm -rf ${dir}`);
    }
  });
});
