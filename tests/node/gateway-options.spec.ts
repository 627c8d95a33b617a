import {
  GatewayConfigError,
  isLoopbackHost,
  parseGatewayOptions,
  passwordFromFile,
} from "../../src/gateway/options.js";

const BASE = ["--listen", "unix:/run/gw.sock", "--vnc", "unix:/run/vnc.sock"];

function refusal(args: string[]): string {
  try {
    parseGatewayOptions(args);
  } catch (e) {
    if (e instanceof GatewayConfigError) return e.message;
    throw e;
  }
  throw new Error(`accepted ${args.join(" ")}`);
}

describe("porthole-gateway's command line", () => {
  it("parses the documented form, with values after a space or an equals sign", () => {
    const o = parseGatewayOptions([
      "--listen=tcp:127.0.0.1:5905",
      "--vnc",
      "unix:/run/vm/vnc.sock",
      "--stream",
      'serial0=unix:/run/vm/serial0.sock,label="Serial port 1",kind=serial',
      "--stream=mon=tcp:127.0.0.1:4444,kind=monitor,readonly",
      "--password-file",
      "/etc/pw",
      "--readonly-password-file=/etc/ro",
      "--write-window",
      "4096",
      "--slow-reader-timeout=2",
    ]);
    expect(o.listen).toEqual({ type: "tcp", host: "127.0.0.1", port: 5905 });
    expect(o.vnc).toEqual({ type: "unix", path: "/run/vm/vnc.sock" });
    expect(o.streams.map((s) => [s.name, s.kind, s.readonly])).toEqual([
      ["serial0", "serial", false],
      ["mon", "monitor", true],
    ]);
    expect([o.passwordFile, o.readOnlyPasswordFile, o.writeWindow, o.slowReaderMs]).toEqual([
      "/etc/pw",
      "/etc/ro",
      4096,
      2000,
    ]);
    expect(o.insecure).toBeFalse();
  });

  it("knows loopback hosts and treats every other name as off this machine", () => {
    for (const h of ["localhost", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
      expect(isLoopbackHost(h)).withContext(h).toBeTrue();
    for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.org", "128.0.0.1", "127.0.0.256"])
      expect(isLoopbackHost(h)).withContext(h).toBeFalse();
  });

  it("refuses a non-loopback listener without --insecure, and allows it with", () => {
    const off = ["--listen", "tcp:0.0.0.0:5900", "--vnc", "unix:/v"];
    const tls = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
    expect(refusal(off)).toContain("not a loopback address, without TLS and authentication");
    expect(refusal(["--listen", "tcp:[::]:5900", "--vnc", "unix:/v", "--password-file", "/p"])).toContain(
      "without TLS (",
    );
    expect(refusal([...off, ...tls])).toContain("without authentication (");
    // TLS with a password, or with viewers' certificates, is what off-loopback needs.
    expect(parseGatewayOptions([...off, ...tls, "--password-file", "/p"]).tls).toEqual({
      cert: "c.pem",
      key: "k.pem",
      ca: null,
    });
    expect(parseGatewayOptions([...off, ...tls, "--tls-ca", "ca.pem"]).tls?.ca).toBe("ca.pem");
    expect(parseGatewayOptions(["--listen", "tcp:[::]:5900", "--vnc", "unix:/v", "--insecure"]).listen).toEqual({
      type: "tcp",
      host: "::",
      port: 5900,
    });
  });

  const bad: [string[], string][] = [
    [["--vnc", "unix:/v"], "--listen is required"],
    [["--listen", "unix:/l"], "--vnc is required"],
    [[...BASE, "--listen", "unix:/x"], "given twice"],
    [["--listen", "udp:1", "--vnc", "unix:/v"], "tcp:HOST:PORT or unix:PATH"],
    [["--listen", "tcp:host:0", "--vnc", "unix:/v"], "port from 1 to 65535"],
    [[...BASE, "--stream", "s=unix:/a", "--stream", "s=unix:/b"], "two streams are named"],
    [[...BASE, "--stream", "s=file:/a"], "--stream s=file:/a"],
    [[...BASE, "--tls-ca", "ca.pem"], "needs --tls-cert and --tls-key"],
    [[...BASE, "--tls-cert", "c"], "go together"],
    [[...BASE, "--readonly-password-file", "f"], "needs --password-file"],
    [[...BASE, "--write-window", "0"], "whole number"],
    [[...BASE, "--slow-reader-timeout", "soon"], "whole number"],
    [[...BASE, "--password-file"], "needs a value"],
    [[...BASE, "--colour"], "unknown option"],
    [[...BASE, "stray"], "unknown option"],
  ];
  for (const [args, mention] of bad) {
    it(`refuses ${JSON.stringify(args.slice(-2).join(" "))} explaining “${mention}”`, () => {
      expect(refusal(args)).toContain(mention);
    });
  }

  it("reads a password file's first line", () => {
    expect(passwordFromFile("/p", "sesame\nsecond line\n")).toBe("sesame");
    expect(passwordFromFile("/p", "crlf\r\n")).toBe("crlf");
    expect(() => passwordFromFile("/p", "\nafter an empty line")).toThrowError(GatewayConfigError, /empty/);
  });
});
