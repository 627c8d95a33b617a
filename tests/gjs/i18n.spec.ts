// The translation pipeline end to end, for German (po/de.po): msgfmt's catalogue in the
// build tree's locale directory, found by the uninstalled programs through their
// porthole-config.json, and the viewer showing German under a German locale. A process
// settles its locale once at start-up, so the viewer's window is built by a child program
// (i18n-probe.ts) started once in German and once in English, and the two pair up string
// for string. The merged desktop file and AppStream metadata carry the same translation.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

import type { ProbeReport } from "./i18n-probe.js";
import { programBundle, run } from "./processes.js";

const LOCALE = "de_DE.UTF-8";
const GERMAN = { LANGUAGE: "de", LANG: LOCALE, LC_ALL: LOCALE };
const ENGLISH = { LANGUAGE: "", LANG: "C.UTF-8", LC_ALL: "C.UTF-8" };

/** The build tree's tests directory: the spec bundle's, where the probe is built too. */
const testsDir = Gio.File.new_for_uri(import.meta.url).get_parent();
const buildRoot = testsDir?.get_parent()?.get_path() ?? "";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Fails with the way out when the C library has no German locale (it then ignores LANGUAGE). */
async function needGermanLocale(): Promise<void> {
  const { stdout } = await run(["locale", "-a"]);
  const have = decode(stdout)
    .split("\n")
    .map((l) => l.trim().toLowerCase());
  if (!have.includes("de_de.utf8"))
    throw new Error(`the ${LOCALE} locale does not exist here: \`npm run setup\` (as root) generates it`);
}

async function probe(env: Record<string, string>): Promise<ProbeReport> {
  const path = testsDir?.get_child("porthole-i18n-probe.js").get_path();
  if (!path) throw new Error("cannot locate the spec bundle's directory");
  const result = await run(["gjs", "-m", path], env);
  if (result.status !== 0) throw new Error(`the i18n probe exited with ${result.status}:\n${result.stderr}`);
  return JSON.parse(decode(result.stdout)) as ProbeReport;
}

/** Strings German shares with English. */
const SAME_IN_GERMAN = new Set(["Porthole"]);

describe("the German translation", () => {
  let english: ProbeReport;
  let german: ProbeReport;

  beforeAll(async () => {
    await needGermanLocale();
    [english, german] = await Promise.all([probe(ENGLISH), probe(GERMAN)]);
  });

  it("is the language the probe runs in", () => {
    expect(german.languages[0]).toBe("de");
    expect(english.languages).not.toContain("de");
  });

  it("shows the window without a server in German", () => {
    const pairs = new Map(english.window.map((en, i) => [en, german.window[i]]));
    expect(german.window.length).toBe(english.window.length);
    expect(german.windowTitle).toBe("Porthole");
    expect(english.windowTitle).toBe("Porthole");
    const expected: [string, string][] = [
      ["No Server", "Kein Server"],
      [
        "Start Porthole with a server address, for example “porthole vnc://localhost:5900”.",
        "Starten Sie Porthole mit einer Serveradresse, zum Beispiel »porthole vnc://localhost:5900«.",
      ],
      ["Display", "Bildschirm"],
      ["Send Keys", "Tasten senden"],
      ["Ctrl+Alt+Del", "Strg+Alt+Entf"],
      ["Ctrl+Alt+F7", "Strg+Alt+F7"],
      ["Main Menu", "Hauptmenü"],
      ["Full Screen", "Vollbild"],
      ["_Full Screen", "_Vollbild"],
      ["_Fit to Window", "An _Fenster anpassen"],
      ["Take _Screenshot…", "Bildschirmfoto _aufnehmen …"],
      ["Re_connect", "_Erneut verbinden"],
      ["_Quit", "_Beenden"],
    ];
    for (const [en, de] of expected) {
      expect(english.window).withContext("English").toContain(en);
      expect(pairs.get(en)).withContext(en).toBe(de);
    }
  });

  it("shows the connect dialog in German", () => {
    expect(german.dialog.length).toBe(english.dialog.length);
    const pairs = new Map(english.dialog.map((en, i) => [en, german.dialog[i]]));
    const expected: [string, string][] = [
      ["Connect to a Server", "Mit einem Server verbinden"],
      ["_Cancel", "_Abbrechen"],
      ["C_onnect", "_Verbinden"],
      ["Server Address", "Serveradresse"],
      [
        "For example vnc://host:5901, host:1 or vnc+unix:///run/vm/vnc.sock",
        "Zum Beispiel vnc://host:5901, host:1 oder vnc+unix:///run/vm/vnc.sock",
      ],
    ];
    for (const [en, de] of expected) {
      expect(english.dialog).withContext("English").toContain(en);
      expect(pairs.get(en)).withContext(en).toBe(de);
    }
  });

  it("leaves no string of the window or the dialog in English", () => {
    const pairs = [
      ...english.window.map((en, i) => [en, german.window[i]]),
      ...english.dialog.map((en, i) => [en, german.dialog[i]]),
    ];
    expect(pairs.length).toBeGreaterThan(30);
    for (const [en, de] of pairs) {
      if (en === undefined || SAME_IN_GERMAN.has(en)) expect(de).toBe(en);
      else expect(de).withContext(`“${en}” in German`).not.toBe(en);
    }
  });

  it("answers porthole --help in German from the build tree", async () => {
    const [en, de] = await Promise.all(
      [ENGLISH, GERMAN].map((env) => run(["gjs", "-m", programBundle("porthole"), "--help"], env)),
    );
    expect([en?.status, de?.status]).toEqual([0, 0]);
    const englishHelp = decode(en?.stdout ?? new Uint8Array());
    const germanHelp = decode(de?.stdout ?? new Uint8Array());
    expect(englishHelp).toMatch(/^Usage:\n/);
    expect(germanHelp).toMatch(/^Aufruf:\n/);
    expect(germanHelp).toContain("\nOptionen:\n");
    expect(germanHelp).toContain("Das Fenster im Vollbild öffnen");
    expect(germanHelp).toContain("Ohne URI fragt Porthole, mit welchem Server verbunden werden soll.");
    expect(germanHelp).not.toContain("Show this help");
    // The same text the probe's helpText(_) gave: one catalogue for every program.
    expect(germanHelp.trimEnd()).toBe(german.help);
  });

  it("is merged into the desktop file and the AppStream metadata", () => {
    const desktop = new GLib.KeyFile();
    desktop.load_from_file(`${buildRoot}/data/dev.porthole.Viewer.desktop`, GLib.KeyFileFlags.KEEP_TRANSLATIONS);
    const entry = (key: string) => desktop.get_locale_string("Desktop Entry", key, "de");
    expect(entry("GenericName")).toBe("Konsole für virtuelle Maschinen");
    expect(entry("Comment")).toBe(
      "Bildschirm, serielle Konsolen und Ton einer virtuellen Maschine über VNC sehen und bedienen",
    );
    expect(desktop.get_locale_string_list("Desktop Entry", "Keywords", "de")).toContain("Konsole");
    expect(desktop.get_string("Desktop Entry", "GenericName")).toBe("Virtual Machine Console");

    const [, bytes] = GLib.file_get_contents(`${buildRoot}/data/dev.porthole.Viewer.metainfo.xml`);
    const metainfo = decode(bytes);
    expect(metainfo).toContain(
      '<summary xml:lang="de">Die gesamte Konsole einer virtuellen Maschine über VNC nutzen</summary>',
    );
    expect(metainfo).toContain('<li xml:lang="de">Verbindet sich von selbst neu, wenn der Gast neu startet</li>');
  });
});
