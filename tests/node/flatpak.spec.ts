// The flatpak manifest (build-aux/flatpak/dev.porthole.Viewer.json) cannot be built here
// (no runtime download), so it is checked against everything it refers to: its sources
// exist or are pinned, its modules can build, the app id and command are the ones meson
// installs, the sandbox holds nothing beyond what the viewer needs, and the generated npm
// sources are package-lock.json's own packages and cover everything esbuild reads in the
// build (from ninja's record of each bundle's inputs). meson passes the source and build
// trees; ad-hoc runs from the repository root find them relative to the working directory.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

const TOP = process.env.PORTHOLE_SOURCE_ROOT ?? process.cwd();
const BUILD = process.env.PORTHOLE_BUILD_ROOT ?? join(process.cwd(), "_build");
const FLATPAK_DIR = join(TOP, "build-aux/flatpak");
const MANIFEST_PATH = join(FLATPAK_DIR, "dev.porthole.Viewer.json");

// The viewer's sandbox: a display (Wayland, X11 only without it, GPU), the network for VNC
// and the sound server for the guest's audio. Nothing else.
const ALLOWED_FINISH_ARGS = [
  "--share=ipc",
  "--socket=wayland",
  "--socket=fallback-x11",
  "--device=dri",
  "--share=network",
  "--socket=pulseaudio",
];
// GI namespaces org.gnome.Platform ships; any other one the bundles import needs a module.
const RUNTIME_NAMESPACES = new Set([
  "Adw",
  "GLib",
  "GModule",
  "GObject",
  "Gdk",
  "GdkPixbuf",
  "Gio",
  "Graphene",
  "Gsk",
  "Gst",
  "GstApp",
  "GstAudio",
  "GstBase",
  "GstVideo",
  "Gtk",
  "HarfBuzz",
  "Pango",
  "PangoCairo",
  "Soup",
  "cairo",
]);
// What the GNOME runtime lacks, and the module (with the options) that provides it.
const MODULE_NAMESPACES: Record<string, { module: string; options: string[] }> = {
  Vte: { module: "vte", options: ["-Dgtk4=true", "-Dgtk3=false"] },
};
const BUILDSYSTEMS = new Set(["meson", "cmake", "cmake-ninja", "autotools", "simple", "qmake"]);
const REGISTRY = "https://registry.npmjs.org";
const NPM_CACHE = "flatpak-node/npm-cache";
const NPM_BUILD = "flatpak-node/build";
// npm's cpu names for flatpak's architectures.
const ARCHES: Record<string, string> = { x64: "x86_64", arm64: "aarch64" };

interface Source {
  type: string;
  url?: string;
  path?: string;
  sha256?: string;
  sha512?: string;
  commit?: string;
  branch?: string;
  tag?: string;
  contents?: string;
  commands?: string[];
  dest?: string;
  "dest-filename"?: string;
  "only-arches"?: string[];
  skip?: string[];
}
interface Module {
  name: string;
  buildsystem?: string;
  "config-opts"?: string[];
  "build-commands"?: string[];
  "build-options"?: { "append-path"?: string };
  sources?: (Source | string)[];
  modules?: (Module | string)[];
}
interface Manifest {
  id?: string;
  "app-id"?: string;
  runtime: string;
  "runtime-version": string;
  sdk: string;
  "sdk-extensions"?: string[];
  command: string;
  "finish-args": string[];
  modules: (Module | string)[];
}
interface LockEntry {
  name?: string;
  version: string;
  integrity?: string;
  resolved?: string;
  os?: string[];
  cpu?: string[];
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
interface Lock {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

const manifest = readJson(MANIFEST_PATH) as Manifest;
const lock = readJson(join(TOP, "package-lock.json")) as Lock;

// Modules inline or in their own JSON files (paths relative to the file naming them).
function allModules(): { module: Module; dir: string }[] {
  const out: { module: Module; dir: string }[] = [];
  const walk = (modules: (Module | string)[], dir: string) => {
    for (const m of modules) {
      if (typeof m === "string") {
        const path = join(dir, m);
        expect(existsSync(path))
          .withContext(`module file ${relative(TOP, path)}`)
          .toBeTrue();
        if (existsSync(path)) walk([readJson(path) as Module], dirname(path));
      } else {
        out.push({ module: m, dir });
        walk(m.modules ?? [], dir);
      }
    }
  };
  walk(manifest.modules, FLATPAK_DIR);
  return out;
}

function moduleNamed(name: string): Module {
  const found = allModules().find(({ module }) => module.name === name);
  if (!found) throw new Error(`the manifest has no module ${name}`);
  return found.module;
}

// A module's sources with the JSON files of sources (generated-sources.json) expanded.
function sourcesOf(module: Module, dir: string): { source: Source; file: string }[] {
  const out: { source: Source; file: string }[] = [];
  for (const s of module.sources ?? []) {
    if (typeof s === "string") {
      const path = join(dir, s);
      if (!existsSync(path)) throw new Error(`${module.name}: source file ${relative(TOP, path)} does not exist`);
      const list = readJson(path) as Source[];
      expect(Array.isArray(list)).withContext(relative(TOP, path)).toBeTrue();
      for (const source of list) out.push({ source, file: path });
    } else out.push({ source: s, file: MANIFEST_PATH });
  }
  return out;
}

const appModule = () => moduleNamed("porthole");
const npmSources = () => sourcesOf(appModule(), FLATPAK_DIR).map(({ source }) => source);

function inline(dest: string, filename: string): string {
  const s = npmSources().find((x) => x.type === "inline" && x.dest === dest && x["dest-filename"] === filename);
  if (s?.contents === undefined) throw new Error(`no inline source ${dest}/${filename}`);
  return s.contents;
}

const sha = (algorithm: string, data: string) => createHash(algorithm).update(data).digest("hex");
const splitPath = (hex: string) => `${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex.slice(4)}`;
const nameOf = (key: string, entry: LockEntry) =>
  entry.name ?? key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);

function sha512Hex(integrity: string | undefined): string {
  const sri = (integrity ?? "").split(/\s+/).find((s) => s.startsWith("sha512-"));
  if (!sri) throw new Error(`no sha512 integrity in ${String(integrity)}`);
  return Buffer.from(sri.slice("sha512-".length), "base64").toString("hex");
}

function tarballUrl(name: string, version: string): string {
  return `${REGISTRY}/${name}/-/${name.split("/").pop() ?? name}-${version}.tgz`;
}

// Node's resolution in a lockfile: the nearest node_modules/NAME walking up from `from`.
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | null {
  let dir = from;
  for (;;) {
    const key = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (key in packages) return key;
    if (!dir) return null;
    const i = dir.lastIndexOf("/node_modules/");
    dir = i < 0 ? "" : dir.slice(0, i);
  }
}

// The flatpak architectures a package installs on (all of them when it names no cpu).
function archesOf(entry: LockEntry): string[] {
  if (entry.os && !entry.os.includes("linux")) return [];
  if (!entry.cpu) return Object.values(ARCHES);
  return entry.cpu.flatMap((c) => (c in ARCHES ? [ARCHES[c] ?? c] : []));
}

// The packages (lockfile paths) whose files esbuild read for the bundles the flatpak build
// makes: every esbuild target meson defines outside tests/ (off there), as ninja recorded it.
function bundleInputPackages(): { packages: Set<string>; targets: string[] } {
  interface Target {
    name: string;
    defined_in: string;
    filename: string[];
    build_by_default: boolean;
    target_sources: { compiler: string[] }[];
  }
  const targets = (readJson(join(BUILD, "meson-info/intro-targets.json")) as Target[]).filter(
    (t) =>
      t.build_by_default &&
      !relative(TOP, t.defined_in).startsWith("tests") &&
      t.target_sources.some((s) => s.compiler.some((c) => c.endsWith("build-aux/esbuild.mjs"))),
  );
  const outputs = targets.flatMap((t) => t.filename.map((f) => relative(BUILD, f)));
  const r = spawnSync("ninja", ["-C", BUILD, "-t", "deps", ...outputs], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ninja -t deps failed: ${r.stderr}`);
  const packages = new Set<string>();
  const perTarget = new Map<string, number>();
  let current = "";
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith(" ") && line.includes(": #deps")) {
      current = line.slice(0, line.indexOf(": #deps"));
      perTarget.set(current, 0);
    } else if (line.trim()) {
      perTarget.set(current, (perTarget.get(current) ?? 0) + 1);
      const path = relative(TOP, line.trim());
      const m = /^((?:node_modules\/(?:@[^/]+\/)?[^/]+\/)+)/.exec(path);
      if (m?.[1]) packages.add(m[1].replace(/\/$/, ""));
    }
  }
  for (const out of outputs) {
    expect(perTarget.get(out) ?? 0)
      .withContext(`${out}: ninja has no record of its inputs; build first (meson compile -C ${BUILD})`)
      .toBeGreaterThan(0);
  }
  return { packages, targets: outputs };
}

// The packages build-aux/esbuild.mjs itself loads (its imports and require.resolve calls).
function esbuildDriverPackages(): string[] {
  const text = readFileSync(join(TOP, "build-aux/esbuild.mjs"), "utf8");
  const specs = [
    ...text.matchAll(/^import\b[^;]*?\bfrom\s*"([^"]+)"/gm),
    ...text.matchAll(/require\.resolve\(\s*"([^"]+)"/g),
  ].map((m) => m[1] ?? "");
  return specs
    .filter((s) => !s.startsWith("node:") && !s.startsWith("."))
    .map((s) => (s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : (s.split("/")[0] ?? s)));
}

describe("the flatpak manifest", () => {
  it("builds on the GNOME runtime with the node SDK extension on the build's PATH", () => {
    expect(manifest.runtime).toBe("org.gnome.Platform");
    expect(manifest.sdk).toBe("org.gnome.Sdk");
    expect(manifest["runtime-version"]).toMatch(/^\d+$/);
    const node = (manifest["sdk-extensions"] ?? []).filter((e) =>
      /^org\.freedesktop\.Sdk\.Extension\.node\d+$/.test(e),
    );
    expect(node.length).withContext("one node SDK extension").toBe(1);
    const sdkDir = `/usr/lib/sdk/${(node[0] ?? "").split(".").pop() ?? ""}/bin`;
    expect((appModule()["build-options"]?.["append-path"] ?? "").split(":")).toContain(sdkDir);
  });

  it("has the application id of the data files", () => {
    const id = manifest.id ?? manifest["app-id"];
    expect(id).toBeDefined();
    const mesonId = /^app_id\s*=\s*'([^']+)'/m.exec(readFileSync(join(TOP, "meson.build"), "utf8"))?.[1];
    expect(id).withContext("meson.build app_id").toBe(mesonId);
    const data = join(TOP, "data");
    expect(existsSync(join(data, `${id}.desktop.in`)))
      .withContext("desktop file")
      .toBeTrue();
    const metainfo = readFileSync(join(data, `${id}.metainfo.xml.in`), "utf8");
    expect(/<id>([^<]+)<\/id>/.exec(metainfo)?.[1])
      .withContext("metainfo <id>")
      .toBe(id);
    expect(/<launchable type="desktop-id">([^<]+)</.exec(metainfo)?.[1]).toBe(`${id}.desktop`);
    const schema = readFileSync(join(data, `${id}.gschema.xml`), "utf8");
    expect(schema).toContain(`<schema id="${id}"`);
    expect(existsSync(join(data, `icons/hicolor/scalable/apps/${id}.svg`)))
      .withContext("app icon")
      .toBeTrue();
  });

  it("runs a command meson installs into bin, the one the desktop file and metainfo name", () => {
    interface Option {
      name: string;
      value: unknown;
    }
    const options = readJson(join(BUILD, "meson-info/intro-buildoptions.json")) as Option[];
    const option = (name: string) => String(options.find((o) => o.name === name)?.value);
    const installed = Object.values(readJson(join(BUILD, "meson-info/intro-installed.json")) as Record<string, string>);
    expect(installed).toContain(join(option("prefix"), option("bindir"), manifest.command));
    const id = manifest.id ?? manifest["app-id"] ?? "";
    const desktop = readFileSync(join(TOP, "data", `${id}.desktop.in`), "utf8");
    expect(/^Exec=(\S+)/m.exec(desktop)?.[1]).toBe(manifest.command);
    const metainfo = readFileSync(join(TOP, "data", `${id}.metainfo.xml.in`), "utf8");
    expect(metainfo).toContain(`<binary>${manifest.command}</binary>`);
  });

  it("asks for exactly a display, the network and the sound server", () => {
    expect([...manifest["finish-args"]].sort()).toEqual([...ALLOWED_FINISH_ARGS].sort());
  });

  it("gives every module a build system, sources and unique name", () => {
    const modules = allModules();
    expect(modules.length).toBeGreaterThan(1);
    const names = modules.map(({ module }) => module.name);
    expect(new Set(names).size).withContext(names.join(", ")).toBe(names.length);
    for (const { module } of modules) {
      expect(BUILDSYSTEMS.has(module.buildsystem ?? ""))
        .withContext(`${module.name}: buildsystem ${String(module.buildsystem)}`)
        .toBeTrue();
      expect((module.sources ?? []).length)
        .withContext(`${module.name}: sources`)
        .toBeGreaterThan(0);
      if (module.buildsystem === "simple")
        expect((module["build-commands"] ?? []).length)
          .withContext(`${module.name}: build-commands`)
          .toBeGreaterThan(0);
    }
  });

  it("pins every remote source by checksum or commit, and every local one exists", () => {
    let count = 0;
    for (const { module, dir } of allModules()) {
      for (const { source, file } of sourcesOf(module, dir)) {
        count++;
        const where = `${module.name} (${relative(TOP, file)}): ${source.type} ${source.url ?? source.path ?? source.dest ?? ""}`;
        switch (source.type) {
          case "archive":
            expect(source.url)
              .withContext(where)
              .toMatch(/^https:\/\//);
            expect(source.sha256)
              .withContext(`${where}: sha256`)
              .toMatch(/^[0-9a-f]{64}$/);
            break;
          case "file":
            if (source.url !== undefined) {
              expect(source.url)
                .withContext(where)
                .toMatch(/^https:\/\//);
              expect(/^[0-9a-f]{64}$/.test(source.sha256 ?? "") || /^[0-9a-f]{128}$/.test(source.sha512 ?? ""))
                .withContext(`${where}: sha256 or sha512`)
                .toBeTrue();
            } else {
              expect(existsSync(join(dirname(file), source.path ?? "")))
                .withContext(where)
                .toBeTrue();
            }
            break;
          case "git":
            expect(source.url)
              .withContext(where)
              .toMatch(/^https:\/\//);
            expect(source.commit)
              .withContext(`${where}: commit`)
              .toMatch(/^[0-9a-f]{40}$/);
            break;
          case "dir":
            expect(existsSync(join(dirname(file), source.path ?? "/nonexistent")))
              .withContext(where)
              .toBeTrue();
            break;
          case "inline":
            expect(typeof source.contents)
              .withContext(where)
              .toBe("string");
            expect(source["dest-filename"]).withContext(where).toBeDefined();
            break;
          case "shell":
          case "script":
            expect((source.commands ?? []).length)
              .withContext(where)
              .toBeGreaterThan(0);
            break;
          default:
            fail(`${where}: unexpected source type`);
        }
      }
    }
    expect(count).toBeGreaterThan(0);
  });

  it("builds the checkout itself in the app module, skipping only what the build makes", () => {
    const dirs = sourcesOf(appModule(), FLATPAK_DIR).filter(({ source }) => source.type === "dir");
    expect(dirs.map(({ source, file }) => join(dirname(file), source.path ?? ""))).toEqual([TOP]);
    // Everything git tracks is needed (sources, data, po, build-aux, meson files).
    const tracked = spawnSync("git", ["-C", TOP, "ls-files"], { encoding: "utf8" }).stdout.split("\n");
    for (const skipped of dirs.flatMap(({ source }) => source.skip ?? [])) {
      const inside = tracked.filter((f) => f === skipped || f.startsWith(`${skipped}/`));
      expect(inside).withContext(`skip ${skipped}`).toEqual([]);
    }
  });

  it("builds every GI namespace the bundles import that the GNOME runtime lacks (VTE for GTK 4)", () => {
    const { targets } = bundleInputPackages();
    const namespaces = new Set<string>();
    for (const out of targets) {
      for (const m of readFileSync(join(BUILD, out), "utf8").matchAll(/"gi:\/\/([A-Za-z0-9]+)/g))
        namespaces.add(m[1] ?? "");
    }
    expect(namespaces.has("Gtk")).withContext("the bundles import gi://Gtk").toBeTrue();
    const order = manifest.modules.map((m) => (typeof m === "string" ? m : m.name));
    for (const ns of namespaces) {
      if (RUNTIME_NAMESPACES.has(ns)) continue;
      const provider = MODULE_NAMESPACES[ns];
      expect(provider).withContext(`gi://${ns}: neither in the GNOME runtime nor built by a module`).toBeDefined();
      if (!provider) continue;
      const module = moduleNamed(provider.module);
      for (const opt of provider.options) expect(module["config-opts"]).withContext(module.name).toContain(opt);
      expect(module["config-opts"]).not.toContain("-Dgir=false");
      expect(order.indexOf(provider.module))
        .withContext(`${module.name} before porthole`)
        .toBeLessThan(order.indexOf("porthole"));
    }
  });

  it("builds offline with node and meson alone: npm ci from the generated cache, no set-up script", () => {
    const commands = appModule()["build-commands"] ?? [];
    const all = commands.join("\n");
    expect(all).not.toMatch(/setup\.mjs|apt-get|npm install|npx|curl|wget/);
    const npm = commands.find((c) => /\bnpm ci\b/.test(c)) ?? "";
    expect(npm).toContain("--offline");
    expect(npm).toContain(`--cache="$FLATPAK_BUILDER_BUILDDIR/${NPM_CACHE}"`);
    expect(npm).toContain(`cd ${NPM_BUILD} `);
    expect(all).toContain(`ln -sfn ${NPM_BUILD}/node_modules node_modules`);
    const setup = commands.find((c) => c.startsWith("meson setup")) ?? "";
    expect(setup).toContain("--prefix=/app");
    const declared = [...readFileSync(join(TOP, "meson_options.txt"), "utf8").matchAll(/option\(\s*'([^']+)'/g)].map(
      (m) => m[1],
    );
    const used = [...setup.matchAll(/-D([\w-]+)=/g)].map((m) => m[1]);
    expect(used).toContain("tests");
    for (const name of used)
      expect(declared)
        .withContext(`-D${String(name)}`)
        .toContain(name);
    expect(commands.indexOf(npm)).toBeLessThan(commands.indexOf(setup));
    expect(commands.some((c) => c.startsWith("meson install"))).toBeTrue();
  });

  describe("generated npm sources (build-aux/flatpak/generated-sources.json)", () => {
    const reducedLock = () => JSON.parse(inline(NPM_BUILD, "package-lock.json")) as Lock;

    it("are package-lock.json's tarballs, each in the npm cache with its index entry", () => {
      const files = npmSources().filter((s) => s.type === "file" && s.dest?.startsWith(NPM_CACHE));
      expect(files.length).toBeGreaterThan(0);
      const byUrl = new Map<string, LockEntry>();
      for (const [key, entry] of Object.entries(lock.packages))
        if (key) byUrl.set(tarballUrl(nameOf(key, entry), entry.version), entry);
      for (const f of files) {
        const entry = byUrl.get(f.url ?? "");
        expect(entry)
          .withContext(`${String(f.url)} is a package-lock.json package`)
          .toBeDefined();
        if (!entry) continue;
        const hex = sha512Hex(entry.integrity);
        expect(f.sha512).withContext(String(f.url)).toBe(hex);
        expect(`${f.dest ?? ""}/${f["dest-filename"] ?? ""}`).toBe(
          `${NPM_CACHE}/_cacache/content-v2/sha512/${splitPath(hex)}`,
        );

        const key = `make-fetch-happen:request-cache:${f.url ?? ""}`;
        const keyHex = sha("sha256", key);
        const index = inline(
          `${NPM_CACHE}/_cacache/index-v5/${keyHex.slice(0, 2)}/${keyHex.slice(2, 4)}`,
          keyHex.slice(4),
        );
        const [digest, json = ""] = index.split("\t");
        expect(digest).withContext(`${key}: index entry checksum`).toBe(sha("sha1", json));
        const parsed = JSON.parse(json) as { key: string; integrity: string; size: number };
        expect(parsed.key).toBe(key);
        expect(sha512Hex(parsed.integrity)).toBe(hex);
        expect(parsed.size).toBeGreaterThan(0);
      }
    });

    it("install from a reduced package.json and lockfile that are package-lock.json's entries", () => {
      const reduced = reducedLock();
      expect(reduced.lockfileVersion).toBe(3);
      const pkg = JSON.parse(inline(NPM_BUILD, "package.json")) as { dependencies: Record<string, string> };
      expect(reduced.packages[""]?.dependencies).toEqual(pkg.dependencies);
      for (const [name, version] of Object.entries(pkg.dependencies))
        expect(lock.packages[`node_modules/${name}`]?.version).withContext(name).toBe(version);
      for (const [key, entry] of Object.entries(reduced.packages)) {
        if (!key) continue;
        const original = lock.packages[key];
        expect(original).withContext(`${key} in package-lock.json`).toBeDefined();
        expect(entry.version)
          .withContext(key)
          .toBe(original?.version ?? "");
        expect(entry.integrity).withContext(key).toBe(original?.integrity);
        expect(entry.resolved).toBe(tarballUrl(nameOf(key, entry), entry.version));
      }
    });

    it("cover every package esbuild and the build read, on x86_64 and aarch64", () => {
      const reduced = reducedLock();
      const { packages } = bundleInputPackages();
      const roots = new Set([...packages, ...esbuildDriverPackages().map((n) => `node_modules/${n}`)]);
      expect(roots).toContain("node_modules/esbuild");
      const tarballs = new Map(
        npmSources()
          .filter((s) => s.type === "file")
          .map((s) => [s.sha512 ?? "", s["only-arches"] ?? Object.values(ARCHES)]),
      );
      // Every package the roots need, by package-lock.json, is in the reduced lockfile, and
      // has a tarball for each architecture it installs on.
      const seen = new Set<string>();
      const visit = (key: string, via: string) => {
        if (seen.has(key)) return;
        seen.add(key);
        const entry = lock.packages[key];
        expect(entry).withContext(`${key} (needed by ${via}) in package-lock.json`).toBeDefined();
        if (!entry) return;
        expect(reduced.packages[key]).withContext(`${key} (needed by ${via}) in the reduced lockfile`).toBeDefined();
        const arches = archesOf(entry);
        const have = tarballs.get(sha512Hex(entry.integrity)) ?? [];
        for (const arch of arches) expect(have).withContext(`${key} tarball for ${arch}`).toContain(arch);
        const optional = Object.keys(entry.optionalDependencies ?? {});
        const peers = Object.keys(entry.peerDependencies ?? {}).filter(
          (n) => !entry.peerDependenciesMeta?.[n]?.optional,
        );
        for (const name of [...Object.keys(entry.dependencies ?? {}), ...optional, ...peers]) {
          const dep = resolveIn(lock.packages, key, name);
          if (dep) visit(dep, key);
          else expect(optional).withContext(`${key} needs ${name}`).toContain(name);
        }
      };
      for (const root of roots) visit(root, "the build");
      for (const arch of Object.values(ARCHES)) {
        const binaries = [...seen].filter(
          (k) => k.startsWith("node_modules/@esbuild/") && archesOf(lock.packages[k] ?? { version: "" }).includes(arch),
        );
        expect(binaries.length).withContext(`an esbuild binary for ${arch}`).toBe(1);
      }
    });

    // flatpak-builder's part done by hand: the sources for this machine's architecture laid
    // out in an empty directory (a tarball's bytes taken from the local npm cache, which
    // holds content by its sha512, so they are the URL's bytes), then the manifest's npm ci.
    it("install with npm ci --offline from nothing but themselves, and esbuild runs", () => {
      const arch = ARCHES[process.arch];
      if (!arch) {
        pending(`flatpak builds no ${process.arch}`);
        return;
      }
      const npmCache = spawnSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).stdout.trim();
      const dir = mkdtempSync(join(tmpdir(), "porthole-flatpak-npm-"));
      try {
        for (const s of npmSources()) {
          if (s["only-arches"] && !s["only-arches"].includes(arch)) continue;
          if (!s.dest?.startsWith("flatpak-node/")) continue;
          const dest = join(dir, s.dest);
          mkdirSync(dest, { recursive: true });
          const out = join(dest, s["dest-filename"] ?? "");
          if (s.type === "inline") writeFileSync(out, s.contents ?? "");
          else {
            const cached = join(npmCache, "_cacache/content-v2/sha512", splitPath(s.sha512 ?? ""));
            if (!existsSync(cached)) {
              pending(`${String(s.url)} is not in the local npm cache (${npmCache})`);
              return;
            }
            copyFileSync(cached, out);
          }
        }
        const build = join(dir, NPM_BUILD);
        const args = [
          "ci",
          "--offline",
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          `--cache=${join(dir, NPM_CACHE)}`,
        ];
        const npm = spawnSync("npm", args, { cwd: build, encoding: "utf8" });
        expect(npm.status).withContext(`npm ci: ${npm.stdout}${npm.stderr}`).toBe(0);
        const pkg = JSON.parse(readFileSync(join(build, "package.json"), "utf8")) as {
          dependencies: Record<string, string>;
        };
        for (const name of Object.keys(pkg.dependencies))
          expect(existsSync(join(build, "node_modules", name, "package.json")))
            .withContext(name)
            .toBeTrue();
        const esbuild = spawnSync(
          process.execPath,
          ["--input-type=module", "-e", 'const e = await import("esbuild"); console.log(e.version);'],
          { cwd: build, encoding: "utf8" },
        );
        expect(esbuild.stdout.trim())
          .withContext(esbuild.stderr)
          .toBe(lock.packages["node_modules/esbuild"]?.version ?? "");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  });
});
