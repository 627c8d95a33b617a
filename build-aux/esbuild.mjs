#!/usr/bin/env node
// Bundles one program (or a directory of test specs) with esbuild and writes a Makefile
// depfile from esbuild's metafile, so meson's custom_target rebuilds when any imported
// source changes.
//
// Usage: node build-aux/esbuild.mjs --platform gjs|node --outfile OUT.js --depfile OUT.d
//                                   (--entry FILE.ts | --specs DIR [--runner FILE.ts])
import { build } from "esbuild";
import { readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    platform: { type: "string" },
    entry: { type: "string" },
    specs: { type: "string" },
    runner: { type: "string" },
    outfile: { type: "string" },
    depfile: { type: "string" },
  },
});
if (!opts.outfile || !opts.depfile || !opts.entry === !opts.specs || !["gjs", "node"].includes(opts.platform ?? "")) {
  console.error(
    "usage: esbuild.mjs --platform gjs|node --outfile F --depfile F (--entry F | --specs DIR [--runner F])",
  );
  process.exit(2);
}
const outfile = resolve(opts.outfile);
const top = dirname(dirname(new URL(import.meta.url).pathname));

// A spec bundle imports the runner first (it installs jasmine's globals), then every
// *.spec.ts of the directory in a stable order: adding a spec file needs no build edit.
let stdin;
let entryPoints;
if (opts.specs) {
  const dir = resolve(opts.specs);
  const specs = readdirSync(dir)
    .filter((f) => f.endsWith(".spec.ts"))
    .sort();
  const imports = [opts.runner ? resolve(opts.runner) : null, ...specs.map((f) => join(dir, f))]
    .filter(Boolean)
    .map((f) => `import ${JSON.stringify(f)};`);
  if (opts.runner) imports.push(`import { run } from ${JSON.stringify(resolve(opts.runner))};`, "await run();");
  stdin = { contents: imports.join("\n"), resolveDir: dir, sourcefile: `${opts.specs}/index.ts`, loader: "ts" };
} else {
  entryPoints = [resolve(opts.entry)];
}

// jasmine-core's package exports only its node wrapper; the gjs runner needs the core file.
const require = createRequire(import.meta.url);
const jasmineCore = join(dirname(require.resolve("jasmine-core")), "jasmine-core/jasmine.js");
// @novnc/novnc's package exports only core/rfb.js; porthole-bench imports its decoders and
// Websock by subpath (src/tools/bench-novnc.ts), so the package name maps to its directory.
const novnc = join(top, "node_modules", "@novnc", "novnc");

const gjs = opts.platform === "gjs";
const result = await build({
  absWorkingDir: top,
  entryPoints,
  stdin,
  outfile,
  bundle: true,
  format: "esm",
  platform: gjs ? "neutral" : "node",
  target: gjs ? "firefox102" : "node20",
  mainFields: ["module", "main"],
  // Modules GJS provides itself.
  external: gjs ? ["gi://*", "resource://*", "system", "gettext", "cairo", "console"] : [],
  alias: { "jasmine-core": jasmineCore, "@novnc/novnc": novnc },
  metafile: true,
  logLevel: "warning",
  legalComments: "none",
  charset: "utf8",
});

const deps = Object.keys(result.metafile.inputs)
  .filter((f) => !f.startsWith("<"))
  .map((f) => resolve(top, f).replace(/ /g, "\\ "));
writeFileSync(opts.depfile, `${relative(process.cwd(), outfile)}: ${deps.join(" \\\n  ")}\n`);
