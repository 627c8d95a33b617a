#!/usr/bin/env node
// `meson install` into a temporary prefix from a separate build directory (the launchers and
// porthole-config.json hold absolute installed paths, so a DESTDIR copy of the main build
// could not run: a second configure costs about 5 s), then checks the installed tree:
// - every file meson says it installs is there, under the prefix;
// - every launcher runs its installed bundle with gjs: --version and --help;
// - the installed configuration points into the prefix, not the build tree;
// - the desktop file, AppStream metadata, GSettings schema (compiled, with the app's keys),
//   icons and each po/LINGUAS language's catalogue are where desktops and gettext look;
// - the installed viewer starts: under Xvfb (its own when there is no display) and a private
//   D-Bus session, with XDG_DATA_DIRS naming the prefix only for its schema, it opens a
//   window, which is then closed by the PID it reports.
// Usage: node tests/check-install.mjs SOURCE_ROOT
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const [top] = process.argv.slice(2);
if (!top) {
  console.error("usage: check-install.mjs SOURCE_ROOT");
  process.exit(2);
}
const started = Date.now();
const version = JSON.parse(readFileSync(join(top, "package.json"), "utf8")).version;
const appId = /^app_id\s*=\s*'([^']+)'/m.exec(readFileSync(join(top, "meson.build"), "utf8"))[1];
const LAUNCHERS = ["porthole", "porthole-gateway", "porthole-capture", "porthole-console", "porthole-bench"];
const work = mkdtempSync(join(tmpdir(), "porthole-install-"));
const prefix = join(work, "prefix");
const buildDir = join(work, "build");
const problems = [];
const quiet = { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" };
// Programs print in English whatever the caller's locale, and find no display for --help.
const plainEnv = { ...process.env, LANGUAGE: "", LC_ALL: "C.UTF-8", DISPLAY: "", WAYLAND_DISPLAY: "" };

function languages() {
  return readFileSync(join(top, "po/LINGUAS"), "utf8")
    .split("\n")
    .filter((l) => !l.trim().startsWith("#"))
    .flatMap((l) => l.trim().split(/\s+/))
    .filter(Boolean);
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)));
}

// Each launcher's --version and --help, all at once (each is a gjs start-up).
async function checkLaunchers() {
  const run = (file, args) =>
    new Promise((resolve) =>
      execFile(file, args, { encoding: "utf8", env: plainEnv }, (error, stdout, stderr) =>
        resolve({ status: error ? (error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
  await Promise.all(
    LAUNCHERS.map(async (name) => {
      const launcher = join(prefix, "bin", name);
      if (!existsSync(launcher)) {
        problems.push(`${launcher} was not installed`);
        return;
      }
      const bundle = join(prefix, "share/porthole", `${name}.js`);
      if (!readFileSync(launcher, "utf8").includes(bundle)) problems.push(`${name} does not run the installed bundle`);
      if (!existsSync(bundle)) problems.push(`${bundle} was not installed`);
      const [version_, help] = await Promise.all([run(launcher, ["--version"]), run(launcher, ["--help"])]);
      if (version_.status !== 0 || version_.stdout.trim() !== `${name} ${version}`)
        problems.push(
          `${name} --version exited ${version_.status}: ${JSON.stringify(version_.stdout + version_.stderr)}`,
        );
      if (help.status !== 0 || !/^Usage:/m.test(help.stdout) || !help.stdout.includes(name))
        problems.push(`${name} --help exited ${help.status}: ${JSON.stringify(help.stdout + help.stderr)}`);
    }),
  );
}

function checkData() {
  const share = join(prefix, "share");
  const config = JSON.parse(readFileSync(join(share, "porthole/porthole-config.json"), "utf8"));
  if (
    config.version !== version ||
    config.schemadir !== null ||
    config.icondir !== null ||
    config.localedir !== join(share, "locale") ||
    config.pkgdatadir !== join(share, "porthole")
  )
    problems.push(`the installed configuration does not point into the prefix: ${JSON.stringify(config)}`);

  const desktop = join(share, `applications/${appId}.desktop`);
  if (!existsSync(desktop)) problems.push(`${relative(prefix, desktop)} was not installed`);
  else {
    const text = readFileSync(desktop, "utf8");
    if (!/^Exec=porthole\b/m.test(text) || !text.includes(`\nIcon=${appId}\n`))
      problems.push(`the installed desktop file does not run porthole with the app's icon`);
  }
  const metainfo = join(share, `metainfo/${appId}.metainfo.xml`);
  if (!existsSync(metainfo) || !readFileSync(metainfo, "utf8").includes(`<id>${appId}</id>`))
    problems.push(`${relative(prefix, metainfo)} is missing or not the app's`);

  // The compiled schema is what GSettings reads: it must hold the app's schema and keys.
  const schemas = join(share, "glib-2.0/schemas");
  for (const f of [`${appId}.gschema.xml`, "gschemas.compiled"])
    if (!existsSync(join(schemas, f))) problems.push(`share/glib-2.0/schemas/${f} was not installed`);
  const keys = spawnSync("gsettings", ["--schemadir", schemas, "list-keys", appId], quiet);
  if (keys.status !== 0 || !keys.stdout.trim())
    problems.push(`the installed compiled schema lacks ${appId}: ${keys.stderr.trim()}`);

  const iconSource = join(top, "data/icons/hicolor");
  for (const icon of filesUnder(iconSource)) {
    if (!existsSync(join(share, "icons/hicolor", icon))) problems.push(`icon ${icon} was not installed`);
  }
  if (!existsSync(join(share, `icons/hicolor/scalable/apps/${appId}.svg`))) problems.push("the app icon is missing");

  for (const lang of languages()) {
    const mo = join(share, "locale", lang, "LC_MESSAGES/porthole.mo");
    if (!existsSync(mo)) problems.push(`${relative(prefix, mo)} was not installed`);
    else if (readFileSync(mo).readUInt32LE(0) !== 0x950412de)
      problems.push(`${relative(prefix, mo)} is not a catalogue`);
  }
}

// Everything `meson introspect --installed` lists is in the prefix (nothing went elsewhere).
function checkInstalledList() {
  const installed = JSON.parse(execFileSync("meson", ["introspect", "--installed", buildDir], quiet));
  const targets = Object.values(installed);
  for (const path of targets) {
    if (!path.startsWith(`${prefix}/`)) problems.push(`meson installs ${path} outside the prefix`);
    else if (!existsSync(path)) problems.push(`${relative(prefix, path)} was not installed`);
  }
  return targets.length;
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function checkViewerStarts() {
  const title = `porthole-install-check-${process.pid}`;
  const home = join(work, "home");
  const env = {
    ...process.env,
    XDG_RUNTIME_DIR: join(home, "run"),
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_DATA_HOME: join(home, "data"),
    XDG_CACHE_HOME: join(home, "cache"),
    XDG_STATE_HOME: join(home, "state"),
    // The installed schema is found only through the prefix (the installed configuration
    // names no schema directory); settings stay in memory.
    XDG_DATA_DIRS: `${join(prefix, "share")}:/usr/share`,
    GSETTINGS_BACKEND: "memory",
    NO_AT_BRIDGE: "1",
    GTK_A11Y: "none",
  };
  for (const d of ["run", "config", "data", "cache", "state"])
    mkdirSync(join(home, d), { recursive: true, mode: 0o700 });
  let xvfb = null;
  if (!env.DISPLAY) {
    const x = await startXvfb();
    xvfb = x.xvfb;
    env.DISPLAY = x.display;
  }
  delete env.WAYLAND_DISPLAY;
  delete env.DBUS_SESSION_BUS_ADDRESS;
  // A private session bus: the application registers its id there, not on the user's.
  const viewer = spawn(
    "dbus-run-session",
    ["--", join(prefix, "bin/porthole"), "--title", title, "vnc+unix:///nonexistent/porthole-install-check"],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  viewer.stdout.on("data", (d) => (output += d));
  viewer.stderr.on("data", (d) => (output += d));
  let exited = null;
  viewer.on("exit", (code, signal) => (exited = code ?? signal));
  let pid = null;
  try {
    const deadline = Date.now() + 30_000;
    while (pid === null && exited === null && Date.now() < deadline) {
      const r = spawnSync("xdotool", ["search", "--name", `^${title}$`, "getwindowpid"], { ...quiet, env });
      const found = Number.parseInt(r.stdout.trim().split("\n").pop() ?? "", 10);
      if (r.status === 0 && found > 0) pid = found;
      else await sleep(200);
    }
    if (pid === null)
      problems.push(`the installed porthole opened no window (exit ${exited ?? "none"}): ${output.trim()}`);
    else if (/JS ERROR|-CRITICAL|-ERROR/.test(output))
      problems.push(`the installed porthole reported errors:\n${output.trim()}`);
  } finally {
    if (pid !== null) process.kill(pid, "SIGTERM");
    const end = Date.now() + 10_000;
    while (exited === null && Date.now() < end) await sleep(100);
    if (exited === null) viewer.kill("SIGKILL");
    if (xvfb) {
      xvfb.removeAllListeners("exit");
      xvfb.kill("SIGTERM");
    }
  }
}

let count = 0;
try {
  execFileSync("meson", ["setup", "--prefix", prefix, "-Dtests=false", buildDir, top], quiet);
  execFileSync("meson", ["install", "-C", buildDir], quiet);
  count = checkInstalledList();
  await checkLaunchers();
  checkData();
  await checkViewerStarts();
} catch (e) {
  problems.push(`${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
for (const p of problems) console.error(p);
if (!problems.length) {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `installed ${count} targets into a temporary prefix; ${LAUNCHERS.length} launchers ran their installed bundles ` +
      `(--version, --help), the installed viewer opened its window, data and ${languages().length} catalogues in place (${secs} s)`,
  );
}
process.exit(problems.length ? 1 : 0);
