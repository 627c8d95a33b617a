// The audio specs' measuring tools: the PCM analysis porthole-bench audio uses, from one
// place (src/tools/audio-analysis.ts) for the GJS specs and tests/node/audio-analysis.spec.ts.

export * from "../../src/tools/audio-analysis.js";
