#!/usr/bin/env node
// `npm start [-- URI…]`: the viewer from the build tree, after set-up.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const top = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);

if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  console.error("start: there is no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set).");
  console.error("start: run `npm start` from a desktop session, or under Xvfb: xvfb-run -a npm start");
  process.exit(1);
}
const r = spawnSync(join(top, "bin/porthole"), args, { stdio: "inherit" });
process.exit(r.status ?? 1);
