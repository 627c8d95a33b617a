// gettext for the GJS programs. Strings are marked with _("…") in double quotes: xgettext
// 0.21 has no TypeScript parser and reads .ts files as C, where single quotes delimit
// characters (tests/meson.build checks that every marked string reaches the .pot).

import Gettext from "gettext";

import { buildConfig, GETTEXT_DOMAIN } from "./config.js";

let initialised = false;

/** Binds the text domain to the build's locale directory; call once before any UI. */
export function initI18n(): void {
  if (initialised) return;
  Gettext.bindtextdomain(GETTEXT_DOMAIN, buildConfig().localedir);
  Gettext.textdomain(GETTEXT_DOMAIN);
  initialised = true;
}

export const _ = (msgid: string): string => Gettext.dgettext(GETTEXT_DOMAIN, msgid);

export const ngettext = (singular: string, plural: string, n: number): string =>
  Gettext.dngettext(GETTEXT_DOMAIN, singular, plural, n);

/** A string with a disambiguating context, `C_("menu", "Open")`. */
export const C_ = (context: string, msgid: string): string => Gettext.dpgettext(GETTEXT_DOMAIN, context, msgid);
