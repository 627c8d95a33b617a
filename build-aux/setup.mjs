#!/usr/bin/env node
// Brings a checkout to a state where every tool and test runs: Debian packages, npm
// dependencies, GIR typings, meson build. Each step is skipped when already done, so this
// runs before every `npm start` / `npm test` and costs about a second when nothing changed.
//
// Usage: node build-aux/setup.mjs [--quiet]
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const top = dirname(dirname(fileURLToPath(import.meta.url)));
const buildDir = join(top, "_build");
const quiet = process.argv.includes("--quiet");

function say(msg) {
  if (!quiet) console.error(`setup: ${msg}`);
}

function fail(msg) {
  console.error(`setup: ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: top, stdio: quiet ? ["ignore", "ignore", "inherit"] : "inherit", ...opts });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`'${[cmd, ...args].join(" ")}' failed (exit ${r.status ?? r.signal})`);
}

function sha256(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

function readStamp(file) {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

// 1. Debian packages ---------------------------------------------------------------------
function debianPackages() {
  const list = readFileSync(join(top, "build-aux/debian-packages.txt"), "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
  let out;
  try {
    // Unknown packages make dpkg-query exit 1 but still print the known ones.
    out = execFileSync("dpkg-query", ["-W", "-f=${Package} ${db:Status-Status}\\n", ...list], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch (e) {
    if (e.code === "ENOENT") {
      say(
        "dpkg-query not found: not a Debian system; make sure the packages in build-aux/debian-packages.txt are installed",
      );
      return;
    }
    out = e.stdout ?? "";
  }
  const installed = new Set(
    out
      .split("\n")
      .map((l) => l.split(" "))
      .filter(([, status]) => status === "installed")
      .map(([name]) => name.replace(/:.*/, "")),
  );
  const missing = list.filter((p) => !installed.has(p));
  if (missing.length === 0) return;

  const install = ["apt-get", "install", "-y", "--no-install-recommends", ...missing];
  if (process.getuid?.() !== 0) {
    console.error("setup: these Debian packages are missing:");
    console.error(`  ${missing.join(" ")}`);
    console.error("setup: install them as root, then run this again:");
    console.error(`  sudo apt-get update && sudo ${install.join(" ")}`);
    process.exit(1);
  }
  say(`installing ${missing.length} Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update", "-q"], { env });
  run(install[0], install.slice(1), { env });
}

// 1b. The German locale ------------------------------------------------------------------
// tests/gjs/i18n.spec.ts runs the viewer in German (po/de.po). glibc translates only in a
// locale it has, and Debian's base system has C.UTF-8 alone: enable de_DE.UTF-8 in
// /etc/locale.gen (so the locales package keeps it when it regenerates its archive on an
// upgrade) and generate it, keeping the locales that exist. Nothing to do once it exists.
const TEST_LOCALE = "de_DE.UTF-8";
const LOCALE_GEN = "/etc/locale.gen";

function hasLocale(name) {
  const key = (l) =>
    l
      .trim()
      .toLowerCase()
      .replace(/utf-?8/, "utf8");
  const r = spawnSync("locale", ["-a"], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n").some((l) => key(l) === key(name));
}

function testLocale() {
  if (hasLocale(TEST_LOCALE)) return;
  const entry = `${TEST_LOCALE} UTF-8`;
  if (!existsSync(LOCALE_GEN)) {
    say(`the ${TEST_LOCALE} locale is missing (the German translation's spec needs it); generate it with localedef`);
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error(`setup: the ${TEST_LOCALE} locale is missing (the German translation's spec needs it); as root:`);
    console.error(`  echo '${entry}' >> ${LOCALE_GEN} && locale-gen --keep-existing`);
    return;
  }
  const text = readFileSync(LOCALE_GEN, "utf8");
  const listed = text.split("\n").some((l) => l.trim().split(/\s+/).join(" ") === entry);
  if (!listed) {
    const commented = new RegExp(`^#\\s*${entry.replace(/\./g, "\\.")}\\s*$`, "m");
    writeFileSync(
      LOCALE_GEN,
      commented.test(text) ? text.replace(commented, entry) : `${text}${text.endsWith("\n") ? "" : "\n"}${entry}\n`,
    );
  }
  say(`generating the ${TEST_LOCALE} locale`);
  run("locale-gen", ["--keep-existing"]);
  if (!hasLocale(TEST_LOCALE)) fail(`locale-gen did not generate ${TEST_LOCALE}`);
}

// 2. npm dependencies --------------------------------------------------------------------
function npmDependencies() {
  const lock = readFileSync(join(top, "package-lock.json"));
  const stampFile = join(top, "node_modules/.porthole-setup-stamp");
  const want = sha256(lock, process.version);
  if (readStamp(stampFile) === want) return;
  say("installing npm dependencies (npm ci)");
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
  writeFileSync(stampFile, `${want}\n`);
}

// npm does not link a package's own `bin` entries into its node_modules/.bin; without
// these links `npx porthole-…` in a checkout would go through npx's install cache, which
// keeps the bin list of the first run and misses programs added since.
function linkOwnBins() {
  const { bin } = JSON.parse(readFileSync(join(top, "package.json"), "utf8"));
  const binDir = join(top, "node_modules/.bin");
  mkdirSync(binDir, { recursive: true });
  for (const [name, target] of Object.entries(bin)) {
    const link = join(binDir, name);
    const want = relative(binDir, join(top, target));
    let have = null;
    try {
      have = readlinkSync(link);
    } catch {
      // missing
    }
    if (have === want) continue;
    rmSync(link, { force: true });
    symlinkSync(want, link);
  }
}

// 3. Typings generated from this system's GIR files ---------------------------------------
// The namespaces the code imports; ts-for-gir adds their dependencies (Gsk, Pango, ...).
const GIR_NAMESPACES = [
  "GLib-2.0",
  "GObject-2.0",
  "Gio-2.0",
  "Gtk-4.0",
  "Gdk-4.0",
  "GdkPixbuf-2.0",
  "Adw-1",
  "Vte-3.91",
  "Gst-1.0",
  "GstApp-1.0",
  "GstBase-1.0",
  "GstAudio-1.0",
  "Soup-3.0",
];
const GIR_DIR = "/usr/share/gir-1.0";

function typings() {
  const outDir = join(top, "types/gir");
  const stampFile = join(outDir, ".stamp");
  const girs = readdirSync(GIR_DIR)
    .filter((f) => f.endsWith(".gir"))
    .sort()
    .map((f) => {
      const st = statSync(join(GIR_DIR, f));
      return `${f} ${st.size} ${st.mtimeMs}`;
    });
  const cliVersion = JSON.parse(readFileSync(join(top, "node_modules/@ts-for-gir/cli/package.json"), "utf8")).version;
  const want = sha256(GIR_NAMESPACES.join(" "), girs.join("\n"), cliVersion);
  if (readStamp(stampFile) === want && existsSync(join(outDir, "index.d.ts"))) return;
  for (const ns of GIR_NAMESPACES) {
    if (!existsSync(join(GIR_DIR, `${ns}.gir`)))
      fail(`${GIR_DIR}/${ns}.gir is missing (a -dev package in build-aux/debian-packages.txt ships it)`);
  }
  say(`generating typings for ${GIR_NAMESPACES.length} GI namespaces into types/gir`);
  rmSync(outDir, { recursive: true, force: true });
  // ts-for-gir warns about every GIR type conflict it resolves; show its output on failure only.
  const r = spawnSync(
    process.execPath,
    [
      join(top, "node_modules/@ts-for-gir/cli/bin/ts-for-gir"),
      "generate",
      ...GIR_NAMESPACES,
      "-g",
      GIR_DIR,
      "-o",
      outDir,
      "--ignoreVersionConflicts",
    ],
    { cwd: top, encoding: "utf8" },
  );
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ""}${r.stderr ?? ""}`);
    fail("generating the typings failed");
  }
  writeFileSync(stampFile, `${want}\n`);
}

// 4. Build ---------------------------------------------------------------------------------
function build() {
  if (!existsSync(join(buildDir, "build.ninja"))) {
    say("configuring the build (meson setup _build)");
    run("meson", ["setup", buildDir, "--buildtype=debugoptimized"]);
  }
  // ninja's progress lines are noise on every run; show them only when the build fails.
  const r = spawnSync("meson", ["compile", "-C", buildDir], { cwd: top, encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(r.stdout ?? "");
    process.stderr.write(r.stderr ?? "");
    fail("the build failed");
  }
}

debianPackages();
testLocale();
npmDependencies();
linkOwnBins();
typings();
build();
say("ready");
