// The `porthole` command line, spelled like remote-viewer’s so that scripts and desktop
// launchers written for virt-viewer work unchanged. Pure TypeScript without GI imports:
// main.ts parses it before the application starts (a typo gets one line on the terminal
// and exit status 2), the primary instance parses it again from GApplicationCommandLine,
// and the node specs test it. Translation is passed in (`_`) for the same reason.

import { parseServerAddress, type ServerAddress } from "../protocol/address.js";
import { ProtocolError } from "../protocol/errors.js";

export type Scaling = "fit" | "one-to-one" | "resize-remote";

/** How one viewer window shows its server, from the command line or the connect dialog. */
export interface ViewerOptions {
  readonly fullScreen: boolean;
  /** The window title instead of the server’s desktop name. */
  readonly title: string | null;
  /** Show the display but send no keyboard or pointer input. */
  readonly readOnly: boolean;
  /** The key combination that releases a grabbed pointer and keyboard, e.g. "ctrl+alt". */
  readonly releaseCombo: string;
  /** null: use the `scaling` setting. */
  readonly scaling: Scaling | null;
  /** CA certificates (PEM) to trust for VeNCrypt X509 instead of the system’s. */
  readonly caFile: string | null;
}

export interface CommandLineOptions extends ViewerOptions {
  /** The server addresses as given, in order. */
  readonly uris: readonly string[];
  /** The same addresses parsed, one per entry of `uris`. */
  readonly addresses: readonly ServerAddress[];
  readonly help: boolean;
  readonly version: boolean;
}

/** A command line that does not parse; `message` is one line for the terminal. */
export class ViewerOptionsError extends Error {
  override name = "ViewerOptionsError";
}

export type Translate = (msgid: string) => string;

const untranslated: Translate = (msgid) => msgid;

/** QEMU’s and virt-manager’s grab release keys, which VM users already know. */
export const DEFAULT_RELEASE_COMBO = "ctrl+alt";

export const SCALING_MODES: readonly Scaling[] = ["fit", "one-to-one", "resize-remote"];

/**
 * Every hotkey name remote-viewer accepts. Only release-cursor has a use here; the others
 * are accepted and ignored so a remote-viewer command line still starts, while a
 * misspelt name is an error instead of a silently missing hotkey.
 */
export const HOTKEY_NAMES: readonly string[] = [
  "toggle-fullscreen",
  "zoom-in",
  "zoom-out",
  "zoom-reset",
  "release-cursor",
  "smartcard-insert",
  "smartcard-remove",
  "secure-attention",
  "usb-device-reset",
];

/** Replaces each {name} in a translated template; translators may reorder them. */
export function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * Checks a key combination’s spelling ("ctrl+alt", "shift+f12"): words of letters, digits
 * and underscores joined by "+". What each word means is the key-combo parser’s business.
 */
export function checkKeyCombo(text: string, _: Translate = untranslated): string {
  const words = text.split("+").map((w) => w.trim());
  if (text.trim() === "" || !words.every((w) => /^\w+$/.test(w)))
    throw new ViewerOptionsError(
      fill(_("“{combo}” is not a key combination such as “ctrl+alt” or “shift+f12”"), { combo: text }),
    );
  return words.join("+");
}

/**
 * Parses remote-viewer’s `--hotkeys` value, `NAME=KEYS[,NAME=KEYS…]`, and returns the
 * release-cursor combination if it sets one.
 */
export function parseHotkeys(value: string, _: Translate = untranslated): string | null {
  let release: string | null = null;
  for (const entry of value.split(",")) {
    const eq = entry.indexOf("=");
    const name = (eq < 0 ? entry : entry.slice(0, eq)).trim();
    const keys = eq < 0 ? "" : entry.slice(eq + 1).trim();
    if (name === "")
      throw new ViewerOptionsError(
        fill(_("--hotkeys expects NAME=KEYS pairs separated by commas, not “{value}”"), { value }),
      );
    if (!HOTKEY_NAMES.includes(name))
      throw new ViewerOptionsError(
        fill(_("unknown hotkey “{name}” (known: {names})"), { name, names: HOTKEY_NAMES.join(", ") }),
      );
    if (keys === "") throw new ViewerOptionsError(fill(_("the hotkey “{name}” has no keys"), { name }));
    const combo = checkKeyCombo(keys, _);
    if (name === "release-cursor") release = combo;
  }
  return release;
}

interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  /** The argument’s name in --help, for options that take one. */
  readonly arg?: string;
  readonly help: (_: Translate) => string;
}

// The help texts are functions so that they are translated when shown, after initI18n.
const OPTIONS: readonly OptionSpec[] = [
  { long: "full-screen", short: "f", help: (_) => _("Open the window in full screen") },
  { long: "title", short: "t", arg: "TITLE", help: (_) => _("Set the window title") },
  { long: "read-only", short: "r", help: (_) => _("Show the display without sending keyboard or pointer input") },
  {
    long: "hotkeys",
    arg: "NAME=KEYS[,…]",
    help: (_) => _("Set hotkeys as remote-viewer does, e.g. release-cursor=ctrl+alt"),
  },
  {
    long: "scaling",
    arg: "MODE",
    help: (_) => _("Scale the display: fit, one-to-one or resize-remote"),
  },
  {
    long: "ca-file",
    arg: "FILE",
    help: (_) => _("Trust the CA certificates in FILE instead of the system’s"),
  },
  { long: "version", help: (_) => _("Show the version") },
  { long: "help", short: "h", help: (_) => _("Show this help") },
];

/** The text `porthole --help` prints. */
export function helpText(_: Translate = untranslated): string {
  const left = OPTIONS.map((o) => {
    const long = `--${o.long}${o.arg !== undefined ? `=${o.arg}` : ""}`;
    return o.short !== undefined ? `-${o.short}, ${long}` : `    ${long}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return [
    _("Usage:"),
    `  porthole [${_("OPTION…")}] [URI…]`,
    "",
    _("Show a virtual machine’s display, consoles and sound over VNC."),
    "",
    _("Options:"),
    ...OPTIONS.map((o, i) => `  ${(left[i] ?? "").padEnd(width)}${o.help(_)}`),
    "",
    _("URIs:"),
    "  vnc://[USER@]HOST[:PORT]  vnc+unix:///PATH  HOST:DISPLAY  HOST::PORT  /PATH",
    _("Without a URI, Porthole asks which server to connect to."),
  ].join("\n");
}

/**
 * Parses the arguments after the program name. `--opt=value`, `--opt value`, `-t value`,
 * `-tvalue`, grouped flags (`-fr`) and `--` before URIs that start with "-" all work, as
 * with GOption. --help and --version end parsing where they stand, as in GOption.
 */
export function parseCommandLine(args: readonly string[], _: Translate = untranslated): CommandLineOptions {
  let fullScreen = false;
  let title: string | null = null;
  let readOnly = false;
  let releaseCombo = DEFAULT_RELEASE_COMBO;
  let scaling: Scaling | null = null;
  let caFile: string | null = null;
  const uris: string[] = [];
  const addresses: ServerAddress[] = [];
  const result = (help: boolean, version: boolean): CommandLineOptions => ({
    uris,
    addresses,
    fullScreen,
    title,
    readOnly,
    releaseCombo,
    scaling,
    caFile,
    help,
    version,
  });

  const addUri = (text: string) => {
    try {
      addresses.push(parseServerAddress(text));
    } catch (e) {
      if (e instanceof ProtocolError) throw new ViewerOptionsError(e.message);
      throw e;
    }
    uris.push(text.trim());
  };

  let i = 0;
  /** The option’s argument: the text after "=" (or after a short letter), else the next argument. */
  const takeValue = (shown: string, inline: string | null): string => {
    if (inline !== null) return inline;
    const next = args[i + 1];
    // Translators: {option} is a command-line option such as --title; keep the braces.
    if (next === undefined) throw new ViewerOptionsError(fill(_("{option} needs a value"), { option: shown }));
    i++;
    return next;
  };

  // Applies one option; returns "help"/"version" when parsing should stop there.
  const apply = (spec: OptionSpec, shown: string, inline: string | null): "help" | "version" | null => {
    if (spec.arg === undefined && inline !== null)
      throw new ViewerOptionsError(fill(_("{option} does not take a value"), { option: shown }));
    switch (spec.long) {
      case "full-screen":
        fullScreen = true;
        return null;
      case "read-only":
        readOnly = true;
        return null;
      case "title":
        title = takeValue(shown, inline);
        return null;
      case "hotkeys":
        releaseCombo = parseHotkeys(takeValue(shown, inline), _) ?? releaseCombo;
        return null;
      case "scaling": {
        const value = takeValue(shown, inline);
        const mode = SCALING_MODES.find((m) => m === value);
        if (mode === undefined)
          throw new ViewerOptionsError(
            fill(_("--scaling must be fit, one-to-one or resize-remote, not “{value}”"), { value }),
          );
        scaling = mode;
        return null;
      }
      case "ca-file": {
        const value = takeValue(shown, inline);
        if (value === "") throw new ViewerOptionsError(_("--ca-file needs a file name"));
        caFile = value;
        return null;
      }
      case "version":
        return "version";
      case "help":
        return "help";
      default:
        throw new Error(`option --${spec.long} has no handler`);
    }
  };

  let onlyUris = false;
  for (; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (onlyUris || !arg.startsWith("-") || arg === "-") {
      addUri(arg);
      continue;
    }
    if (arg === "--") {
      onlyUris = true;
      continue;
    }
    let stop: "help" | "version" | null = null;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = OPTIONS.find((o) => o.long === name);
      if (spec === undefined) throw new ViewerOptionsError(fill(_("unknown option {option}"), { option: `--${name}` }));
      stop = apply(spec, `--${name}`, eq < 0 ? null : arg.slice(eq + 1));
    } else {
      // -fr is -f -r; a letter that takes a value takes the rest of the group or the next argument.
      for (let j = 1; j < arg.length && stop === null; j++) {
        const letter = arg.charAt(j);
        const spec = letter === "?" ? OPTIONS.find((o) => o.long === "help") : OPTIONS.find((o) => o.short === letter);
        if (spec === undefined)
          throw new ViewerOptionsError(fill(_("unknown option {option}"), { option: `-${letter}` }));
        const rest = arg.slice(j + 1);
        if (spec.arg !== undefined) {
          stop = apply(spec, `-${letter}`, rest === "" ? null : rest);
          break;
        }
        stop = apply(spec, `-${letter}`, null);
      }
    }
    if (stop !== null) return result(stop === "help", stop === "version");
  }
  return result(false, false);
}

/** The part of the parsed command line that each window gets. */
export function viewerOptions(options: CommandLineOptions): ViewerOptions {
  const { fullScreen, title, readOnly, releaseCombo, scaling, caFile } = options;
  return { fullScreen, title, readOnly, releaseCombo, scaling, caFile };
}
