import GLib from "gi://GLib";

import { buildConfig, viewerSettings } from "../../src/platform/config.js";

describe("build configuration and settings", () => {
  it("finds the configuration written next to the bundle", () => {
    const config = buildConfig();
    expect(config.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(config.schemadir).not.toBeNull();
  });

  it("opens the viewer's settings with the defaults users expect", () => {
    const settings = viewerSettings();
    expect(settings.get_string("scaling")).toBe("fit");
    expect(settings.get_boolean("audio-enabled")).toBeTrue();
    expect(settings.get_int("scrollback-lines")).toBe(10000);
    expect(settings.get_boolean("clipboard-to-guest")).toBeTrue();
    expect(settings.get_boolean("clipboard-from-guest")).toBeTrue();
    expect(settings.get_boolean("reconnect")).toBeTrue();
    expect(settings.get_uint("audio-latency")).toBeLessThanOrEqual(60);
  });

  it("keeps values within each key's range", () => {
    const settings = viewerSettings();
    const volume = settings.settings_schema.get_key("audio-volume");
    expect(volume.range_check(new GLib.Variant("d", 0.25))).toBeTrue();
    expect(volume.range_check(new GLib.Variant("d", 1.5))).toBeFalse();
    expect(settings.settings_schema.get_key("scaling").range_check(new GLib.Variant("s", "stretch"))).toBeFalse();
    expect(settings.set_double("audio-volume", 0.25)).toBeTrue();
    expect(settings.get_double("audio-volume")).toBe(0.25);
    settings.reset("audio-volume");
  });
});
