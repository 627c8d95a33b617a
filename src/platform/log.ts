// Structured logging through GLib, so messages land in the journal with a domain and
// G_MESSAGES_DEBUG=Porthole turns debug output on, like any GNOME program.

import GLib from "gi://GLib";

const DOMAIN = "Porthole";

function emit(level: GLib.LogLevelFlags, message: string): void {
  GLib.log_structured(DOMAIN, level, { MESSAGE: message, SYSLOG_IDENTIFIER: "porthole" });
}

export const log = {
  debug: (message: string): void => {
    emit(GLib.LogLevelFlags.LEVEL_DEBUG, message);
  },
  info: (message: string): void => {
    emit(GLib.LogLevelFlags.LEVEL_INFO, message);
  },
  message: (message: string): void => {
    emit(GLib.LogLevelFlags.LEVEL_MESSAGE, message);
  },
  warning: (message: string): void => {
    emit(GLib.LogLevelFlags.LEVEL_WARNING, message);
  },
};
