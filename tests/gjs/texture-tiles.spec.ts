import GdkPixbuf from "gi://GdkPixbuf";
import Gtk from "gi://Gtk?version=4.0";

import { TextureTiles } from "../../src/widgets/texture-tiles.js";

// A 300×200 framebuffer, B,G,R,A per pixel, where every pixel encodes its coordinates.
function framebuffer(width: number, height: number, stride: number): Uint8Array {
  const fb = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) fb.set([x & 0xff, y & 0xff, (x >> 8) * 16 + (y >> 8), 255], y * stride + x * 4);
  return fb;
}

// Decodes a texture through PNG, the one read-back path that works from gjs 1.74.
function pixelsOf(tiles: TextureTiles, x: number, y: number): { pixbuf: GdkPixbuf.Pixbuf; data: Uint8Array } {
  const tex = tiles.textureAt(x, y);
  if (!tex) throw new Error(`no texture at ${x},${y}`);
  const loader = new GdkPixbuf.PixbufLoader();
  loader.write_bytes(tex.save_to_png_bytes());
  loader.close();
  const pixbuf = loader.get_pixbuf();
  if (!pixbuf) throw new Error("PNG did not decode");
  return { pixbuf, data: pixbuf.get_pixels() };
}

describe("TextureTiles", () => {
  const width = 300;
  const height = 200;
  const stride = width * 4 + 16; // padded rows, as a framebuffer may have

  it("covers the framebuffer with tiles holding its exact pixels", () => {
    const tiles = new TextureTiles(128);
    tiles.resize(width, height);
    expect(tiles.dirtyCount).toBe(6);
    const fb = framebuffer(width, height, stride);
    expect(tiles.update(fb, stride)).toBe(6);
    expect(tiles.dirtyCount).toBe(0);

    // The bottom-right tile is the 44×72 remainder.
    const { pixbuf, data } = pixelsOf(tiles, 299, 199);
    expect([pixbuf.get_width(), pixbuf.get_height()]).toEqual([44, 72]);
    const n = pixbuf.get_n_channels();
    const rs = pixbuf.get_rowstride();
    for (const [tx, ty] of [
      [0, 0],
      [43, 71],
      [10, 5],
    ] as const) {
      const x = 256 + tx;
      const y = 128 + ty;
      const at = ty * rs + tx * n;
      // Pixbufs are R,G,B(,A): our B,G,R bytes come back swapped into place.
      expect([data[at], data[at + 1], data[at + 2]]).toEqual([(x >> 8) * 16 + (y >> 8), y & 0xff, x & 0xff]);
    }
  });

  it("magnifies by pixel replication for nearest-neighbour scaling", () => {
    const tiles = new TextureTiles(128);
    tiles.resize(width, height);
    const fb = framebuffer(width, height, stride);
    tiles.update(fb, stride, 3);
    const { pixbuf, data } = pixelsOf(tiles, 299, 199);
    expect([pixbuf.get_width(), pixbuf.get_height()]).toEqual([44 * 3, 72 * 3]);
    const n = pixbuf.get_n_channels();
    const rs = pixbuf.get_rowstride();
    // Every 3×3 block is one framebuffer pixel.
    for (const [tx, ty] of [
      [0, 0],
      [43, 71],
      [10, 5],
    ] as const)
      for (const [dx, dy] of [
        [0, 0],
        [2, 2],
        [1, 2],
      ] as const) {
        const x = 256 + tx;
        const y = 128 + ty;
        const at = (ty * 3 + dy) * rs + (tx * 3 + dx) * n;
        expect([data[at], data[at + 1], data[at + 2]]).toEqual([(x >> 8) * 16 + (y >> 8), y & 0xff, x & 0xff]);
      }
    expect(() => tiles.update(fb, stride, 5)).toThrowError(RangeError);
  });

  it("gives each texture an apron of its neighbours' edge pixels when asked", () => {
    const tiles = new TextureTiles(128);
    tiles.resize(width, height);
    const fb = framebuffer(width, height, stride);
    tiles.update(fb, stride, 1, true);
    // The middle-top tile (128..255 × 0..127) reaches one pixel into its neighbours.
    const { pixbuf, data } = pixelsOf(tiles, 130, 0);
    expect([pixbuf.get_width(), pixbuf.get_height()]).toEqual([130, 129]);
    const n = pixbuf.get_n_channels();
    // Its first column is framebuffer column 127.
    expect(data[2]).toBe(127);
    expect(data[129 * n + 2]).toBe(0); // column 256 = 0x100: low byte 0
    // A change next to a tile edge now also dirties the neighbour holding it in its apron.
    tiles.invalidate(127, 10, 1, 1);
    expect(tiles.dirtyCount).toBe(2);
  });

  it("re-creates only the tiles a change touches", () => {
    const tiles = new TextureTiles(128);
    tiles.resize(width, height);
    const fb = framebuffer(width, height, stride);
    tiles.update(fb, stride);
    const untouched = tiles.textureAt(0, 0);

    fb.set([1, 2, 3, 255], 130 * stride + 130 * 4);
    tiles.invalidate(130, 130, 1, 1);
    tiles.invalidate(-50, -50, 10, 10); // outside: ignored
    tiles.invalidate(width, 0, 10, 10);
    expect(tiles.dirtyCount).toBe(1);
    expect(tiles.update(fb, stride)).toBe(1);
    expect(tiles.textureAt(0, 0)).toBe(untouched);
    const { pixbuf, data } = pixelsOf(tiles, 130, 130);
    const at = 2 * pixbuf.get_rowstride() + 2 * pixbuf.get_n_channels();
    expect([data[at], data[at + 1], data[at + 2]]).toEqual([3, 2, 1]);

    tiles.invalidate(127, 127, 2, 2); // a corner shared by four tiles
    expect(tiles.dirtyCount).toBe(4);
  });

  it("rejects a buffer too small for its size", () => {
    const tiles = new TextureTiles(64);
    tiles.resize(width, height);
    expect(() => tiles.update(new Uint8Array(width * 4 * (height - 1)), width * 4)).toThrowError(RangeError);
    expect(() => tiles.update(new Uint8Array(stride * height), width * 4 - 4)).toThrowError(RangeError);
  });

  it("draws every tile into a snapshot at the requested scale", () => {
    const tiles = new TextureTiles(128);
    tiles.resize(width, height);
    tiles.update(framebuffer(width, height, stride), stride);
    const snapshot = new Gtk.Snapshot();
    tiles.appendTo(snapshot, 10, 20, 0.5);
    const node = snapshot.to_node();
    expect(node).not.toBeNull();
    const bounds = node?.get_bounds();
    expect([bounds?.get_x(), bounds?.get_y(), bounds?.get_width(), bounds?.get_height()]).toEqual([10, 20, 150, 100]);
  });
});
