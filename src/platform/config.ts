// Build-time facts (version, where translations and schemas live). meson writes
// porthole-config.json next to every bundle it builds, with build-tree paths in the build
// directory and installed paths under $pkgdatadir, so the same bundle runs from both.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

export interface BuildConfig {
  readonly version: string;
  /** Where the compiled message catalogues are (…/LC_MESSAGES/porthole.mo). */
  readonly localedir: string;
  /** A directory with gschemas.compiled, or null to use the system's schema path. */
  readonly schemadir: string | null;
  /** An icon theme directory to add (the source tree's data/icons), or null when installed. */
  readonly icondir: string | null;
  readonly pkgdatadir: string;
}

export const APP_ID = "dev.porthole.Viewer";
export const GETTEXT_DOMAIN = "porthole";

let cached: BuildConfig | undefined;

function isConfig(v: unknown): v is BuildConfig {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    typeof c.version === "string" &&
    typeof c.localedir === "string" &&
    typeof c.pkgdatadir === "string" &&
    (typeof c.schemadir === "string" || c.schemadir === null) &&
    (typeof c.icondir === "string" || c.icondir === null)
  );
}

/** Reads the configuration next to the running bundle (`import.meta.url`). */
export function buildConfig(): BuildConfig {
  if (cached) return cached;
  const file = Gio.File.new_for_uri(import.meta.url)
    .get_parent()
    ?.get_child("porthole-config.json");
  if (!file) throw new Error(`cannot locate the directory of ${import.meta.url}`);
  const [, contents] = file.load_contents(null);
  const parsed: unknown = JSON.parse(new TextDecoder().decode(contents));
  if (!isConfig(parsed))
    throw new Error(`${file.get_path() ?? "porthole-config.json"} is not a valid build configuration`);
  cached = parsed;
  return parsed;
}

/** The viewer's settings, from the build tree's compiled schema when running uninstalled. */
export function viewerSettings(): Gio.Settings {
  const { schemadir } = buildConfig();
  if (schemadir === null) return new Gio.Settings({ schema_id: APP_ID });
  const source = Gio.SettingsSchemaSource.new_from_directory(schemadir, Gio.SettingsSchemaSource.get_default(), false);
  const schema = source.lookup(APP_ID, false);
  if (!schema) throw new Error(`schema ${APP_ID} is not in ${schemadir}`);
  return new Gio.Settings({ settings_schema: schema });
}

/** Reads an environment variable, treating an empty value as unset. */
export function env(name: string): string | null {
  const v = GLib.getenv(name);
  return v === null || v === "" ? null : v;
}
