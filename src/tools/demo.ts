// porthole-demo: Porthole's main job on its embedded default. Boots the demo guest (see
// demo-guest.ts) behind porthole-gateway and opens the viewer on it — display, a tab per
// stream (serial0, console0, the QEMU monitor), sound — and stops everything it started
// when the viewer closes (or on Ctrl+C). `npm start` runs it after building the guest.
// Without a graphical display the guest and gateway still run, for porthole-console.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import { buildConfig } from "../platform/config.js";
import { runProgram, UsageError } from "../platform/command-line.js";
import { type ChildProcess, runCommand } from "./child-process.js";
import { type DemoGuest, guestImage, startDemoGuest } from "./demo-guest.js";

Gio._promisify(Gio.Subprocess.prototype, "wait_async", "wait_finish");

const NAME = "porthole-demo";

function say(line: string): void {
  printerr(`${NAME}: ${line}`);
}

/** Resolves on SIGINT or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      resolve();
      return GLib.SOURCE_REMOVE;
    };
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, 2, stop);
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, 15, stop);
  });
}

/** Whether a PulseAudio (or PipeWire-pulse) server answers, as the viewer's sink needs. */
async function soundServer(): Promise<boolean> {
  if (GLib.find_program_in_path("pactl") === null) return true; // cannot tell: let the viewer try
  try {
    return (await runCommand(["pactl", "info"])).status === 0;
  } catch {
    return true;
  }
}

async function main(args: string[]): Promise<number> {
  const guestDir = args[0];
  if (guestDir === undefined || args.length > 1)
    throw new UsageError("give the guest's directory (build-aux/build-guest.mjs prints it)");
  const image = guestImage(guestDir);
  const work = GLib.dir_make_tmp("porthole-demo-XXXXXX");
  const children: ChildProcess[] = [];
  const stopNow = () => {
    for (const c of children.reverse()) c.stopNow();
  };
  let guest: DemoGuest | null = null;
  try {
    say(`booting the demo guest (${image.dir}) …`);
    const signal = interrupted();
    guest = await startDemoGuest(image, work, { onSpawn: (c) => children.push(c) });
    say(
      `the guest runs with ${guest.accelerator === "kvm" ? "KVM" : "TCG (no usable /dev/kvm: slower)"}; its consoles log in as root with the password “${image.rootPassword}”`,
    );
    say(`gateway: ${guest.uri}`);
    const display = GLib.getenv("DISPLAY") ?? GLib.getenv("WAYLAND_DISPLAY");
    if (!display) {
      say("there is no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set), so no viewer:");
      say(`  attach to the serial console with: npx porthole-console --stream serial0 ${guest.uri}`);
      say("Ctrl+C stops the guest.");
      await signal;
      return 0;
    }
    if (!(await soundServer())) say("no sound server answers (pactl info failed): the guest's sound will not be heard");
    // The viewer shares this terminal (its messages are the user's to see).
    const viewer = Gio.Subprocess.new(
      ["gjs", "-m", `${buildConfig().pkgdatadir}/porthole.js`, "--title", "Porthole demo guest", guest.uri],
      Gio.SubprocessFlags.NONE,
    );
    const closed = viewer.wait_async(null).then(() => "closed" as const);
    const how = await Promise.race([closed, signal.then(() => "signal" as const)]);
    if (how === "signal") {
      viewer.send_signal(15);
      await closed;
    }
    return how === "closed" && !viewer.get_successful() ? 1 : 0;
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    return 1;
  } finally {
    say("stopping the guest and the gateway");
    if (guest) await guest.stop();
    else stopNow();
    GLib.spawn_command_line_sync(`rm -rf ${GLib.shell_quote(work)}`);
  }
}

runProgram(
  {
    name: NAME,
    summary: "Boot the demo guest behind porthole-gateway and open the viewer on it",
    usage: ["GUEST_DIR"],
    description:
      "GUEST_DIR holds vmlinuz and initrd.img from build-aux/build-guest.mjs (npm start builds\n" +
      "it). The viewer shows the guest's display, its serial port, virtio console and QEMU\n" +
      "monitor as tabs, and plays its sound. It prints root's password at start; `play-tone`\n" +
      "plays a tone. Closing the viewer stops the guest.",
  },
  main,
);
