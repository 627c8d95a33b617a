#!/usr/bin/env node
// Runs the GJS spec bundle. Starts its own Xvfb when there is no display (CI, ssh), with a
// private runtime directory and in-memory settings so tests touch nothing of the user's,
// and stops that Xvfb by PID afterwards.
// Usage: node tests/run-gjs.mjs /usr/bin/gjs gjs-specs.js
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [gjs, bundle] = process.argv.slice(2);
if (!gjs || !bundle) {
  console.error("usage: run-gjs.mjs GJS SPEC-BUNDLE.js");
  process.exit(2);
}

function startXvfb() {
  return new Promise((resolve, reject) => {
    // -displayfd: Xvfb picks a free display and writes its number once it accepts clients.
    const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    xvfb.stderr.on("data", (d) => (err += d));
    xvfb.stdio[3].on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve({ xvfb, display: `:${out.trim()}` });
    });
    xvfb.on("error", reject);
    xvfb.on("exit", (code) => reject(new Error(`Xvfb exited (${code}) before it was ready: ${err.trim()}`)));
  });
}

const runtimeDir = mkdtempSync(join(tmpdir(), "porthole-test-"));
const env = {
  ...process.env,
  XDG_RUNTIME_DIR: runtimeDir,
  GSETTINGS_BACKEND: "memory",
  NO_AT_BRIDGE: "1",
  GTK_A11Y: "none",
};
let xvfb = null;
if (!env.DISPLAY && !env.WAYLAND_DISPLAY) {
  const started = await startXvfb();
  xvfb = started.xvfb;
  env.DISPLAY = started.display;
  delete env.WAYLAND_DISPLAY;
}

const child = spawn(gjs, ["-m", bundle], { stdio: "inherit", env });
const status = await new Promise((resolve) => {
  child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
});
if (xvfb) {
  xvfb.removeAllListeners("exit");
  xvfb.kill("SIGTERM");
}
rmSync(runtimeDir, { recursive: true, force: true });
process.exit(status);
