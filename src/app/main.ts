import system from "system";

import { initI18n } from "../platform/i18n.js";
import { checkCommandLine, PortholeApplication } from "./application.js";

initI18n();
const problem = checkCommandLine(system.programArgs);
if (problem !== null) {
  printerr(`porthole: ${problem}`);
  system.exit(2);
}
// run(), not runAsync(): the typings list runAsync but GJS 1.74 does not have it.
const status = new PortholeApplication().run([system.programInvocationName, ...system.programArgs]);
system.exit(status);
