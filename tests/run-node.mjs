#!/usr/bin/env node
// Runs the node spec bundle with jasmine and ends with "N passed, N failed".
// Usage: node tests/run-node.mjs node-specs.js
import Jasmine from "jasmine";
import { resolve } from "node:path";

const bundle = process.argv[2];
if (!bundle) {
  console.error("usage: run-node.mjs SPEC-BUNDLE.js");
  process.exit(2);
}

const jasmine = new Jasmine();
jasmine.exitOnCompletion = false;
jasmine.loadConfig({ spec_files: [resolve(bundle)], env: { random: false } });
let passed = 0;
let failed = 0;
jasmine.addReporter({
  specDone(result) {
    if (result.status === "passed") passed++;
    else if (result.status === "failed") failed++;
  },
  suiteDone(result) {
    // An error in afterAll or at load time fails the suite without failing a spec.
    if (result.status === "failed") failed++;
  },
});
const result = await jasmine.execute();
console.log(`${passed} passed, ${failed} failed`);
process.exit(result.overallStatus === "passed" && failed === 0 && passed > 0 ? 0 : 1);
