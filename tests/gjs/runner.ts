// jasmine-core inside `gjs -m`. SpiderMonkey 102 lacks a few web APIs jasmine uses; the
// shims below provide them on top of the GLib main loop, which GJS runs while the bundle's
// top-level await is pending, so async specs (sockets, subprocesses, frames) progress.

import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";
import type { SpecResult } from "jasmine-core";
import system from "system";

type Callback = () => void;
const g = globalThis as Record<string, unknown>;

g.queueMicrotask ??= (cb: Callback) => {
  void Promise.resolve().then(cb);
};
g.structuredClone ??= (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
// jasmine clears the stack between specs, and waits for a new macrotask, through a
// MessageChannel when one exists; one idle callback per message gives the same ordering.
g.MessageChannel ??= class {
  port1 = { onmessage: null as ((event: { data: unknown }) => void) | null, close: () => undefined };
  port2 = {
    postMessage: (data: unknown) => {
      GLib.idle_add(GLib.PRIORITY_DEFAULT, () => {
        this.port1.onmessage?.({ data });
        return GLib.SOURCE_REMOVE;
      });
    },
    close: () => undefined,
  };
};
g.addEventListener ??= () => undefined;
g.removeEventListener ??= () => undefined;

// Loaded after the shims: esbuild evaluates this CommonJS module where it is required.
const { default: jasmineCore } = await import("jasmine-core");
jasmineCore.installGlobals();

/** Runs every spec imported before this call; exits with 0 only if all passed. */
export async function run(): Promise<void> {
  Gtk.init();
  // Integration specs start servers and guests: give async specs a minute, not 5 s.
  jasmineCore.jasmine.DEFAULT_TIMEOUT_INTERVAL = 60000;
  const env = jasmineCore.jasmine.getEnv();
  // PORTHOLE_SPEC_FILTER (a regular expression on full spec names) runs a subset while
  // developing: `PORTHOLE_SPEC_FILTER=VncDisplay meson test -C _build gjs`.
  const filter = GLib.getenv("PORTHOLE_SPEC_FILTER");
  const pattern = filter ? new RegExp(filter) : null;
  env.configure({
    random: false,
    ...(pattern ? { specFilter: (spec: { getFullName(): string }) => pattern.test(spec.getFullName()) } : {}),
  });
  let passed = 0;
  let failed = 0;
  const report = (r: SpecResult, what: string) => {
    print(`FAIL ${what}: ${r.fullName}`);
    for (const e of r.failedExpectations) print(`  ${e.message}\n${(e.stack ?? "").replace(/^/gm, "    ")}`);
  };
  env.addReporter({
    specDone(r: SpecResult) {
      if (r.status === "passed") {
        passed++;
        print(`ok   ${r.fullName}`);
      } else if (r.status === "failed") {
        failed++;
        report(r, "spec");
      }
    },
    suiteDone(r: SpecResult) {
      if (r.status === "failed") {
        failed++;
        report(r, "suite");
      }
    },
  });

  // Awaited at the top level of the bundle: gjs -m then keeps its own main loop running,
  // which a nested GLib.MainLoop inside a promise job would starve of promise jobs.
  let overall = "failed";
  try {
    const result = await env.execute();
    overall = result.overallStatus;
    if (overall !== "passed") {
      print(`jasmine: the run is ${overall}${result.incompleteReason ? `: ${result.incompleteReason}` : ""}`);
      for (const e of result.failedExpectations ?? []) print(`  ${e.message}`);
    }
  } catch (e) {
    print(`jasmine failed: ${String(e)}`);
  }
  print(`${passed} passed, ${failed} failed`);
  // A filtered run is "incomplete" by jasmine's count; its verdict is its own specs'.
  const ok = overall === "passed" || (pattern !== null && overall === "incomplete");
  system.exit(ok && failed === 0 && passed > 0 ? 0 : 1);
}
