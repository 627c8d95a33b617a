import { DEFAULT_HISTORY_BYTES, parseStreamSpec, StreamSpecError } from "../../src/gateway/stream-spec.js";

describe("gateway --stream specs", () => {
  it("parses the documented example", () => {
    expect(parseStreamSpec('serial0=unix:/run/vm/serial0.sock,label="Serial port 1",kind=serial')).toEqual({
      name: "serial0",
      label: "Serial port 1",
      kind: "serial",
      backend: { type: "unix", path: "/run/vm/serial0.sock" },
      historyBytes: DEFAULT_HISTORY_BYTES,
      readonly: false,
    });
  });

  it("takes readonly as a flag without a value", () => {
    expect(parseStreamSpec("log=unix:/run/vm/log.sock,readonly,kind=channel").readonly).toBeTrue();
    expect(() => parseStreamSpec("log=unix:/x,readonly=yes")).toThrowMatching(
      (e: unknown) => e instanceof StreamSpecError && e.message.includes("no value"),
    );
  });

  it("defaults the label to the name and the kind to serial", () => {
    const spec = parseStreamSpec("ttyS1=pty:/dev/pts/4");
    expect(spec.label).toBe("ttyS1");
    expect(spec.kind).toBe("serial");
    expect(spec.backend).toEqual({ type: "pty", path: "/dev/pts/4" });
  });

  it("accepts tcp backends, history sizes and quoted commas", () => {
    const spec = parseStreamSpec('monitor=tcp:127.0.0.1:4444,kind=monitor,history=64K,label="QEMU, monitor \\"HMP\\""');
    expect(spec.backend).toEqual({ type: "tcp", host: "127.0.0.1", port: 4444 });
    expect(spec.kind).toBe("monitor");
    expect(spec.historyBytes).toBe(65536);
    expect(spec.label).toBe('QEMU, monitor "HMP"');
    expect(parseStreamSpec("c=tcp:[::1]:5,history=0").backend).toEqual({ type: "tcp", host: "::1", port: 5 });
    expect(parseStreamSpec("c=unix:/s,history=2M").historyBytes).toBe(2 * 1024 * 1024);
  });

  const bad: [string, string][] = [
    ["serial0", "NAME=BACKEND"],
    ["=unix:/x", "name"],
    ["bad name=unix:/x", "name"],
    ["s=unix:relative", "absolute path"],
    ["s=file:/x", "backend"],
    ["s=tcp:host", "HOST:PORT"],
    ["s=tcp:host:70000", "HOST:PORT"],
    ["s=unix:/x,kind=disk", "kind"],
    ["s=unix:/x,history=lots", "history size"],
    ["s=unix:/x,history=1000M", "limit"],
    ["s=unix:/x,colour=red", "unknown option"],
    ["s=unix:/x,kind=serial,kind=console", "twice"],
    ['s=unix:/x,label="open', "quote"],
    [`s=unix:/x,label=${"x".repeat(257)}`, "256"],
    ["s=unix:/x,label=", "label"],
  ];
  for (const [spec, mention] of bad) {
    it(`rejects ${JSON.stringify(spec.slice(0, 40))} explaining “${mention}”`, () => {
      expect(() => parseStreamSpec(spec)).toThrowMatching(
        (e: unknown) => e instanceof StreamSpecError && e.message.includes(mention),
      );
    });
  }
});
