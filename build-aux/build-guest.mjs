#!/usr/bin/env node
// The demo guest: a small real Linux built from Debian's packages, cached, never committed.
//
//   kernel     Debian's linux-image-amd64 (its vmlinuz, and the modules below)
//   initramfs  busybox (static), busybox init with a getty and login on ttyS0 (serial), hvc0
//              (virtio-console) and tty1 (the VESA framebuffer console on the VGA display);
//              sound: the modules of QEMU's intel-hda + hda-duplex, alsa-utils' aplay with
//              the libraries it needs, and a 1 kHz tone as a WAV (`play-tone` plays it)
//   login      root, password "porthole"
//
// Output: $XDG_CACHE_HOME/porthole/guest-KEY/{vmlinuz,initrd.img,guest.json}, where KEY
// hashes the package versions and every input file, so it is rebuilt only when one
// changes. Prints the directory on stdout. Without package lists it runs `apt-get update`
// (as root); when apt still cannot say, the guest built before is used as it is.
//
// Usage: node build-aux/build-guest.mjs [--quiet]   (needs apt-get and the Debian archive)
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const guestFiles = join(here, "guest");
const quiet = process.argv.includes("--quiet");

/** Modules the guest loads, with what they depend on, in this order: the codec driver before
 * the controller, which probes its codecs as it loads (there is no udev to load one later). */
const MODULES = ["virtio_pci", "virtio_console", "snd-hda-codec-generic", "snd-hda-intel"];
const PACKAGES = ["busybox-static", "alsa-utils", "libasound2", "libasound2-data"];
export const ROOT_PASSWORD = "porthole";
const TONE = { hz: 1000, seconds: 3, rate: 48000 };

function say(msg) {
  if (!quiet) console.error(`build-guest: ${msg}`);
}

function fail(msg) {
  console.error(`build-guest: ${msg}`);
  process.exit(1);
}

function output(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`'${[cmd, ...args].join(" ")}' failed: ${(r.stderr || "").trim()}`);
  return r.stdout;
}

/** What apt-cache prints, or null when it fails (no package lists yet, say). */
function aptCache(args) {
  const r = spawnSync("apt-cache", args, { encoding: "utf8" });
  return r.status === 0 ? r.stdout : null;
}

/** The kernel package linux-image-amd64 stands for, and each package's candidate version; null if apt cannot say. */
function tryResolve() {
  const kernel = /Depends: (linux-image-[0-9][^\s]*)/.exec(aptCache(["depends", "linux-image-amd64"]) ?? "")?.[1];
  if (!kernel) return null;
  const versions = {};
  for (const p of [kernel, ...PACKAGES]) {
    const v = /Candidate: (\S+)/.exec(aptCache(["policy", p]) ?? "")?.[1];
    if (!v || v === "(none)") return null;
    versions[p] = v;
  }
  return { kernel, versions };
}

function resolvePackages() {
  let resolved = tryResolve();
  // A machine that has every package the project needs may still have no package lists
  // (container images ship without them): fetch them once, as the set-up would.
  if (resolved === null && process.getuid?.() === 0) {
    say("apt has no lists for the guest's packages: running apt-get update");
    spawnSync("apt-get", ["update", "-q"], { stdio: ["ignore", "ignore", "inherit"] });
    resolved = tryResolve();
  }
  return resolved;
}

/** The newest guest already built, for when apt cannot tell what the inputs are now. */
function newestCached() {
  try {
    const dirs = readdirSync(cacheRoot())
      .filter((d) => d.startsWith("guest-") && existsSync(join(cacheRoot(), d, "guest.json")))
      .map((d) => join(cacheRoot(), d));
    return dirs.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] ?? null;
  } catch {
    return null;
  }
}

function cacheRoot() {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "porthole");
}

function inputKey(versions) {
  const h = createHash("sha256");
  h.update(JSON.stringify({ versions, MODULES, TONE, ROOT_PASSWORD }));
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const f of readdirSync(guestFiles).sort()) h.update(f).update(readFileSync(join(guestFiles, f)));
  return h.digest("hex").slice(0, 16);
}

/** `depends=` of a kernel module, from its .modinfo strings (no kmod needed). */
function moduleDepends(file) {
  const bytes = readFileSync(file);
  const at = bytes.indexOf("\0depends=");
  if (at < 0) return [];
  const end = bytes.indexOf(0, at + 1);
  const list = bytes.subarray(at + 9, end).toString("latin1");
  return list === "" ? [] : list.split(",");
}

/** Module name → path under lib/modules/VERSION, for every module of the kernel package. */
function moduleIndex(dir) {
  const index = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ko")) index.set(e.name.slice(0, -3).replaceAll("_", "-"), p);
    }
  };
  walk(dir);
  return index;
}

/** The modules to load, each after what it depends on. */
function loadOrder(index) {
  const order = [];
  const seen = new Set();
  const visit = (name) => {
    const key = name.replaceAll("_", "-");
    if (seen.has(key)) return;
    seen.add(key);
    const file = index.get(key);
    if (!file) fail(`the kernel has no module ${name} (built in? then drop it from MODULES)`);
    for (const dep of moduleDepends(file)) visit(dep);
    order.push(file);
  };
  for (const m of MODULES) visit(m);
  return order;
}

/** A 1 kHz sine, 16-bit stereo PCM in a RIFF/WAVE file, with 20 ms fades (no clicks). */
function toneWav() {
  const frames = TONE.rate * TONE.seconds;
  const data = Buffer.alloc(frames * 4);
  const fade = TONE.rate / 50;
  for (let i = 0; i < frames; i++) {
    const envelope = Math.min(1, i / fade, (frames - 1 - i) / fade);
    const v = Math.round(0.5 * 32767 * envelope * Math.sin((2 * Math.PI * TONE.hz * i) / TONE.rate));
    data.writeInt16LE(v, i * 4);
    data.writeInt16LE(v, i * 4 + 2);
  }
  const head = Buffer.alloc(44);
  head.write("RIFF", 0, "latin1");
  head.writeUInt32LE(36 + data.length, 4);
  head.write("WAVEfmt ", 8, "latin1");
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20); // PCM
  head.writeUInt16LE(2, 22);
  head.writeUInt32LE(TONE.rate, 24);
  head.writeUInt32LE(TONE.rate * 4, 28);
  head.writeUInt16LE(4, 32);
  head.writeUInt16LE(16, 34);
  head.write("data", 36, "latin1");
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

/** Copies a file, following symbolic links, making the parent directories. */
function install(from, to, mode) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  if (mode !== undefined) chmodSync(to, mode);
}

/** The shared libraries `binary` needs (ldd, with the package's own libraries first). */
function sharedLibraries(binary, libraryPath) {
  const text = output("ldd", [binary], { env: { ...process.env, LD_LIBRARY_PATH: libraryPath } });
  const libs = [];
  for (const line of text.split("\n")) {
    const m = /=>\s*(\S+)\s*\(/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/**
 * A newc cpio archive (the initramfs format, kernel Documentation/driver-api/early-userspace)
 * of `root`, owned by root: directories, regular files and symbolic links.
 */
function cpio(root) {
  const parts = [];
  let ino = 1;
  const pad4 = (n) => (4 - (n % 4)) % 4;
  const entry = (name, mode, body, nlink) => {
    const fields = [ino++, mode, 0, 0, nlink, 0, body.length, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
    const header = "070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("");
    const head = Buffer.from(header + name + "\0", "latin1");
    parts.push(head, Buffer.alloc(pad4(head.length)), body, Buffer.alloc(pad4(body.length)));
  };
  const walk = (dir, prefix) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = prefix ? `${prefix}/${name}` : name;
      const st = lstatSync(path);
      if (st.isSymbolicLink()) entry(rel, 0o120777, Buffer.from(readlinkSync(path)), 1);
      else if (st.isDirectory()) {
        entry(rel, 0o040000 | (st.mode & 0o7777), Buffer.alloc(0), 2);
        walk(path, rel);
      } else entry(rel, 0o100000 | (st.mode & 0o7777), readFileSync(path), 1);
    }
  };
  walk(root, "");
  entry("TRAILER!!!", 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

function build(kernel, versions, target) {
  const work = mkdtempSync(join(tmpdir(), "porthole-guest-"));
  try {
    say(`downloading ${kernel} ${versions[kernel]} and ${PACKAGES.join(", ")}`);
    const debs = join(work, "debs");
    mkdirSync(debs);
    // apt's sandbox user cannot write into a private temporary directory; root can.
    output("apt-get", ["download", "-o", "APT::Sandbox::User=root", ...Object.keys(versions)], { cwd: debs });
    const x = join(work, "x");
    for (const deb of readdirSync(debs)) output("dpkg-deb", ["-x", join(debs, deb), x]);

    const root = join(work, "root");
    const version = readdirSync(join(x, "lib/modules"))[0];
    install(join(guestFiles, "init"), join(root, "init"), 0o755);
    install(join(x, "bin/busybox"), join(root, "bin/busybox"), 0o755);
    install(join(guestFiles, "inittab"), join(root, "etc/inittab"));
    install(join(guestFiles, "rc"), join(root, "etc/rc"), 0o755);
    install(join(guestFiles, "issue"), join(root, "etc/issue"));
    install(join(guestFiles, "profile"), join(root, "etc/profile"));
    install(join(guestFiles, "play-tone"), join(root, "usr/bin/play-tone"), 0o755);
    const hash = output("openssl", ["passwd", "-1", "-salt", "porthole", ROOT_PASSWORD]).trim();
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/shadow"), `root:${hash}:19000:0:99999:7:::\n`);
    chmodSync(join(root, "etc/shadow"), 0o600);
    writeFileSync(join(root, "etc/group"), "root:x:0:\naudio:x:29:root\n");
    writeFileSync(join(root, "etc/hostname"), "porthole-demo\n");
    mkdirSync(join(root, "root"), { recursive: true });

    const index = moduleIndex(join(x, "lib/modules", version));
    const order = loadOrder(index);
    for (const file of order) install(file, join(root, "lib/modules", file.split("/").at(-1)));
    writeFileSync(join(root, "lib/modules/load-order"), order.map((f) => `${f.split("/").at(-1)}\n`).join(""));

    const libDir = join(x, "usr/lib/x86_64-linux-gnu");
    install(join(x, "usr/bin/aplay"), join(root, "usr/bin/aplay"), 0o755);
    for (const lib of sharedLibraries(join(x, "usr/bin/aplay"), libDir)) {
      const inPackage = lib.startsWith(x);
      const dest = inPackage ? lib.slice(x.length) : lib;
      install(lib, join(root, dest));
    }
    // alsa-lib reads its configuration (the "plughw" PCM among it) from here.
    mkdirSync(join(root, "usr/share"), { recursive: true });
    output("cp", ["-a", join(x, "usr/share/alsa"), join(root, "usr/share/alsa")]);
    mkdirSync(join(root, "usr/share/sounds"), { recursive: true });
    writeFileSync(join(root, "usr/share/sounds/porthole-tone.wav"), toneWav());

    say(`packing ${order.length} modules, busybox and aplay into the initramfs`);
    const staging = `${target}.partial`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    copyFileSync(join(x, `boot/vmlinuz-${version}`), join(staging, "vmlinuz"));
    writeFileSync(join(staging, "initrd.img"), gzipSync(cpio(root), { level: 6 }));
    writeFileSync(
      join(staging, "guest.json"),
      JSON.stringify(
        { kernel: version, packages: versions, modules: order.length, rootPassword: ROOT_PASSWORD, tone: TONE },
        null,
        2,
      ) + "\n",
    );
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const resolved = resolvePackages();
if (resolved === null) {
  const cached = newestCached();
  if (cached === null)
    fail("apt cannot find linux-image-amd64, busybox-static and alsa-utils: run `apt-get update` as root");
  say(`apt cannot say which package versions are current; using the guest built before: ${cached}`);
  process.stdout.write(`${cached}\n`);
  process.exit(0);
}
const { kernel, versions } = resolved;
const target = join(cacheRoot(), `guest-${inputKey(versions)}`);
if (existsSync(join(target, "guest.json"))) say(`up to date: ${target}`);
else {
  build(kernel, versions, target);
  say(`built ${target}`);
  // Earlier builds (other inputs) are not needed any more: the cache holds one guest.
  for (const old of readdirSync(cacheRoot()))
    if (old.startsWith("guest-") && join(cacheRoot(), old) !== target)
      rmSync(join(cacheRoot(), old), { recursive: true, force: true });
}
process.stdout.write(`${target}\n`);
