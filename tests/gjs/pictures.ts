// Pictures for pixel-exact comparisons: what porthole-capture wrote (PNG), what an X
// server shows (xwd) and what QEMU shows (QMP screendump, PPM), all as 0xRRGGBB.

import GdkPixbuf from "gi://GdkPixbuf";

import { run } from "./processes.js";

export interface Picture {
  width: number;
  height: number;
  /** 0xRRGGBB per pixel. */
  rgb: Uint32Array;
}

/** Parses what `xwd -root` writes (XWDFileHeader: 25 big-endian CARD32s, name, colours, image). */
export function parseXwd(data: Uint8Array): Picture {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const h = (i: number) => v.getUint32(i * 4);
  const [headerSize, width, height, byteOrder, bpp, bytesPerLine, redMask, greenMask, blueMask, ncolors] = [
    h(0),
    h(4),
    h(5),
    h(7),
    h(11),
    h(12),
    h(14),
    h(15),
    h(16),
    h(19),
  ];
  // Xvnc writes 32 bits a pixel, but 24 once RandR has resized it.
  if (bpp !== 32 && bpp !== 24) throw new Error(`xwd image has ${bpp} bits per pixel, expected 24 or 32`);
  const bytes = bpp / 8;
  const lsb = byteOrder === 0;
  const read = (at: number): number => {
    if (bytes === 4) return v.getUint32(at, lsb);
    const [a, b, c] = [v.getUint8(at), v.getUint8(at + 1), v.getUint8(at + 2)];
    return lsb ? a | (b << 8) | (c << 16) : (a << 16) | (b << 8) | c;
  };
  const shift = (mask: number) => 31 - Math.clz32(mask & -mask);
  const start = headerSize + ncolors * 12;
  const rgb = new Uint32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = read(start + y * bytesPerLine + x * bytes);
      const r = (p & redMask) >>> shift(redMask);
      const g = (p & greenMask) >>> shift(greenMask);
      const b = (p & blueMask) >>> shift(blueMask);
      rgb[y * width + x] = (r << 16) | (g << 8) | b;
    }
  return { width, height, rgb };
}

export function loadPng(path: string): Picture {
  return pictureFromPixbuf(GdkPixbuf.Pixbuf.new_from_file(path));
}

/** A pixbuf's pixels (RGB or RGBA, any row stride) as 0xRRGGBB. */
export function pictureFromPixbuf(pixbuf: GdkPixbuf.Pixbuf): Picture {
  const width = pixbuf.get_width();
  const height = pixbuf.get_height();
  const n = pixbuf.get_n_channels();
  const stride = pixbuf.get_rowstride();
  const px = pixbuf.get_pixels();
  const rgb = new Uint32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = y * stride + x * n;
      rgb[y * width + x] = ((px[o] ?? 0) << 16) | ((px[o + 1] ?? 0) << 8) | (px[o + 2] ?? 0);
    }
  return { width, height, rgb };
}

export function differingPixels(a: Picture, b: Picture): number {
  if (a.width !== b.width || a.height !== b.height) return Math.max(a.rgb.length, b.rgb.length);
  let n = 0;
  for (let i = 0; i < a.rgb.length; i++) if (a.rgb[i] !== b.rgb[i]) n++;
  return n;
}

/** Parses a binary PPM (P6, maxval 255), what QMP screendump writes. */
export function parsePpm(data: Uint8Array): Picture {
  const header = new TextDecoder("latin1").decode(data.subarray(0, 64));
  const m = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(header);
  if (!m) throw new Error("not a P6 PPM with maxval 255");
  const width = Number(m[1]);
  const height = Number(m[2]);
  const start = m[0].length;
  const rgb = new Uint32Array(width * height);
  for (let i = 0; i < rgb.length; i++) {
    const o = start + i * 3;
    rgb[i] = ((data[o] ?? 0) << 16) | ((data[o + 1] ?? 0) << 8) | (data[o + 2] ?? 0);
  }
  return { width, height, rgb };
}

/** What X display `display` shows, read with `xwd -root`. */
export async function xwdRoot(display: number): Promise<Picture> {
  const xwd = await run(["xwd", "-root", "-silent", "-display", `:${display}`]);
  if (xwd.status !== 0) throw new Error(`xwd failed: ${xwd.stderr}`);
  return parseXwd(xwd.stdout);
}
