import { formatServerAddress, parseServerAddress, type ServerAddress } from "../../src/protocol/address.js";
import { ProtocolError } from "../../src/protocol/errors.js";

describe("server addresses", () => {
  const cases: [string, ServerAddress][] = [
    ["vnc://example.org", { kind: "tcp", host: "example.org", port: 5900 }],
    ["vnc://example.org:5901", { kind: "tcp", host: "example.org", port: 5901 }],
    ["VNC://example.org:7/", { kind: "tcp", host: "example.org", port: 7 }],
    ["vnc://alice@10.0.0.2:5905?VncPassword=x", { kind: "tcp", host: "10.0.0.2", port: 5905, username: "alice" }],
    ["vnc://[::1]:5902", { kind: "tcp", host: "::1", port: 5902 }],
    ["vnc://[fe80::1%eth0]", { kind: "tcp", host: "fe80::1%eth0", port: 5900 }],
    ["vnc+unix:///run/vm/vnc.sock", { kind: "unix", path: "/run/vm/vnc.sock" }],
    ["vnc+unix:///tmp/with%20space", { kind: "unix", path: "/tmp/with space" }],
    ["/run/vm/vnc.sock", { kind: "unix", path: "/run/vm/vnc.sock" }],
    ["localhost", { kind: "tcp", host: "localhost", port: 5900 }],
    ["localhost:0", { kind: "tcp", host: "localhost", port: 5900 }],
    ["localhost:1", { kind: "tcp", host: "localhost", port: 5901 }],
    ["localhost:99", { kind: "tcp", host: "localhost", port: 5999 }],
    ["localhost:100", { kind: "tcp", host: "localhost", port: 100 }],
    ["localhost:5901", { kind: "tcp", host: "localhost", port: 5901 }],
    ["localhost::1", { kind: "tcp", host: "localhost", port: 1 }],
    ["[::1]:3", { kind: "tcp", host: "::1", port: 5903 }],
    ["  host-name.example  ", { kind: "tcp", host: "host-name.example", port: 5900 }],
  ];

  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parseServerAddress(text)).toEqual(expected);
    });
  }

  const bad = [
    "",
    "   ",
    "http://example.org",
    "vnc://",
    "vnc://host:0",
    "vnc://host:65536",
    "vnc://host:port",
    "vnc://host/path",
    "vnc+unix://relative",
    "host:",
    "host:-1",
    "host:123456",
    "bad host",
    "vnc://[::1",
    "vnc://[::1]x",
    "vnc://%zz@host",
  ];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)} with a message naming it`, () => {
      expect(() => parseServerAddress(text)).toThrowMatching(
        (e: unknown) => e instanceof ProtocolError && e.code === "invalid-argument" && e.message.includes(text.trim()),
      );
    });
  }

  it("formats addresses so that they parse back to themselves", () => {
    for (const [, address] of cases) expect(parseServerAddress(formatServerAddress(address))).toEqual(address);
  });
});
