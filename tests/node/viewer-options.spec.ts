import {
  checkKeyCombo,
  DEFAULT_RELEASE_COMBO,
  fill,
  HOTKEY_NAMES,
  helpText,
  parseCommandLine,
  parseHotkeys,
  viewerOptions,
  ViewerOptionsError,
} from "../../src/app/options.js";

function usageError(args: string[]): string {
  try {
    parseCommandLine(args);
  } catch (e) {
    if (e instanceof ViewerOptionsError) return e.message;
    throw e;
  }
  throw new Error(`${JSON.stringify(args)} parsed without an error`);
}

describe("the porthole command line", () => {
  it("has remote-viewer’s defaults when no option is given", () => {
    expect(parseCommandLine([])).toEqual({
      uris: [],
      addresses: [],
      fullScreen: false,
      title: null,
      readOnly: false,
      releaseCombo: DEFAULT_RELEASE_COMBO,
      scaling: null,
      caFile: null,
      help: false,
      version: false,
    });
  });

  it("takes URIs in order and parses each", () => {
    const o = parseCommandLine(["vnc://alice@host:5901", " localhost:2 ", "/run/vm.sock"]);
    expect(o.uris).toEqual(["vnc://alice@host:5901", "localhost:2", "/run/vm.sock"]);
    expect(o.addresses).toEqual([
      { kind: "tcp", host: "host", port: 5901, username: "alice" },
      { kind: "tcp", host: "localhost", port: 5902 },
      { kind: "unix", path: "/run/vm.sock" },
    ]);
  });

  it("rejects a URI that is not a server address, naming it", () => {
    expect(usageError(["vnc://ok", "http://example.org"])).toContain("http://example.org");
    expect(usageError(["host:70000"])).toContain("70000");
  });

  for (const flag of ["--full-screen", "-f"]) {
    it(`opens full screen with ${flag}`, () => {
      expect(parseCommandLine([flag, "host"]).fullScreen).toBeTrue();
    });
  }

  for (const flag of ["--read-only", "-r"]) {
    it(`opens read-only with ${flag}`, () => {
      expect(parseCommandLine(["host", flag]).readOnly).toBeTrue();
    });
  }

  for (const args of [["--title", "My VM"], ["--title=My VM"], ["-t", "My VM"], ["-tMy VM"]]) {
    it(`sets the title with ${JSON.stringify(args)}`, () => {
      const o = parseCommandLine([...args, "host"]);
      expect(o.title).toBe("My VM");
      expect(o.uris).toEqual(["host"]);
    });
  }

  it("takes the next argument as a value even when it starts with a dash", () => {
    expect(parseCommandLine(["--title", "-x-"]).title).toBe("-x-");
  });

  it("lets a later option win over an earlier one", () => {
    expect(parseCommandLine(["-t", "a", "--title=b"]).title).toBe("b");
    expect(parseCommandLine(["--scaling=fit", "--scaling", "one-to-one"]).scaling).toBe("one-to-one");
  });

  it("groups short flags, with a value-taking letter last", () => {
    const o = parseCommandLine(["-frt", "T", "host"]);
    expect([o.fullScreen, o.readOnly, o.title, o.uris]).toEqual([true, true, "T", ["host"]]);
    const p = parseCommandLine(["-rtTitle"]);
    expect([p.readOnly, p.title]).toEqual([true, "Title"]);
  });

  for (const mode of ["fit", "one-to-one", "resize-remote"] as const) {
    it(`accepts --scaling ${mode}`, () => {
      expect(parseCommandLine(["--scaling", mode]).scaling).toBe(mode);
      expect(parseCommandLine([`--scaling=${mode}`]).scaling).toBe(mode);
    });
  }

  it("rejects other scaling modes", () => {
    expect(usageError(["--scaling=stretch"])).toContain("stretch");
    // The settings spell it "original"; the command line uses remote-viewer’s word.
    expect(usageError(["--scaling", "original"])).toContain("one-to-one");
  });

  it("takes a CA file", () => {
    expect(parseCommandLine(["--ca-file", "/etc/pki/ca.pem"]).caFile).toBe("/etc/pki/ca.pem");
    expect(parseCommandLine(["--ca-file=ca.pem"]).caFile).toBe("ca.pem");
    expect(usageError(["--ca-file="])).toContain("--ca-file");
  });

  it("sets the release-cursor hotkey with remote-viewer’s syntax", () => {
    expect(parseCommandLine(["--hotkeys=release-cursor=ctrl+alt"]).releaseCombo).toBe("ctrl+alt");
    expect(parseCommandLine(["--hotkeys", "release-cursor=shift+f12"]).releaseCombo).toBe("shift+f12");
    expect(
      parseCommandLine(["--hotkeys=toggle-fullscreen=shift+f11,release-cursor=ctrl+shift+F12,zoom-in=ctrl+plus"])
        .releaseCombo,
    ).toBe("ctrl+shift+F12");
  });

  it("accepts remote-viewer’s other hotkeys without changing the release combination", () => {
    for (const name of HOTKEY_NAMES.filter((n) => n !== "release-cursor"))
      expect(parseCommandLine([`--hotkeys=${name}=ctrl+alt+x`]).releaseCombo).toBe(DEFAULT_RELEASE_COMBO);
  });

  it("rejects unknown hotkey names and hotkeys without keys", () => {
    expect(usageError(["--hotkeys=release-mouse=ctrl+alt"])).toContain("release-mouse");
    expect(usageError(["--hotkeys=toggle-fullscreen=A,unknown_command=B"])).toContain("unknown_command");
    expect(usageError(["--hotkeys=release-cursor"])).toContain("release-cursor");
    expect(usageError(["--hotkeys=release-cursor="])).toContain("release-cursor");
    expect(usageError(["--hotkeys=release-cursor=ctrl+alt,"])).toContain("NAME=KEYS");
    expect(usageError(["--hotkeys="])).toContain("NAME=KEYS");
  });

  it("checks that a key combination is words joined by +", () => {
    expect(checkKeyCombo("ctrl+alt")).toBe("ctrl+alt");
    expect(checkKeyCombo(" ctrl + alt ")).toBe("ctrl+alt");
    expect(checkKeyCombo("F12")).toBe("F12");
    for (const bad of ["", "ctrl+", "+alt", "ctrl++alt", "ctrl alt", "ctrl-alt", "<Ctrl>a"])
      expect(() => checkKeyCombo(bad)).toThrowError(ViewerOptionsError, /key combination/);
    expect(parseHotkeys("zoom-in=ctrl+plus")).toBeNull();
    expect(usageError(["--hotkeys=release-cursor=ctrl+<alt>"])).toContain("ctrl+<alt>");
  });

  it("stops at --help and --version as GOption does", () => {
    expect(parseCommandLine(["--help"]).help).toBeTrue();
    expect(parseCommandLine(["-h"]).help).toBeTrue();
    expect(parseCommandLine(["-?"]).help).toBeTrue();
    expect(parseCommandLine(["-fh"])).toEqual(jasmine.objectContaining({ help: true, fullScreen: true }));
    expect(parseCommandLine(["--help", "http://not-checked", "--bogus"]).help).toBeTrue();
    const v = parseCommandLine(["--version", "--bogus"]);
    expect([v.version, v.help]).toEqual([true, false]);
    expect(usageError(["--bogus", "--help"])).toContain("--bogus");
  });

  it("rejects unknown options, missing values and values for flags", () => {
    expect(usageError(["--kiosk"])).toBe("unknown option --kiosk");
    expect(usageError(["--kiosk=1"])).toBe("unknown option --kiosk");
    expect(usageError(["-fx"])).toBe("unknown option -x");
    expect(usageError(["host", "--title"])).toBe("--title needs a value");
    expect(usageError(["-t"])).toBe("-t needs a value");
    expect(usageError(["--scaling"])).toBe("--scaling needs a value");
    expect(usageError(["--full-screen=yes"])).toBe("--full-screen does not take a value");
    expect(usageError(["--version=2"])).toBe("--version does not take a value");
  });

  it("treats everything after -- as URIs", () => {
    const o = parseCommandLine(["-f", "--", "host:1"]);
    expect([o.fullScreen, o.uris]).toEqual([true, ["host:1"]]);
    const p = parseCommandLine(["--", "-f"]);
    expect([p.fullScreen, p.uris]).toEqual([false, ["-f"]]);
  });

  it("gives each window only the viewer options", () => {
    const o = parseCommandLine(["-f", "-t", "T", "--scaling=fit", "--ca-file=x.pem", "host"]);
    expect(viewerOptions(o)).toEqual({
      fullScreen: true,
      title: "T",
      readOnly: false,
      releaseCombo: "ctrl+alt",
      scaling: "fit",
      caFile: "x.pem",
    });
  });

  it("translates its messages through the function it is given", () => {
    const french: Record<string, string> = {
      "unknown option {option}": "option inconnue : {option}",
      "Show this help": "Afficher cette aide",
    };
    const translate = (s: string) => french[s] ?? s;
    expect(() => parseCommandLine(["--nope"], translate)).toThrowError(ViewerOptionsError, "option inconnue : --nope");
    expect(helpText(translate)).toContain("-h, --help");
    expect(helpText(translate)).toContain("Afficher cette aide");
  });

  it("fills templates by name, in the translator’s order", () => {
    expect(fill("{b} before {a}", { a: "1", b: "2" })).toBe("2 before 1");
    expect(fill("{missing} stays", {})).toBe("{missing} stays");
  });

  it("lists every option in --help, aligned", () => {
    const help = helpText();
    const lines = help.split("\n");
    for (const option of [
      "-f, --full-screen",
      "-t, --title=TITLE",
      "-r, --read-only",
      "--hotkeys=",
      "--scaling=MODE",
      "--ca-file=FILE",
      "--version",
      "-h, --help",
    ])
      expect(help).toContain(option);
    const optionLines = lines.slice(lines.indexOf("Options:") + 1, lines.indexOf("", lines.indexOf("Options:")));
    expect(optionLines.length).toBe(8);
    const column = (l: string) => /^ {2}.*?\S {2,}(?=\S)/.exec(l)?.[0].length;
    expect(new Set(optionLines.map(column)).size).toBe(1);
    expect(lines[0]).toBe("Usage:");
  });
});
