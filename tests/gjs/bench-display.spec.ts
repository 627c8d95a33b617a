// porthole-bench display end to end, shortened: it starts its own Xvnc, content, Xvfb and
// proxy, runs Porthole's viewer and gvncviewer in turn, and prints one JSON object. A
// functional check of the benchmark (both viewers received frames, the figures are
// there), never of a speed: speed goals are met in benchmarks, not in timed tests.

import { programBundle, run } from "./processes.js";

interface ViewerResult {
  frames: number;
  fps: number;
  cpuSeconds: number;
  cpuMsPerFrame: number;
  encodings: string[];
  rectsByEncoding: Record<string, number>;
  serverMegabytesPerFrame: number;
  serverCpuMsPerFrame: number;
  proxyCpuMsPerFrame: number;
  blockedCallbacks: number;
}

interface DisplayResult {
  width: number;
  height: number;
  seconds: number;
  warmupSeconds: number;
  gskRenderer: string;
  porthole: ViewerResult;
  gvncviewer: ViewerResult;
  cpuPerFrameRatio: number;
}

const bench = (...args: string[]) => run(["gjs", "-m", programBundle("porthole-bench"), "display", ...args]);

describe("porthole-bench display", () => {
  it("measures Porthole's viewer and gvncviewer on the same server and reports both as JSON", async () => {
    const r = await bench("--seconds", "2", "--warmup", "1");
    expect(r.status).withContext(r.stderr).toBe(0);
    const result = JSON.parse(new TextDecoder().decode(r.stdout)) as DisplayResult;
    expect(result).toEqual(
      jasmine.objectContaining({ width: 1920, height: 1080, seconds: 2, warmupSeconds: 1, gskRenderer: "cairo" }),
    );
    for (const name of ["porthole", "gvncviewer"] as const) {
      const v = result[name];
      expect(v.frames).withContext(name).toBeGreaterThan(0);
      expect(v.fps).withContext(name).toBeGreaterThan(0);
      expect(v.cpuSeconds).withContext(name).toBeGreaterThanOrEqual(0);
      expect(v.cpuMsPerFrame)
        .withContext(name)
        .toBeCloseTo((v.cpuSeconds * 1000) / v.frames, -1);
      expect(v.serverMegabytesPerFrame).withContext(name).toBeGreaterThan(0);
      expect(v.blockedCallbacks).withContext(name).toBeGreaterThanOrEqual(0);
      // Every update is the whole screen, in some encoding the viewer listed.
      expect(Object.keys(v.rectsByEncoding).length).withContext(name).toBeGreaterThan(0);
      for (const e of Object.keys(v.rectsByEncoding)) expect(v.encodings).withContext(name).toContain(e);
    }
    // Porthole's client lists its encodings best first (src/protocol/client.ts).
    expect(result.porthole.encodings.slice(0, 2)).toEqual(["tight", "tightpng"]);
    expect(result.cpuPerFrameRatio).toBeCloseTo(result.porthole.cpuMsPerFrame / result.gvncviewer.cpuMsPerFrame, 1);
    expect(r.stderr).toContain("CPU per frame, porthole / gvncviewer:");
  }, 90000);

  it("refuses a measuring window that is not a positive number of seconds", async () => {
    const r = await bench("--seconds", "0");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--seconds takes a number of seconds above 0");
  });
});
