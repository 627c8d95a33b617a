#!/usr/bin/env node
// `npm start`: Porthole's main job after set-up — the demo guest (built from Debian's
// packages and cached, build-guest.mjs) booted behind porthole-gateway, with the viewer on
// it (porthole-demo). `npm start -- URI…` opens the viewer on any other server instead.
import { spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const top = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);

function run(program, programArgs, options = {}) {
  const r = spawnSync(program, programArgs, { stdio: "inherit", ...options });
  if (r.error) {
    console.error(`start: cannot run ${program}: ${r.error.message}`);
    process.exit(1);
  }
  return r;
}

if (args.length > 0) {
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.error("start: there is no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set).");
    console.error("start: run `npm start` from a desktop session, or under Xvfb: xvfb-run -a npm start");
    process.exit(1);
  }
  process.exit(run(join(top, "bin/porthole"), args).status ?? 1);
}

const built = run(process.execPath, [join(top, "build-aux/build-guest.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
if (built.status !== 0) process.exit(built.status ?? 1);
const guest = built.stdout.toString().trim();
// porthole-demo says what is missing (a display, a sound server) and runs the rest. A signal
// sent to this process alone (not the terminal's whole group) reaches it too, so that it
// stops the guest it started.
const demo = spawn(join(top, "bin/porthole-demo"), [guest], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => demo.kill(signal));
demo.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
