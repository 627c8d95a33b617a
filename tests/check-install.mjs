#!/usr/bin/env node
// `meson install` into a temporary prefix from a separate build directory, then checks
// that every installed launcher runs its installed bundle with gjs and that the data files
// land where desktops look for them.
// Usage: node tests/check-install.mjs SOURCE_ROOT
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [top] = process.argv.slice(2);
if (!top) {
  console.error("usage: check-install.mjs SOURCE_ROOT");
  process.exit(2);
}
const version = JSON.parse(readFileSync(join(top, "package.json"), "utf8")).version;
const work = mkdtempSync(join(tmpdir(), "porthole-install-"));
const prefix = join(work, "prefix");
const problems = [];
try {
  const quiet = { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" };
  execFileSync("meson", ["setup", "--prefix", prefix, "-Dtests=false", join(work, "build"), top], quiet);
  execFileSync("meson", ["install", "-C", join(work, "build")], quiet);

  for (const name of ["porthole", "porthole-gateway", "porthole-capture", "porthole-console", "porthole-bench"]) {
    const launcher = join(prefix, "bin", name);
    if (!existsSync(launcher)) {
      problems.push(`${launcher} was not installed`);
      continue;
    }
    const out = execFileSync(launcher, ["--version"], { ...quiet, env: { ...process.env, DISPLAY: "" } }).trim();
    if (out !== `${name} ${version}`) problems.push(`${name} --version printed ${JSON.stringify(out)}`);
    if (!readFileSync(launcher, "utf8").includes(join(prefix, "share/porthole", `${name}.js`)))
      problems.push(`${name} does not run the installed bundle`);
  }

  const config = JSON.parse(readFileSync(join(prefix, "share/porthole/porthole-config.json"), "utf8"));
  if (config.schemadir !== null || config.icondir !== null || !config.localedir.startsWith(prefix))
    problems.push(`the installed configuration points into the build tree: ${JSON.stringify(config)}`);

  for (const file of [
    "share/applications/dev.porthole.Viewer.desktop",
    "share/metainfo/dev.porthole.Viewer.metainfo.xml",
    "share/glib-2.0/schemas/dev.porthole.Viewer.gschema.xml",
    "share/glib-2.0/schemas/gschemas.compiled",
    "share/icons/hicolor/scalable/apps/dev.porthole.Viewer.svg",
    "share/icons/hicolor/symbolic/apps/dev.porthole.Viewer-symbolic.svg",
  ]) {
    if (!existsSync(join(prefix, file))) problems.push(`${file} was not installed`);
  }
} catch (e) {
  problems.push(`${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
for (const p of problems) console.error(p);
if (!problems.length) console.log(`installed into a temporary prefix; 5 launchers ran their installed bundles`);
process.exit(problems.length ? 1 : 0);
