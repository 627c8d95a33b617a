import { place, remoteSizeFor, ScrollAccumulator, toRemote } from "../../src/widgets/geometry.js";

describe("display geometry", () => {
  it("fits a desktop into the widget keeping its aspect ratio, centred", () => {
    const p = place("fit", 800, 800, 1600, 1000, 1);
    expect(p.scale).toBe(0.5);
    expect([p.width, p.height]).toEqual([800, 500]);
    expect([p.x, p.y]).toEqual([0, 150]);
    // Upscaled too: fit means fit.
    const up = place("fit", 1000, 500, 500, 250, 1);
    expect(up.scale).toBe(2);
    expect([up.x, up.y]).toEqual([0, 0]);
  });

  it("draws one remote pixel per device pixel at one-to-one, also at HiDPI", () => {
    const p = place("one-to-one", 1000, 800, 1920, 1080, 2);
    expect(p.scale).toBe(0.5);
    expect([p.width, p.height]).toEqual([960, 540]);
    expect([p.x, p.y]).toEqual([20, 130]);
    const big = place("one-to-one", 400, 300, 1920, 1080, 1);
    expect([big.x, big.y, big.scale]).toEqual([0, 0, 1]);
  });

  it("snaps the picture's origin to device pixels", () => {
    const p = place("fit", 101, 100, 100, 100, 2);
    // (101 - 100) / 2 = 0.5 logical = 1 device pixel: exact; at scale 1 it rounds.
    expect(p.x).toBe(0.5);
    expect(place("fit", 101, 100, 100, 100, 1).x).toBe(1);
  });

  it("maps widget points to remote pixels and clamps the letterbox to the edges", () => {
    const p = place("fit", 800, 800, 1600, 1000, 1);
    expect(toRemote(p, 1600, 1000, 0, 150)).toEqual([0, 0]);
    expect(toRemote(p, 1600, 1000, 400, 400)).toEqual([800, 500]);
    expect(toRemote(p, 1600, 1000, 799.9, 649.9)).toEqual([1599, 999]);
    expect(toRemote(p, 1600, 1000, 10, 10)).toEqual([20, 0]);
    expect(toRemote(p, 1600, 1000, 10, 790)).toEqual([20, 999]);
    expect(toRemote(place("fit", 0, 0, 0, 0, 1), 0, 0, 5, 5)).toBeNull();
  });

  it("gives the remote size that fills the widget in device pixels", () => {
    expect(remoteSizeFor(800, 600, 1)).toEqual([800, 600]);
    expect(remoteSizeFor(800, 600, 2)).toEqual([1600, 1200]);
    expect(remoteSizeFor(0.2, 0, 1)).toEqual([1, 1]);
  });

  it("turns smooth scrolling into whole wheel clicks, keeping the remainder", () => {
    const s = new ScrollAccumulator();
    expect(s.add(0, 0.4)).toEqual([0, 0]);
    expect(s.add(0, 0.4)).toEqual([0, 0]);
    expect(s.add(0, 0.4)).toEqual([0, 1]);
    expect(s.add(0, -3.2)).toEqual([0, -3]);
    expect(s.add(0, 0.1)).toEqual([0, 0]);
    expect(s.add(45, 0, 20)).toEqual([2, 0]);
    s.reset();
    expect(s.add(0.9, 0)).toEqual([0, 0]);
  });
});
