// A hostile server: a unix socket that plays a scripted byte sequence to porthole-capture.
// Each class of malformed input must end in one clear line on stderr, exit status 1 and
// no output file, within 5 s — never a crash, a hang or a memory blow-up.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { capture, tempDir } from "./processes.js";

Gio._promisify(Gio.OutputStream.prototype, "write_all_async", "write_all_finish");

const u16 = (n: number) => [n >> 8, n & 0xff];
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
// 32 bpp, depth 24, little-endian, true colour, 255/255/255, shifts 16/8/0.
const PIXEL_FORMAT = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

function hello(width = 64, height = 48, nameLength?: number): number[] {
  const name = ascii("hostile");
  return [
    ...ascii("RFB 003.008\n"),
    1,
    1, // one security type: None
    ...u32(0), // SecurityResult OK
    ...u16(width),
    ...u16(height),
    ...PIXEL_FORMAT,
    ...u32(nameLength ?? name.length),
    ...(nameLength === undefined ? name : []),
  ];
}

const rect = (x: number, y: number, w: number, h: number, encoding: number) => [
  ...u16(x),
  ...u16(y),
  ...u16(w),
  ...u16(h),
  ...u32(encoding >>> 0),
];
const update = (...rects: number[][]) => [0, 0, ...u16(rects.length), ...rects.flat()];

interface Scenario {
  readonly name: string;
  readonly bytes: number[];
  /** What the error line must mention. */
  readonly says: RegExp;
  /** Keep the connection open after the bytes (a server that goes silent). */
  readonly stall?: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: "not an RFB server", bytes: ascii("HTTP/1.1 400 Bad Request\r\n\r\n"), says: /not a VNC server/ },
  { name: "a huge desktop", bytes: hello(20000, 20000), says: /larger than 16384/ },
  { name: "a 1 GiB desktop name", bytes: hello(64, 48, 1 << 30), says: /desktop name/ },
  { name: "a rectangle outside the desktop", bytes: [...hello(), ...update(rect(60, 40, 10, 10, 0))], says: /outside/ },
  { name: "an unknown message type", bytes: [...hello(), 0x77], says: /message type 119/ },
  {
    name: "an encoding it did not ask for",
    bytes: [...hello(), ...update(rect(0, 0, 1, 1, 999))],
    says: /encoding 999/,
  },
  { name: "a 2 GiB clipboard", bytes: [...hello(), 3, 0, 0, 0, ...u32(0x7fffffff)], says: /clipboard/ },
  { name: "colour map entries past 255", bytes: [...hello(), 1, 0, ...u16(200), ...u16(100)], says: /colour map/ },
  { name: "a 1000×1000 cursor", bytes: [...hello(), ...update(rect(0, 0, 1000, 1000, -239))], says: /cursor/ },
  { name: "a resize past the limit", bytes: [...hello(), ...update(rect(0, 0, 30000, 10, -223))], says: /larger than/ },
  {
    name: "a hextile subrectangle outside its tile",
    bytes: [...hello(), ...update(rect(0, 0, 16, 16, 5)), 0x0a, 0, 0, 0, 0, 1, 0xf0, 0xff],
    says: /malformed|outside|tile/,
  },
  {
    name: "corrupt ZRLE zlib data",
    bytes: [...hello(), ...update(rect(0, 0, 16, 16, 16)), ...u32(6), 0x78, 0x9c, 0xff, 0xff, 0xff, 0xff],
    says: /zlib|corrupt/i,
  },
  {
    name: "a 4 GiB ZRLE payload",
    bytes: [...hello(), ...update(rect(0, 0, 16, 16, 16)), ...u32(0xfffffff0)],
    says: /limit|bytes|large/i,
  },
  {
    name: "a 4 GiB RRE subrectangle count",
    bytes: [...hello(), ...update(rect(0, 0, 16, 16, 2)), ...u32(0xffffffff), 0, 0, 0, 0],
    says: /limit|subrect|count/i,
  },
  {
    name: "a connection cut mid-update",
    bytes: [...hello(), ...update(rect(0, 0, 64, 48, 0)), 1, 2, 3],
    says: /closed/,
  },
  { name: "a server that goes silent", bytes: hello(), says: /no complete picture within 2 s/, stall: true },
];

/** Serves `scenario` to the first client on a unix socket, reading and dropping its input. */
function serve(path: string, scenario: Scenario): Gio.SocketService {
  const service = new Gio.SocketService();
  service.add_address(Gio.UnixSocketAddress.new(path), Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null);
  service.connect("incoming", (_service, connection: Gio.SocketConnection) => {
    const drain = () => {
      connection.get_input_stream().read_bytes_async(65536, GLib.PRIORITY_DEFAULT, null, (stream, res) => {
        try {
          if (stream?.read_bytes_finish(res).get_size()) drain();
        } catch {
          // the client went away
        }
      });
    };
    drain();
    void connection
      .get_output_stream()
      .write_all_async(Uint8Array.from(scenario.bytes), GLib.PRIORITY_DEFAULT, null)
      .then(() => {
        if (!scenario.stall) connection.close(null);
      })
      .catch(() => undefined);
    return true;
  });
  service.start();
  return service;
}

describe("porthole-capture against a hostile server", () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir();
  });

  afterAll(() => {
    GLib.spawn_command_line_sync(`rm -rf ${dir}`);
  });

  SCENARIOS.forEach((scenario, i) => {
    it(`ends cleanly on ${scenario.name}`, async () => {
      const socket = `${dir}/s${i}.sock`;
      const service = serve(socket, scenario);
      const out = `${dir}/out${i}.png`;
      const started = GLib.get_monotonic_time();
      try {
        const r = await capture("--timeout", "2", `vnc+unix://${socket}`, out);
        const seconds = (GLib.get_monotonic_time() - started) / 1e6;
        expect(r.status).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines.length).withContext(r.stderr).toBe(1);
        expect(lines[0]).toMatch(/^porthole-capture: /);
        expect(lines[0]).toMatch(scenario.says);
        expect(seconds).toBeLessThan(5);
        expect(GLib.file_test(out, GLib.FileTest.EXISTS)).toBeFalse();
      } finally {
        service.stop();
        service.close();
      }
    });
  });
});
