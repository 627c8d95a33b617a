#!/usr/bin/env node
// Every check in one command (`npm test` runs it after set-up): type checks, lint and
// formatting, then `meson test` (data validators, translation extraction, the node spec
// suite for the pure protocol code, the GJS spec suite under Xvfb). Spec suites count
// each spec; every other check counts as one test. Ends with "N passed, N failed" and
// exits non-zero if anything failed or nothing ran.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const top = dirname(dirname(fileURLToPath(import.meta.url)));
const buildDir = join(top, "_build");
let passed = 0;
let failed = 0;
const failures = [];

function check(name, cmd, args) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: top, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ok = r.status === 0;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${ok ? "ok  " : "FAIL"} ${name} (${secs} s)`);
  if (!ok) {
    process.stdout.write(`${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? `${r.error.message}\n` : ""}`);
    failed++;
    failures.push(name);
  } else passed++;
}

const tsc = join(top, "node_modules/typescript-7/bin/tsc");
for (const project of [".", "src/protocol", "tests/node", "tests/gjs"]) {
  const label =
    project === "src/protocol" ? "protocol purity: tsc (ES2022 only, no GI/GJS/node)" : `tsc --noEmit -p ${project}`;
  check(label, process.execPath, [tsc, "--noEmit", "-p", project]);
}
check("eslint", process.execPath, [join(top, "node_modules/eslint/bin/eslint.js"), "--max-warnings", "0", "."]);
check("prettier --check", process.execPath, [
  join(top, "node_modules/prettier/bin/prettier.cjs"),
  "--check",
  "--log-level",
  "warn",
  ".",
]);

// meson test prints its own progress; its JSON log then tells each test's result and output.
const meson = spawnSync("meson", ["test", "-C", buildDir, "--print-errorlogs"], { cwd: top, stdio: "inherit" });
let log = [];
try {
  log = readFileSync(join(buildDir, "meson-logs/testlog.json"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch (e) {
  console.log(`FAIL meson test left no log: ${e.message}`);
}
if (log.length === 0) {
  failed++;
  failures.push(`meson test (exit ${meson.status})`);
}
for (const t of log) {
  const ok = t.result === "OK";
  // A spec suite's last "N passed, N failed" line counts its specs.
  const counts = [...(t.stdout ?? "").matchAll(/^(\d+) passed, (\d+) failed$/gm)].pop();
  if (counts) {
    passed += Number(counts[1]);
    failed += Number(counts[2]);
    // A suite that crashed after its summary, or failed without a failing spec, still fails.
    if (!ok && Number(counts[2]) === 0) failed++;
  } else if (ok) passed++;
  else failed++;
  if (!ok) failures.push(`meson test ${t.name}`);
}

if (failures.length) console.log(`\nFailed: ${failures.join(", ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
