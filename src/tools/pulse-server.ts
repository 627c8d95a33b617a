// A private, headless PulseAudio for porthole-bench audio and the audio specs
// (tests/gjs/pulse.ts re-exports this module): one null sink whose monitor source
// records exactly what was played into it, reached through a unix socket in a temporary
// directory. Nothing of the user's is touched: the daemon's HOME, XDG_RUNTIME_DIR and
// PULSE_RUNTIME_PATH point into that directory, it loads no default script (-n, and
// -F /dev/null for the configuration), and the clients started here get PULSE_SERVER,
// PULSE_COOKIE and PULSE_CLIENTCONFIG from `clientEnv`.
//
// Measured here (PulseAudio 16.1, Debian 12):
// - As root, `pulseaudio` (user mode) only warns ("This program is not intended to be run
//   as root (unless --system is specified)") and runs; as another user (runuser -u nobody)
//   it runs the same without the warning. --system is not needed, and not wanted: it would
//   use /var/run/pulse and the system's configuration.
// - The daemon looks for a D-Bus session bus; without an address libdbus autolaunches one
//   when there is a DISPLAY (without one it said "Unable to autolaunch a dbus-daemon without
//   a $DISPLAY for X11"), which would leave a dbus-daemon behind. An address that does not
//   exist makes it give up at once, with a warning.
// - A libpulse client (pactl here) created ~/.config/pulse/cookie in the real HOME, even
//   with auth-anonymous, unless PULSE_COOKIE named another file.
// - With the null sink's default rewinds, a stream joining a sink that had rendered silence
//   ahead lost its first ~110 ms in the monitor (1.89 s of a 2 s tone recorded); with
//   norewinds=1 the monitor held all 2.000 s. Shared memory transport logged "Cannot send
//   block reference with non-registered memfd ID" (PulseAudio issue 824); --disable-shm
//   sends the audio over the socket instead.
// - The null sink's monitor runs in real time while recorded: 1 s of parec gave 0.96–1.00 s
//   of samples, and what pacat played came back sample for sample (tests/gjs/pulse.spec.ts).
//   parec asks for 20 ms fragments so that little is still in flight when it is stopped.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { s16le } from "./audio-analysis.js";
import { ChildProcess, delay, runCommand } from "./child-process.js";

Gio._promisify(Gio.Subprocess.prototype, "wait_async", "wait_finish");

/** The null sink's format: what the monitor records in, and what `record` returns. */
export const PULSE_RATE = 48000;
export const PULSE_CHANNELS = 2;
export const PULSE_SINK = "porthole_test";

export interface Recording {
  /**
   * Resolves once parec records: its first bytes are written (a null sink's monitor
   * delivers silence in real time, so that is within a period of its connecting).
   * Starting parec takes from a few to over 600 ms on a busy host; whatever plays before
   * this resolves may be missing from the recording.
   */
  started(): Promise<void>;
  /** Stops parec by PID and returns what it recorded: interleaved s16 stereo at 48 kHz. */
  stop(): Promise<Int16Array>;
  /** Stops parec by PID at once and throws its recording away (for signal handlers). */
  discard(): void;
}

export interface PulseServer {
  readonly child: ChildProcess;
  /** The PULSE_SERVER string: unix:DIR/pulse/native. Also pulsesink's `server` property. */
  readonly server: string;
  /** The null sink's name, for pulsesink's `device` or pacat -d. */
  readonly sink: string;
  /** Its monitor source. */
  readonly monitor: string;
  /** The environment for libpulse clients started as subprocesses. */
  readonly clientEnv: Readonly<Record<string, string>>;
  /**
   * Sets `clientEnv` in this process, for a libpulse client inside it (GStreamer's
   * pulsesink reads the variables when it connects); returns a function that restores them.
   */
  useInThisProcess(): () => void;
  /** Starts recording the sink's monitor (parec, s16le 48 kHz stereo). */
  startRecording(): Recording;
  /** Records the sink's monitor for `seconds` of wall time from when parec records. */
  record(seconds: number): Promise<Int16Array>;
  /** Plays interleaved s16 stereo 48 kHz samples into the sink with pacat; resolves when done. */
  play(samples: Int16Array): Promise<void>;
  /** Stops the daemon by PID. */
  stop(): Promise<void>;
}

export interface PulseOptions {
  /** Told of the daemon's process as soon as it runs (a caller that must stop it on a signal). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

let recordings = 0;
const RECORDING_START_TIMEOUT_MS = 10000;

/**
 * Starts `pulseaudio` with a null sink PULSE_SINK (48 kHz stereo) on a unix socket in
 * DIR/pulse (its log in DIR/pulseaudio.log), and resolves once a client can connect.
 */
export async function startPulse(dir: string, options: PulseOptions = {}): Promise<PulseServer> {
  for (const sub of ["pulse", "home", "runtime"]) GLib.mkdir_with_parents(`${dir}/${sub}`, 0o700);
  const socket = `${dir}/pulse/native`;
  const server = `unix:${socket}`;
  const clientEnv = {
    PULSE_SERVER: server,
    PULSE_COOKIE: `${dir}/pulse/cookie`,
    PULSE_CLIENTCONFIG: "/dev/null",
  };
  const child = new ChildProcess(
    [
      "pulseaudio",
      "-n",
      "-F",
      "/dev/null",
      "--daemonize=no",
      "--exit-idle-time=-1",
      "--disallow-exit",
      "--use-pid-file=no",
      "--realtime=no",
      "--high-priority=no",
      "--disable-shm=yes",
      "--log-target=stderr",
      // The sink first: once the socket exists, the sink is there for any client.
      `--load=module-null-sink sink_name=${PULSE_SINK} rate=${PULSE_RATE} channels=${PULSE_CHANNELS} norewinds=1`,
      `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1 auth-cookie-enabled=0`,
    ],
    {
      env: {
        HOME: `${dir}/home`,
        XDG_RUNTIME_DIR: `${dir}/runtime`,
        PULSE_RUNTIME_PATH: `${dir}/pulse`,
        XDG_CONFIG_HOME: `${dir}/home/.config`,
        DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/no-bus`,
      },
      log: `${dir}/pulseaudio.log`,
      name: "pulseaudio",
    },
  );
  options.onSpawn?.(child);
  try {
    await child.waitUntil("its socket", () => GLib.file_test(socket, GLib.FileTest.EXISTS));
  } catch (e) {
    await child.stop();
    throw e;
  }

  const format = ["--format=s16le", `--rate=${PULSE_RATE}`, `--channels=${PULSE_CHANNELS}`, "--raw"];

  const startRecording = (): Recording => {
    const path = `${dir}/recording-${++recordings}`;
    const launcher = new Gio.SubprocessLauncher({ flags: Gio.SubprocessFlags.NONE });
    launcher.set_stdout_file_path(`${path}.raw`);
    launcher.set_stderr_file_path(`${path}.log`);
    for (const [k, v] of Object.entries(clientEnv)) launcher.setenv(k, v, true);
    const proc = launcher.spawnv(["parec", `--device=${PULSE_SINK}.monitor`, ...format, "--latency-msec=20"]);
    const read = (suffix: string): Uint8Array => {
      const [, data] = GLib.file_get_contents(`${path}${suffix}`);
      GLib.unlink(`${path}${suffix}`);
      return data;
    };
    return {
      async started(): Promise<void> {
        const deadline = GLib.get_monotonic_time() + RECORDING_START_TIMEOUT_MS * 1000;
        const file = Gio.File.new_for_path(`${path}.raw`);
        for (;;) {
          let size = 0;
          try {
            size = file.query_info("standard::size", Gio.FileQueryInfoFlags.NONE, null).get_size();
          } catch {
            // Not created yet.
          }
          if (size > 0) return;
          if (proc.get_identifier() === null)
            throw new Error(`parec exited before recording: ${new TextDecoder().decode(read(".log")).trim()}`);
          if (GLib.get_monotonic_time() > deadline)
            throw new Error(`parec recorded nothing within ${RECORDING_START_TIMEOUT_MS / 1000} s`);
          await delay(10);
        }
      },
      async stop(): Promise<Int16Array> {
        const early = proc.get_identifier() === null;
        proc.send_signal(15);
        await proc.wait_async(null);
        const data = read(".raw");
        const log = new TextDecoder().decode(read(".log")).trim();
        if (early) throw new Error(`parec exited before it was stopped: ${log}`);
        return s16le(data);
      },
      discard(): void {
        if (proc.get_identifier() !== null) {
          proc.send_signal(15);
          const deadline = GLib.get_monotonic_time() + 3_000_000;
          while (proc.get_identifier() !== null && GLib.get_monotonic_time() < deadline) GLib.usleep(10_000);
          if (proc.get_identifier() !== null) proc.force_exit();
        }
        for (const suffix of [".raw", ".log"]) GLib.unlink(`${path}${suffix}`);
      },
    };
  };

  return {
    child,
    server,
    sink: PULSE_SINK,
    monitor: `${PULSE_SINK}.monitor`,
    clientEnv,
    useInThisProcess(): () => void {
      const saved = Object.keys(clientEnv).map((k) => [k, GLib.getenv(k)] as const);
      for (const [k, v] of Object.entries(clientEnv)) GLib.setenv(k, v, true);
      return () => {
        for (const [k, v] of saved) {
          if (v === null) GLib.unsetenv(k);
          else GLib.setenv(k, v, true);
        }
      };
    },
    startRecording,
    async record(seconds: number): Promise<Int16Array> {
      const recording = startRecording();
      try {
        await recording.started();
      } catch (e) {
        recording.discard();
        throw e;
      }
      await delay(Math.round(seconds * 1000));
      return recording.stop();
    },
    async play(samples: Int16Array): Promise<void> {
      const path = `${dir}/play-${++recordings}.raw`;
      const bytes = new Uint8Array(samples.length * 2);
      const view = new DataView(bytes.buffer);
      samples.forEach((s, i) => {
        view.setInt16(i * 2, s, true);
      });
      GLib.file_set_contents(path, bytes);
      const r = await runCommand(["pacat", `--device=${PULSE_SINK}`, ...format, path], clientEnv);
      GLib.unlink(path);
      if (r.status !== 0) throw new Error(`pacat failed (${r.status}): ${r.stderr}`);
    },
    async stop(): Promise<void> {
      await child.stop();
    },
  };
}
