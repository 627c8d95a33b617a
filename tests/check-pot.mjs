#!/usr/bin/env node
// Proves translation extraction end to end: runs the real `porthole-pot` target, then
// checks that every string marked with _("…"), C_("ctx", "…") or ngettext("…", "…", n) in
// the sources is in the template, and that every source file marking strings is listed in
// po/POTFILES.in. xgettext 0.21 has no TypeScript parser, so this is the only proof.
// Usage: node tests/check-pot.mjs SOURCE_ROOT BUILD_ROOT
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const [top, build] = process.argv.slice(2);
if (!top || !build) {
  console.error("usage: check-pot.mjs SOURCE_ROOT BUILD_ROOT");
  process.exit(2);
}

execFileSync("meson", ["compile", "-C", build, "porthole-pot"], { stdio: ["ignore", "ignore", "inherit"] });
const pot = readFileSync(join(top, "po/porthole.pot"), "utf8");

// msgids (with msgctxt) from the template, joining continued lines.
const unquote = (s) => JSON.parse(s);
const potIds = new Set();
let ctx = "";
let cur = null;
let field = null;
for (const line of pot.split("\n").concat([""])) {
  const m = /^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) (".*")$/.exec(line);
  if (m) {
    field = m[1];
    if (field === "msgctxt") ctx = unquote(m[2]);
    if (field === "msgid") cur = unquote(m[2]);
  } else if (/^".*"$/.test(line)) {
    if (field === "msgid") cur += unquote(line);
    if (field === "msgctxt") ctx += unquote(line);
  } else if (line === "" && cur !== null) {
    potIds.add(`${ctx}\u0004${cur}`);
    ctx = "";
    cur = null;
    field = null;
  }
}

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

const listed = new Set(
  readFileSync(join(top, "po/POTFILES.in"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#")),
);
const str = String.raw`("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')`;
const patterns = [
  [new RegExp(String.raw`(?<![\w.])_\(\s*${str}\s*\)`, "g"), (m) => ["", m[1]]],
  [new RegExp(String.raw`(?<![\w.])C_\(\s*${str}\s*,\s*${str}\s*\)`, "g"), (m) => [m[1], m[2]]],
  [new RegExp(String.raw`(?<![\w.])ngettext\(\s*${str}\s*,\s*${str}`, "g"), (m) => ["", m[1]]],
];
// A JS string literal to its value (single-quoted ones re-quoted for JSON).
const value = (lit) =>
  JSON.parse(lit.startsWith("'") ? `"${lit.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"` : lit);

// Comments may show marking examples; blank them (keeping line breaks) but not strings.
function stripComments(text) {
  let out = "";
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith("//", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

let marked = 0;
const problems = [];
for (const file of sources(join(top, "src"))) {
  const rel = relative(top, file);
  const text = stripComments(readFileSync(file, "utf8"));
  let found = 0;
  for (const [re, pick] of patterns) {
    for (const m of text.matchAll(re)) {
      found++;
      const [c, id] = pick(m).map((s) => (s === "" ? "" : value(s)));
      if (!potIds.has(`${c}\u0004${id}`))
        problems.push(`${rel}: ${JSON.stringify(id)} is marked but not in the template`);
    }
  }
  marked += found;
  if (found > 0 && !listed.has(rel)) problems.push(`${rel} marks strings but is not listed in po/POTFILES.in`);
}
for (const rel of listed) {
  try {
    readFileSync(join(top, rel));
  } catch {
    problems.push(`po/POTFILES.in lists ${rel}, which does not exist`);
  }
}
if (marked === 0) problems.push("no marked strings found in src/: the scan itself is broken");
for (const p of problems) console.error(p);
console.log(`${marked} marked strings checked against ${potIds.size - 1} template entries`);
process.exit(problems.length ? 1 : 0);
