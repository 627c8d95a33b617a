// porthole-gateway end to end: a real QEMU (the echo guest) behind the gateway, Porthole's
// own client (VncConnection + StreamsExtension) and porthole-capture in front of it. The
// display must arrive pixel-exact for every encoding QEMU offers; COM1 must list, open and
// echo bytes exactly, with history for a late client; passwords, the loopback rule, bad
// configuration and SIGTERM behave as documented; and a local echo server as the device
// measures throughput with small windows (figures printed into the test log).

import Gio from "gi://Gio";
import GLib from "gi://GLib";
import system from "system";

import { channelOf, dominantFrequency, findGaps, findSegments, s16le, slice, steadyPart } from "./audio-analysis.js";
import { ECHO_BANNER, type EchoGuest, startEchoGuest } from "./echo-guest.js";
import {
  bytesOf,
  Gateway,
  paceCollections,
  randomBytes,
  sha256,
  startEchoServer,
  StreamClient,
  text,
} from "./gateway-harness.js";
import { differingPixels, loadPng, parsePpm, type Picture } from "./pictures.js";
import { capture, Child, delay, freePort, programBundle, run, tempDir, waitFor } from "./processes.js";
import { type Qmp, type Qemu, startQemu } from "./qemu.js";
import { startToneGuest, TONE_FREQUENCY, type ToneGuest } from "./tone-guest.js";

Gio._promisify(Gio.InputStream.prototype, "read_bytes_async", "read_bytes_finish");
Gio._promisify(Gio.OutputStream.prototype, "write_bytes_async", "write_bytes_finish");
Gio._promisify(Gio.SocketClient.prototype, "connect_async", "connect_finish");

async function screendump(qmp: Qmp, path: string): Promise<Picture> {
  await qmp.execute("screendump", { filename: path });
  return parsePpm(GLib.file_get_contents(path)[1]);
}

/** Waits for the guest's picture (mode 13h, many colours). */
async function waitForPicture(qmp: Qmp, dir: string): Promise<void> {
  const deadline = GLib.get_monotonic_time() + 60e6;
  for (;;) {
    const now = await screendump(qmp, `${dir}/wait.ppm`);
    if (now.width === 640 && new Set(now.rgb).size > 100) return;
    if (GLib.get_monotonic_time() > deadline) throw new Error("the guest did not paint its screen");
    await delay(250);
  }
}

describe("porthole-gateway in front of QEMU", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;
  let uri: string;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir);
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gateway.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `serial0=${guest.serial},label="Serial port 1",kind=serial`,
      ],
      `${dir}/gateway.sock`,
      ["serial0: connected"],
    );
    uri = `vnc+unix://${dir}/gateway.sock`;
    // Only now does the guest run: its banner goes into the gateway's history.
    await guest.start();
    await waitForPicture(guest.qmp, dir);
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  for (const encoding of ["raw", "hextile", "zlib", "zrle", "tight", "tightpng"]) {
    it(`passes QEMU's display through pixel-exact with ${encoding}`, async () => {
      for (let attempt = 0; ; attempt++) {
        const before = await screendump(guest.qmp, `${dir}/before.ppm`);
        const r = await capture("--stats", "--encoding", encoding, uri, `${dir}/capture.png`);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const after = await screendump(guest.qmp, `${dir}/after.ppm`);
        if (differingPixels(before, after) !== 0 && attempt < 5) continue;
        const stats = JSON.parse(text(r.stdout)) as { rects: Record<string, number> };
        expect(stats.rects[encoding]).withContext(JSON.stringify(stats)).toBeGreaterThan(0);
        expect(differingPixels(loadPng(`${dir}/capture.png`), after)).toBe(0);
        return;
      }
    });
  }

  it("lists serial0 after the ack and echoes every byte value through the guest", async () => {
    const client = new StreamClient(uri);
    try {
      await client.open(1, { history: false });
      expect(client.events.slice(0, 4)).toEqual([
        "ack 1",
        "added 1 serial0 serial 5",
        "list-complete",
        "opened 1 history=0",
      ]);
      const payload = new Uint8Array(512);
      for (let i = 0; i < 512; i++) payload[i] = i & 0xff;
      const started = GLib.get_monotonic_time();
      await client.write(1, payload);
      await client.until("the echo", () => client.data(1).length >= payload.length);
      const ms = (GLib.get_monotonic_time() - started) / 1000;
      print(`# gateway: 512 bytes echoed by the QEMU guest (TCG or KVM) in ${ms.toFixed(1)} ms`);
      expect(client.data(1)).toEqual(payload);
      // The display keeps working meanwhile.
      expect(client.updates).toBeGreaterThan(0);
      expect(client.framebuffer.width).toBe(640);
    } finally {
      client.close();
    }
  });

  it("replays the guest's earlier output as history to a late client", async () => {
    const first = new StreamClient(uri);
    try {
      await first.open(1, { history: false });
      await first.write(1, bytesOf("late client test\r\n"));
      await first.until("the echo", () => text(first.data(1)).includes("late client test\r\n"));
    } finally {
      first.close();
    }
    const late = new StreamClient(uri);
    try {
      await late.open(1, { history: true });
      const opened = late.events.find((e) => e.startsWith("opened 1")) ?? "";
      const historyLength = Number(/history=(\d+)/.exec(opened)?.[1]);
      expect(historyLength).toBeGreaterThan(ECHO_BANNER.length);
      await late.until("the history", () => late.data(1).length >= historyLength);
      const history = text(late.data(1));
      expect(history.startsWith(ECHO_BANNER)).toBeTrue();
      expect(history.endsWith("late client test\r\n")).toBeTrue();
    } finally {
      late.close();
    }
  });

  it("closes open streams with reason 6 on SIGTERM and exits 0", async () => {
    const client = new StreamClient(uri);
    await client.open(1, { history: false });
    const status = await gateway.stop();
    expect(status).toBe(0);
    await client.until("the CLOSED", () => client.events.includes("closed 1 6"));
    // The server's CLOSED came before the connection ended (not only the local end).
    expect(client.events.filter((e) => e.startsWith("closed 1"))).toEqual(["closed 1 6"]);
    expect(gateway.log()).toContain("shutting down");
    expect(GLib.file_test(`${dir}/gateway.sock`, GLib.FileTest.EXISTS)).toBeFalse();
    client.close();
    // Back for the remaining specs and afterAll.
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gateway.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        `serial0=${guest.serial}`,
      ],
      `${dir}/gateway.sock`,
      ["serial0: connected"],
    );
  });
});

describe("porthole-gateway with a password", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir);
    await guest.start();
    GLib.file_set_contents(`${dir}/password`, "sesame\n");
    GLib.file_set_contents(`${dir}/wrong`, "simsim\n");
    gateway = await Gateway.start(
      ["--listen", `unix:${dir}/gw.sock`, "--vnc", `unix:${guest.vncSocket}`, "--password-file", `${dir}/password`],
      `${dir}/gw.sock`,
    );
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("lets the right password in", async () => {
    const r = await capture("--password-file", `${dir}/password`, `vnc+unix://${dir}/gw.sock`, `${dir}/ok.png`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("refuses a wrong password and logs it", async () => {
    const r = await capture("--password-file", `${dir}/wrong`, `vnc+unix://${dir}/gw.sock`, `${dir}/no.png`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^porthole-capture: authentication failed: Authentication failed/);
    await waitFor("the log line", () => /client \d+: disconnected: authentication failed/.test(gateway.log()));
  });
});

describe("porthole-gateway configuration", () => {
  const gw = (...args: string[]) => run(["gjs", "-m", programBundle("porthole-gateway"), ...args]);

  it("refuses a non-loopback TCP listener without --insecure: one line, exit 2", async () => {
    const r = await gw("--listen", `tcp:0.0.0.0:${freePort()}`, "--vnc", "unix:/nonexistent");
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      jasmine.stringMatching(
        /^porthole-gateway: refusing to listen on tcp:0\.0\.0\.0:\d+, which is not a loopback address/,
      ),
    ]);
  });

  it("refuses bad options and a certificate it cannot load, each in one line with exit 2", async () => {
    for (const args of [
      ["--listen", "unix:/tmp/x", "--vnc", "unix:/y", "--tls-cert", "c", "--tls-key", "k"],
      ["--listen", "unix:/tmp/x"],
      ["--listen", "unix:/tmp/x", "--vnc", "unix:/y", "--stream", "bad"],
      ["--listen", "udp:1", "--vnc", "unix:/y"],
      ["--listen", "unix:/tmp/x", "--vnc", "unix:/y", "--password-file", "/nonexistent/pw"],
      ["--frobnicate"],
    ]) {
      const r = await gw(...args);
      expect(r.status).withContext(args.join(" ")).toBe(2);
      expect(r.stderr.trimEnd().split("\n").length).withContext(r.stderr).toBe(1);
    }
  });

  it("listens on loopback TCP and on a non-loopback address with --insecure", async () => {
    const dir = tempDir();
    const port = freePort();
    const child = new Child([
      "gjs",
      "-m",
      programBundle("porthole-gateway"),
      "--listen",
      `tcp:0.0.0.0:${port}`,
      "--vnc",
      `unix:${dir}/none.sock`,
      "--insecure",
    ]);
    try {
      await child.waitForPort(port);
    } finally {
      await child.stop();
      GLib.spawn_command_line_sync(`rm -rf ${dir}`);
    }
  });
});

/**
 * The direct baselines: a connection to the echo server from this process, driven with
 * plain callbacks (promisified Gio calls lose completions under this load in gjs 1.74,
 * see src/gateway/pipe.ts).
 */
function connectDirect(path: string): Gio.SocketConnection {
  return new Gio.SocketClient().connect(Gio.UnixSocketAddress.new(path), null);
}

/** Round trips of one byte through a direct connection to `path`: mean milliseconds. */
function directEchoLatency(path: string, rounds: number): Promise<number> {
  const connection = connectDirect(path);
  const input = connection.get_input_stream();
  const output = connection.get_output_stream();
  const started = GLib.get_monotonic_time();
  return new Promise((resolve, reject) => {
    let round = 0;
    const next = (): void => {
      if (round === rounds) {
        connection.close(null);
        resolve((GLib.get_monotonic_time() - started) / 1000 / rounds);
        return;
      }
      output.write_bytes_async(new GLib.Bytes(Uint8Array.of(round & 0xff)), GLib.PRIORITY_DEFAULT, null, (_o, r) => {
        output.write_bytes_finish(r);
      });
      input.read_bytes_async(1, GLib.PRIORITY_DEFAULT, null, (_i, r) => {
        try {
          if (input.read_bytes_finish(r).get_size() !== 1) throw new Error("the echo server closed");
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        round++;
        next();
      });
    };
    next();
  });
}

/** `payload` written to and read back from a direct connection: MiB/s. */
function directThroughput(path: string, payload: Uint8Array): Promise<number> {
  const connection = connectDirect(path);
  const input = connection.get_input_stream();
  const output = connection.get_output_stream();
  const started = GLib.get_monotonic_time();
  return new Promise((resolve, reject) => {
    let at = 0;
    const write = (): void => {
      if (at >= payload.length) return;
      const chunk = new GLib.Bytes(payload.subarray(at, Math.min(payload.length, at + 65536)));
      output.write_bytes_async(chunk, GLib.PRIORITY_DEFAULT, null, (_o, r) => {
        const n = output.write_bytes_finish(r);
        paceCollections(n);
        at += n;
        write();
      });
    };
    let got = 0;
    const read = (): void => {
      input.read_bytes_async(65536, GLib.PRIORITY_DEFAULT, null, (_i, r) => {
        let n: number;
        try {
          n = input.read_bytes_finish(r).get_size();
          if (n === 0) throw new Error("the echo server closed");
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        paceCollections(n);
        got += n;
        if (got < payload.length) {
          read();
          return;
        }
        connection.close(null);
        resolve(payload.length / 1048576 / ((GLib.get_monotonic_time() - started) / 1e6));
      });
    };
    write();
    read();
  });
}

/**
 * Writes `size` random bytes to stream 1 through `uri` and reads them back; checks them
 * byte for byte and returns MiB/s of the round trip.
 */
async function streamRoundTrip(uri: string, size: number, readWindow: number): Promise<number> {
  const payload = randomBytes(size, size ^ readWindow);
  const client = new StreamClient(uri);
  try {
    await client.open(1, { history: false, readWindow });
    const received = new Uint8Array(size);
    let got = 0;
    let overflow = false;
    client.keep = false;
    let finished: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    client.onData((_id, bytes) => {
      if (got + bytes.length > size) overflow = true;
      else received.set(bytes, got);
      got += bytes.length;
      if (got >= size) finished();
    });
    system.gc();
    const started = GLib.get_monotonic_time();
    await client.write(1, payload);
    await done;
    const seconds = (GLib.get_monotonic_time() - started) / 1e6;
    expect(overflow).toBeFalse();
    expect(got).toBe(size);
    expect(sha256(received)).toBe(sha256(payload));
    return size / 1048576 / seconds;
  } finally {
    client.close();
  }
}

describe("porthole-gateway with a local echo server as the device", () => {
  let dir: string;
  let guest: EchoGuest;
  let echo: Child;
  /** With an 8 KiB write window, to exercise credit. */
  let gateway: Gateway;
  /** With the default 64 KiB write window, for the throughput figure. */
  let standard: Gateway;
  let uri: string;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir);
    await guest.start();
    echo = await startEchoServer(`${dir}/echo.sock`);
    const stream = `echo=unix:${dir}/echo.sock,kind=channel,history=64K`;
    gateway = await Gateway.start(
      [
        "--listen",
        `unix:${dir}/gw.sock`,
        "--vnc",
        `unix:${guest.vncSocket}`,
        "--stream",
        stream,
        "--write-window",
        "8192",
      ],
      `${dir}/gw.sock`,
      ["echo: connected"],
    );
    standard = await Gateway.start(
      ["--listen", `unix:${dir}/standard.sock`, "--vnc", `unix:${guest.vncSocket}`, "--stream", stream],
      `${dir}/standard.sock`,
      ["echo: connected"],
    );
    uri = `vnc+unix://${dir}/gw.sock`;
  });

  afterAll(async () => {
    await gateway.stop();
    await standard.stop();
    await echo.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("round-trips 16 MiB byte-exact with 4 KiB read and 8 KiB write windows", async () => {
    const rate = await streamRoundTrip(uri, 16 * 1024 * 1024, 4096);
    print(`# gateway: 16 MiB echo round trip with 4 KiB read / 8 KiB write windows: ${rate.toFixed(1)} MiB/s`);
  }, 300000);

  it("round-trips 32 MiB with the default 64 KiB windows, compared with the device directly", async () => {
    const rate = await streamRoundTrip(`vnc+unix://${dir}/standard.sock`, 32 * 1024 * 1024, 65536);
    const direct = await directThroughput(`${dir}/echo.sock`, randomBytes(32 * 1024 * 1024, 7));
    print(
      `# gateway: 32 MiB echo round trip with 64 KiB windows: ${rate.toFixed(1)} MiB/s through the gateway, ` +
        `${direct.toFixed(1)} MiB/s directly to the echo socket (${((100 * rate) / direct).toFixed(0)} %)`,
    );
  }, 300000);

  it("adds little echo latency", async () => {
    const client = new StreamClient(uri);
    try {
      await client.open(1, { history: false });
      let got = 0;
      let arrived: (() => void) | null = null;
      client.onData((_id, bytes) => {
        got += bytes.length;
        arrived?.();
      });
      const rounds = 200;
      const started = GLib.get_monotonic_time();
      for (let i = 0; i < rounds; i++) {
        const echoed = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        client.streams.write(1, Uint8Array.of(i & 0xff));
        await echoed;
      }
      const viaGateway = (GLib.get_monotonic_time() - started) / 1000 / rounds;
      const direct = await directEchoLatency(`${dir}/echo.sock`, rounds);
      print(
        `# gateway: 1-byte echo round trip ${viaGateway.toFixed(2)} ms through the gateway, ${direct.toFixed(2)} ms direct`,
      );
      expect(got).toBe(rounds);
    } finally {
      client.close();
    }
  });

  it("tells open streams when the device goes away and comes back, and carries on", async () => {
    const client = new StreamClient(uri);
    try {
      await client.open(1, { history: false });
      await client.until("the backend state", () => client.events.includes("backend 1 1"));
      // The device restarts: the gateway sees it go and reconnects to the new one.
      await echo.stop();
      await client.until("BACKEND_STATE 0", () => client.events.includes("backend 1 0"));
      GLib.unlink(`${dir}/echo.sock`);
      echo = await startEchoServer(`${dir}/echo.sock`);
      await client.until("BACKEND_STATE 1 again", () => client.events.filter((e) => e === "backend 1 1").length === 2);
      // The stream stayed open and works over the new connection.
      await client.write(1, bytesOf("again"));
      await client.until("the echo", () => text(client.data(1)).includes("again"));
    } finally {
      client.close();
    }
  });
});

describe("porthole-gateway with a pty device", () => {
  let dir: string;
  let guest: EchoGuest;
  let gateway: Gateway;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startEchoGuest(dir, "pty");
    gateway = await Gateway.start(
      ["--listen", `unix:${dir}/gw.sock`, "--vnc", `unix:${guest.vncSocket}`, "--stream", `ttyS0=${guest.serial}`],
      `${dir}/gw.sock`,
      ["ttyS0: connected"],
    );
    await guest.start();
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("echoes through QEMU's pty chardev, with the banner in the history", async () => {
    const client = new StreamClient(`vnc+unix://${dir}/gw.sock`);
    try {
      await client.open(1, { history: true });
      await client.until("the banner", () => text(client.data(1)).includes(ECHO_BANNER));
      await client.write(1, bytesOf("over a pty\r\n"));
      await client.until("the echo", () => text(client.data(1)).endsWith("over a pty\r\n"));
      expect(client.events).toContain("added 1 ttyS0 serial 5");
    } finally {
      client.close();
    }
  });
});

describe("porthole-gateway passing QEMU's audio through", () => {
  let dir: string;
  let guest: ToneGuest;
  let gateway: Gateway;

  beforeAll(async () => {
    dir = tempDir();
    guest = await startToneGuest(dir);
    gateway = await Gateway.start(
      ["--listen", `unix:${dir}/gw.sock`, "--vnc", `unix:${dir}/vnc.sock`],
      `${dir}/gw.sock`,
    );
  });

  afterAll(async () => {
    await gateway.stop();
    await guest.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("delivers the guest's tone (QEMU audio messages 255/1) without gaps", async () => {
    const phase = await guest.phase();
    if (!phase.on || phase.remaining < 3) await guest.nextSwitch("on");
    const wav = `${dir}/tone.wav`;
    const r = await capture("--audio", wav, "--duration", "2", "--stats", `vnc+unix://${dir}/gw.sock`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const s = JSON.parse(text(r.stdout)) as { format: string; rate: number; frames: number; dataMessages: number };
    expect(s).toEqual(jasmine.objectContaining({ format: "s16", rate: 48000 }));
    expect(s.dataMessages).toBeGreaterThan(10);
    // The WAV's PCM after its 44-byte header: one channel of the stereo S16LE samples.
    const bytes = GLib.file_get_contents(wav)[1];
    const left = channelOf(s16le(bytes.subarray(44)), 2, 0);
    const segments = findSegments(left, 48000, 200);
    expect(segments.length).withContext(JSON.stringify(segments)).toBe(1);
    const tone = slice(left, steadyPart(segments[0] ?? { start: 0, end: 0 }, 48000, 100));
    expect(tone.length / 48000).toBeGreaterThan(1.5);
    expect(findGaps(tone, 48000, 20)).toEqual([]);
    expect(Math.abs(dominantFrequency(tone, 48000) / TONE_FREQUENCY - 1)).toBeLessThan(0.002);
  });
});

describe("porthole-gateway over TCP with a TCP device", () => {
  let dir: string;
  let qemu: Qemu;
  let echo: Child;
  let gateway: Gateway;
  let port: number;

  beforeAll(async () => {
    dir = tempDir();
    qemu = await startQemu(dir);
    const echoPort = freePort();
    echo = new Child(["gjs", "-m", programBundle("porthole-stream-device"), "echo", `tcp:${echoPort}`]);
    await echo.waitForLine("ready");
    port = freePort();
    const child = new Child([
      "gjs",
      "-m",
      programBundle("porthole-gateway"),
      "--listen",
      `tcp:127.0.0.1:${port}`,
      "--vnc",
      `unix:${dir}/vnc.sock`,
      "--stream",
      `net=tcp:127.0.0.1:${echoPort},kind=channel`,
    ]);
    await child.waitForPort(port);
    gateway = await Gateway.adopt(child, ["net: connected"]);
  });

  afterAll(async () => {
    await gateway.stop();
    await echo.stop();
    qemu.qmp.close();
    await qemu.child.stop();
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  it("serves a viewer on loopback TCP and echoes through a TCP device", async () => {
    const client = new StreamClient(`vnc://127.0.0.1:${port}`);
    try {
      await client.open(1, { history: false });
      expect(client.events).toContain("added 1 net channel 5");
      await client.write(1, bytesOf("over tcp"));
      await client.until("the echo", () => text(client.data(1)) === "over tcp");
      await client.until("a picture", () => client.updates > 0);
      expect(client.framebuffer.width).toBe(640);
    } finally {
      client.close();
    }
    expect(gateway.log()).toMatch(/client \d+: connected from 127\.0\.0\.1:\d+/);
  });
});
