#!/usr/bin/env node
// Writes build-aux/flatpak/generated-sources.json: the npm packages the flatpak build needs,
// as flatpak-builder sources in flatpak-node-generator's npm format (each tarball a `file`
// source placed in an npm cache under flatpak-node/npm-cache, with its cacache index entry as
// an `inline` source), so `npm ci --offline` installs them without a network.
//
// Only what the meson build runs is included, not the whole package-lock.json: esbuild (and
// its linux-x64/linux-arm64 binary, for flatpak's x86_64 and aarch64), jasmine-core (which
// build-aux/esbuild.mjs resolves on every run), and the packages src/ and examples/ import
// that esbuild bundles (pako, @novnc/novnc). No type checker runs in that build. A reduced package.json
// and package-lock.json for exactly these packages are written as inline sources into
// flatpak-node/build/, where the manifest runs `npm ci`: package-lock.json omits `resolved`,
// so the reduced lockfile adds the registry URL that the cache entries are keyed by.
//
// Tarballs come from the local npm cache (a checkout after `npm ci` has them all except the
// other architecture's esbuild binary, which `npm cache add` fetches) and are checked against
// package-lock.json's integrity.
//
// Usage: node build-aux/flatpak/generate-sources.mjs [--check]
//   --check  exits 1 if the file on disk differs from what would be written.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const top = dirname(dirname(here));
const output = join(here, "generated-sources.json");
const REGISTRY = "https://registry.npmjs.org";
// Where the sources land in the module's build directory (flatpak-node-generator's layout).
const CACHE_DIR = "flatpak-node/npm-cache";
const BUILD_DIR = "flatpak-node/build";
// npm's cpu names for the architectures flatpak builds.
const FLATPAK_ARCHES = { x64: "x86_64", arm64: "aarch64" };
// build-aux/esbuild.mjs imports esbuild and resolves jasmine-core whatever it bundles.
const BUILD_TOOLS = ["esbuild", "jasmine-core"];
// The directories whose TypeScript the meson build bundles (tests/ is off in the flatpak).
const BUNDLED_DIRS = ["src", "examples"];
// Specifiers that are not npm packages: modules GJS provides (external in the bundles).
const NOT_PACKAGES = /^(gi:|resource:|node:|system$|gettext$|cairo$|console$)/;
// import … from "x" / export … from "x" (statements end with a semicolon), import "x", import("x").
const IMPORTS = [
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm,
  /^\s*import\s*"([^"]+)"/gm,
  /\bimport\(\s*"([^"]+)"\s*\)/g,
];
const PACKAGE_SPECIFIER = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/.*)?$/i;

const lock = JSON.parse(readFileSync(join(top, "package-lock.json"), "utf8"));
if (lock.lockfileVersion !== 3) throw new Error(`package-lock.json version ${lock.lockfileVersion}: expected 3`);

// The package name of a bare import specifier ("@scope/name/sub/path.js" -> "@scope/name").
function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

// Bare specifiers imported anywhere in the bundled sources (what esbuild can pull in).
function sourceImports() {
  const names = new Set();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) {
        const text = readFileSync(path, "utf8");
        for (const re of IMPORTS) {
          for (const [, spec] of text.matchAll(re)) {
            if (!NOT_PACKAGES.test(spec) && PACKAGE_SPECIFIER.test(spec)) names.add(packageName(spec));
          }
        }
      }
    }
  };
  for (const dir of BUNDLED_DIRS) if (existsSync(join(top, dir))) walk(join(top, dir));
  return [...names].sort();
}

// The lockfile path a dependency `name` of the package at `from` resolves to, as node does:
// the nearest node_modules/name walking up from `from`.
function resolveIn(from, name) {
  let dir = from;
  for (;;) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (!dir) return null;
    const i = dir.lastIndexOf("/node_modules/");
    dir = i < 0 ? "" : dir.slice(0, i);
  }
}

// Linux packages only; a cpu-specific one only for the architectures flatpak builds.
function onlyArches(info) {
  if (info.os && !info.os.includes("linux")) return null;
  if (!info.cpu) return [];
  const arches = info.cpu.filter((c) => c in FLATPAK_ARCHES).map((c) => FLATPAK_ARCHES[c]);
  return arches.length ? arches : null;
}

// Every package the roots pull in, for the reduced lockfile (npm ci refuses a lockfile that
// lacks an optional dependency, even one for another platform, which it then skips).
function closure(roots) {
  const found = new Set();
  const visit = (key) => {
    if (found.has(key)) return;
    const info = lock.packages[key];
    found.add(key);
    const optional = new Set(Object.keys(info.optionalDependencies ?? {}));
    const peers = Object.keys(info.peerDependencies ?? {}).filter((n) => !info.peerDependenciesMeta?.[n]?.optional);
    for (const name of [...Object.keys(info.dependencies ?? {}), ...optional, ...peers]) {
      const dep = resolveIn(key, name);
      if (dep) visit(dep);
      else if (!optional.has(name)) throw new Error(`${key} depends on ${name}, which package-lock.json lacks`);
    }
  };
  for (const name of roots) {
    const key = `node_modules/${name}`;
    if (!lock.packages[key]) throw new Error(`${name} is needed by the build but not in package-lock.json`);
    visit(key);
  }
  return found;
}

function nameOf(key) {
  return lock.packages[key].name ?? key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
}

function tarballUrl(name, version) {
  const base = name.includes("/") ? name.split("/")[1] : name;
  return `${REGISTRY}/${name}/-/${base}-${version}.tgz`;
}

function sha512Hex(integrity) {
  const sri = integrity.split(/\s+/).find((s) => s.startsWith("sha512-"));
  if (!sri) throw new Error(`no sha512 integrity: ${integrity}`);
  return Buffer.from(sri.slice("sha512-".length), "base64").toString("hex");
}

// cacache's content and index paths: the digest split 2/2/rest.
const split = (hex) => [hex.slice(0, 2), hex.slice(2, 4), hex.slice(4)];

function npmCacheDir() {
  try {
    return execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
  } catch {
    return join(homedir(), ".npm");
  }
}

function tarball(cache, name, version, hex) {
  const path = join(cache, "_cacache/content-v2/sha512", ...split(hex));
  if (!existsSync(path)) {
    console.error(`generate-sources: ${name}@${version} is not in the npm cache; npm cache add`);
    execFileSync("npm", ["cache", "add", `${name}@${version}`], { stdio: ["ignore", "ignore", "inherit"] });
  }
  const bytes = readFileSync(path);
  if (createHash("sha512").update(bytes).digest("hex") !== hex)
    throw new Error(`${name}@${version}: the cached tarball does not match package-lock.json's integrity`);
  return bytes;
}

// One cacache index entry (index-v5), as make-fetch-happen writes it for a fetched URL.
function indexEntry(url, integrity, size) {
  const key = `make-fetch-happen:request-cache:${url}`;
  const json = JSON.stringify({
    key,
    integrity,
    time: 0,
    size,
    metadata: { url, reqHeaders: {}, resHeaders: {} },
  });
  const [a, b, rest] = split(createHash("sha256").update(key).digest("hex"));
  return {
    type: "inline",
    contents: `${createHash("sha1").update(json).digest("hex")}\t${json}`,
    dest: `${CACHE_DIR}/_cacache/index-v5/${a}/${b}`,
    "dest-filename": rest,
  };
}

const roots = [...new Set([...BUILD_TOOLS, ...sourceImports()])].sort();
const packages = closure(roots);
const cache = npmCacheDir();
const sources = [];
const reducedPackages = {};
let tarballs = 0;
for (const key of [...packages].sort()) {
  const info = lock.packages[key];
  const name = nameOf(key);
  const url = tarballUrl(name, info.version);
  // The lockfile entry as it was, with the URL npm ci reads and without the dev flags that
  // described the full tree (everything here is a production dependency of the reduced one).
  const entry = { ...info, resolved: url };
  for (const flag of ["dev", "devOptional", "peer"]) delete entry[flag];
  reducedPackages[key] = entry;

  // Tarballs only for what installs on flatpak's architectures.
  const arches = onlyArches(info);
  if (arches === null) continue;
  tarballs++;
  const hex = sha512Hex(info.integrity);
  const bytes = tarball(cache, name, info.version, hex);
  const [a, b, rest] = split(hex);
  const only = arches.length ? { "only-arches": arches } : {};
  sources.push({
    type: "file",
    url,
    sha512: hex,
    dest: `${CACHE_DIR}/_cacache/content-v2/sha512/${a}/${b}`,
    "dest-filename": rest,
    ...only,
  });
  sources.push({ ...indexEntry(url, `sha512-${Buffer.from(hex, "hex").toString("base64")}`, bytes.length), ...only });
}

const dependencies = Object.fromEntries(roots.map((n) => [n, lock.packages[`node_modules/${n}`].version]));
const manifest = { name: "porthole-flatpak-build", version: lock.version, private: true, dependencies };
const reducedLock = {
  name: manifest.name,
  version: manifest.version,
  lockfileVersion: 3,
  requires: true,
  packages: { "": { name: manifest.name, version: manifest.version, dependencies }, ...reducedPackages },
};
for (const [file, data] of [
  ["package.json", manifest],
  ["package-lock.json", reducedLock],
]) {
  sources.push({
    type: "inline",
    contents: `${JSON.stringify(data, null, 2)}\n`,
    dest: BUILD_DIR,
    "dest-filename": file,
  });
}

let text = `${JSON.stringify(sources, null, 4)}\n`;
// The repository's formatting (prettier --check covers every JSON file).
try {
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(output)) ?? {};
  text = await prettier.format(text, { ...options, filepath: output });
} catch (e) {
  if (e.code !== "ERR_MODULE_NOT_FOUND") throw e;
}

if (process.argv.includes("--check")) {
  const current = existsSync(output) ? readFileSync(output, "utf8") : "";
  if (current !== text) {
    console.error(`${output} is out of date: run node build-aux/flatpak/generate-sources.mjs`);
    process.exit(1);
  }
  console.log(`${output} is up to date (${tarballs} tarballs)`);
} else {
  writeFileSync(output, text);
  console.log(`wrote ${output}: ${tarballs} tarballs (${roots.join(", ")} and their dependencies)`);
}
