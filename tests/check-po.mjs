#!/usr/bin/env node
// Keeps every translation complete and well formed. Runs the real `porthole-pot` target
// (the template is generated, never committed), then for each language in po/LINGUAS:
// msgfmt --check (header, C format strings) with --check-accelerators (one mnemonic where
// the original has one) accepts its .po, the .po translates every message of the template
// (none missing, untranslated or fuzzy; plural messages in every form of its Plural-Forms),
// it holds no message the template has lost, and {name} placeholders are kept.
// Usage: node tests/check-po.mjs SOURCE_ROOT BUILD_ROOT
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [top, build] = process.argv.slice(2);
if (!top || !build) {
  console.error("usage: check-po.mjs SOURCE_ROOT BUILD_ROOT");
  process.exit(2);
}

/** The entries of a PO file: { ctx, id, plural, strs, flags, obsolete }, the header included. */
function parsePo(text, file) {
  const entries = [];
  let entry = null;
  let field = null;
  const start = () => ({ ctx: "", id: null, plural: null, strs: [], flags: [], obsolete: false });
  const flush = () => {
    if (entry && entry.id !== null) entries.push(entry);
    entry = null;
    field = null;
  };
  text.split("\n").forEach((raw, n) => {
    let line = raw.trim();
    if (line === "") return flush();
    let obsolete = false;
    if (line.startsWith("#~")) {
      obsolete = true;
      line = line.slice(2).trim();
      if (line.startsWith("|")) return; // the previous msgid of an obsolete entry
    } else if (line.startsWith("#,")) {
      entry ??= start();
      entry.flags.push(
        ...line
          .slice(2)
          .split(",")
          .map((f) => f.trim()),
      );
      return;
    } else if (line.startsWith("#")) return;
    const m = /^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?)\s+(".*")$/.exec(line);
    if (m) {
      // A new message without a blank line before it.
      if ((m[1] === "msgctxt" || m[1] === "msgid") && entry && entry.strs.length > 0) flush();
      entry ??= start();
      entry.obsolete ||= obsolete;
      field = m[2] !== undefined ? `msgstr[${m[2]}]` : m[1];
      const value = JSON.parse(m[3]);
      if (field === "msgctxt") entry.ctx = value;
      else if (field === "msgid") entry.id = value;
      else if (field === "msgid_plural") entry.plural = value;
      else entry.strs[m[2] === undefined ? 0 : Number(m[2])] = value;
    } else if (/^".*"$/.test(line) && entry && field) {
      const value = JSON.parse(line);
      if (field === "msgctxt") entry.ctx += value;
      else if (field === "msgid") entry.id += value;
      else if (field === "msgid_plural") entry.plural += value;
      else {
        const i = field === "msgstr" ? 0 : Number(/\d+/.exec(field)[0]);
        entry.strs[i] += value;
      }
    } else throw new Error(`${file}:${n + 1}: cannot read ${JSON.stringify(raw)}`);
  });
  flush();
  return entries;
}

const key = (e) => `${e.ctx}\u0004${e.id}`;
const show = (e) => JSON.stringify(e.ctx ? `${e.ctx}|${e.id}` : e.id);
/** The placeholders a string carries, sorted: {name} for fill(), %s/%d/%1$s for replace(). */
const placeholders = (s) =>
  [...s.matchAll(/\{\w+\}|%(?:\d+\$)?[-#0 +']*\d*(?:\.\d+)?[hlLqjzt]*[diouxXeEfFgGaAcsp]/g)].map((m) => m[0]).sort();

execFileSync("meson", ["compile", "-C", build, "porthole-pot"], { stdio: ["ignore", "ignore", "inherit"] });
const template = parsePo(readFileSync(join(top, "po/porthole.pot"), "utf8"), "po/porthole.pot").filter(
  (e) => e.id !== "" && !e.obsolete,
);
if (template.length === 0) {
  console.error("po/porthole.pot has no messages: the extraction itself is broken");
  process.exit(1);
}

const languages = readFileSync(join(top, "po/LINGUAS"), "utf8")
  .split("\n")
  .filter((l) => !l.trim().startsWith("#"))
  .flatMap((l) => l.trim().split(/\s+/))
  .filter(Boolean);
const problems = [];
if (languages.length === 0) problems.push("po/LINGUAS lists no language");

for (const lang of languages) {
  const rel = `po/${lang}.po`;
  const file = join(top, rel);
  if (!existsSync(file)) {
    problems.push(`po/LINGUAS lists ${lang}, but ${rel} does not exist`);
    continue;
  }
  const fmt = spawnSync("msgfmt", ["--check", "--check-accelerators=_", "-o", "/dev/null", file], {
    encoding: "utf8",
  });
  if (fmt.error) throw fmt.error;
  if (fmt.status !== 0) problems.push(`msgfmt --check rejects ${rel}:\n${fmt.stderr.trimEnd()}`);

  let entries;
  try {
    entries = parsePo(readFileSync(file, "utf8"), rel);
  } catch (e) {
    problems.push(e.message);
    continue;
  }
  const header = entries.find((e) => e.id === "" && e.ctx === "" && !e.obsolete)?.strs[0] ?? "";
  const language = /^Language: *(.*)$/m.exec(header)?.[1]?.trim();
  if (language !== lang) problems.push(`${rel}: its header says Language: ${language ?? "(none)"}, not ${lang}`);
  if (!/^Content-Type: text\/plain; charset=UTF-8$/m.test(header))
    problems.push(`${rel}: its header does not declare charset=UTF-8`);
  const nplurals = Number(/^Plural-Forms: *nplurals *= *(\d+) *;/m.exec(header)?.[1] ?? NaN);
  if (!(nplurals >= 1)) problems.push(`${rel}: its header has no Plural-Forms with nplurals`);

  const translations = new Map(entries.filter((e) => e.id !== "" && !e.obsolete).map((e) => [key(e), e]));
  let complete = 0;
  for (const t of template) {
    const e = translations.get(key(t));
    if (!e) {
      problems.push(
        `${rel}: ${show(t)} is not translated (merge the template: meson compile -C ${build} porthole-update-po)`,
      );
      continue;
    }
    if (e.flags.includes("fuzzy")) problems.push(`${rel}: the translation of ${show(t)} is fuzzy`);
    const forms = t.plural === null ? 1 : nplurals;
    if ((t.plural === null) !== (e.plural === null) || e.strs.length !== forms)
      problems.push(`${rel}: ${show(t)} needs ${forms} translated form(s), it has ${e.strs.length}`);
    const empty = e.strs.some((s) => s === "" || s === undefined);
    if (empty) problems.push(`${rel}: ${show(t)} has an empty translation`);
    const wanted = placeholders(t.id).join(" ");
    for (const s of e.strs) {
      // A plural's singular form may leave out the number ("one file" for "%d file").
      if (s === undefined || (t.plural !== null && s !== e.strs[e.strs.length - 1])) continue;
      if (placeholders(s).join(" ") !== wanted)
        problems.push(`${rel}: ${show(t)} has the placeholders [${wanted}], its translation ${JSON.stringify(s)} not`);
    }
    if (!e.flags.includes("fuzzy") && !empty) complete++;
  }
  const templateKeys = new Set(template.map(key));
  for (const [k, e] of translations)
    if (!templateKeys.has(k)) problems.push(`${rel}: ${show(e)} is no longer in the template (merge the template)`);
  console.log(`${lang}: ${complete} of ${template.length} messages translated`);
}
for (const p of problems) console.error(p);
process.exit(problems.length ? 1 : 0);
