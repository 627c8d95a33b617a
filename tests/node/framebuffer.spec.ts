import { MemoryFramebuffer } from "../../src/protocol/framebuffer.js";

describe("MemoryFramebuffer", () => {
  const numbered = () => {
    const fb = new MemoryFramebuffer(8, 6);
    for (let i = 0; i < fb.pixels.length; i++) fb.pixels[i] = i;
    return fb;
  };

  it("starts and resizes to opaque black", () => {
    const fb = new MemoryFramebuffer(3, 2);
    expect(Array.from(fb.bytes.subarray(0, 4))).toEqual([0, 0, 0, 255]);
    fb.resize(5, 5);
    expect(fb.pixels.length).toBe(25);
    expect(fb.pixels.every((p) => p === 0xff000000)).toBeTrue();
  });

  it("copies overlapping rectangles in every direction as if through a temporary", () => {
    for (const [sx, sy, dx, dy] of [
      [0, 0, 1, 1],
      [1, 1, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0, 1],
      [2, 0, 0, 0],
      [0, 0, 2, 0],
    ] as const) {
      const fb = numbered();
      const expected = Array.from(fb.pixels);
      const before = Array.from(fb.pixels);
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 5; x++) expected[(dy + y) * 8 + dx + x] = before[(sy + y) * 8 + sx + x] ?? -1;
      fb.copyRect(sx, sy, dx, dy, 5, 4);
      expect(Array.from(fb.pixels)).withContext(`${sx},${sy} → ${dx},${dy}`).toEqual(expected);
    }
  });

  it("fills and puts blocks with a source stride", () => {
    const fb = new MemoryFramebuffer(4, 3);
    fb.fillRect(1, 1, 2, 2, 7);
    fb.putPixels(0, 0, 2, 1, Uint32Array.of(9, 9, 5, 6, 9), 2, 3);
    expect(Array.from(fb.pixels)).toEqual([
      5, 6, 0xff000000, 0xff000000, 0xff000000, 7, 7, 0xff000000, 0xff000000, 7, 7, 0xff000000,
    ]);
  });
});
