import system from "system";

import { buildConfig } from "../platform/config.js";
import { _, initI18n } from "../platform/i18n.js";
import { PortholeApplication } from "./application.js";
import { type CommandLineOptions, helpText, parseCommandLine, ViewerOptionsError } from "./options.js";

initI18n();
// Parsed here, in the process started from the terminal, because the primary instance
// that opens the windows may be another process with no way to print to this terminal.
let options: CommandLineOptions;
try {
  options = parseCommandLine(system.programArgs, _);
} catch (e) {
  if (!(e instanceof ViewerOptionsError)) throw e;
  printerr(`porthole: ${e.message}`);
  system.exit(2);
}
if (options.help) {
  print(helpText(_));
  system.exit(0);
}
if (options.version) {
  print(`porthole ${buildConfig().version}`);
  system.exit(0);
}
// run(), not runAsync(): the typings list runAsync but GJS 1.74 does not have it.
const status = new PortholeApplication().run([system.programInvocationName, ...system.programArgs]);
system.exit(status);
