import { ProtocolError } from "../../src/protocol/errors.js";
import {
  DEFAULT_PIXEL_FORMAT,
  encodePixelFormat,
  parsePixelFormat,
  PixelConverter,
} from "../../src/protocol/pixel-format.js";
import { PF16_BE } from "./encode-basic.js";

describe("PixelFormat", () => {
  it("round-trips through its 16-byte wire form", () => {
    for (const pf of [DEFAULT_PIXEL_FORMAT, PF16_BE]) expect(parsePixelFormat(encodePixelFormat(pf))).toEqual(pf);
  });

  it("rejects formats it cannot decode", () => {
    const bytes = encodePixelFormat(DEFAULT_PIXEL_FORMAT);
    bytes[0] = 24;
    expect(() => parsePixelFormat(bytes)).toThrowMatching(
      (e: unknown) => e instanceof ProtocolError && e.code === "unsupported",
    );
    const badMax = encodePixelFormat({ ...DEFAULT_PIXEL_FORMAT, redMax: 200 });
    expect(() => parsePixelFormat(badMax)).toThrowError(ProtocolError);
    const overflow = encodePixelFormat({ ...PF16_BE, redShift: 12 });
    expect(() => parsePixelFormat(overflow)).toThrowError(ProtocolError);
  });
});

describe("PixelConverter", () => {
  it("reads native 32-bit pixels with the alpha byte forced opaque", () => {
    const c = new PixelConverter(DEFAULT_PIXEL_FORMAT);
    expect(c.isNative).toBeTrue();
    expect(c.read(Uint8Array.of(0x33, 0x22, 0x11, 0x00), 0)).toBe(0xff112233);
    const out = new Uint32Array(2);
    c.convert(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 0, out, 0, 2);
    expect(Array.from(out)).toEqual([0xff030201, 0xff070605]);
  });

  it("scales 16-bit channels to 8 bits in both byte orders", () => {
    const be = new PixelConverter(PF16_BE);
    // 0xF800: full red; 0x07E0: full green; 0x001F: full blue; 0x8410: half grey.
    expect(be.read(Uint8Array.of(0xf8, 0x00), 0)).toBe(0xffff0000);
    expect(be.read(Uint8Array.of(0x07, 0xe0), 0)).toBe(0xff00ff00);
    expect(be.read(Uint8Array.of(0x00, 0x1f), 0)).toBe(0xff0000ff);
    expect(be.read(Uint8Array.of(0x84, 0x10), 0)).toBe(0xff848284);
    const le = new PixelConverter({ ...PF16_BE, bigEndian: false });
    expect(le.read(Uint8Array.of(0x00, 0xf8), 0)).toBe(0xffff0000);
  });

  it("looks colour-map pixels up in the entries the server set", () => {
    const c = new PixelConverter({ ...DEFAULT_PIXEL_FORMAT, bitsPerPixel: 8, depth: 8, trueColour: false });
    c.setColourMapEntries(10, Uint16Array.of(0xffff, 0x8000, 0x0000, 0x1234, 0x5678, 0x9abc));
    expect(c.read(Uint8Array.of(10), 0)).toBe(0xffff8000);
    expect(c.read(Uint8Array.of(11), 0)).toBe(0xff12569a);
    expect(c.read(Uint8Array.of(12), 0)).toBe(0xff000000);
  });

  it("uses 3-byte compact pixels only where RFC 6143 §7.7.6 allows them", () => {
    expect(new PixelConverter(DEFAULT_PIXEL_FORMAT).compactBytesPerPixel).toBe(3);
    expect(new PixelConverter(PF16_BE).compactBytesPerPixel).toBe(2);
    const high = new PixelConverter({ ...DEFAULT_PIXEL_FORMAT, redShift: 24, greenShift: 16, blueShift: 8 });
    expect(high.compactBytesPerPixel).toBe(3);
    // Little-endian, colours in the high three bytes: the CPIXEL is bytes 1–3 of the pixel.
    expect(high.readCompact(Uint8Array.of(0x33, 0x22, 0x11), 0)).toBe(0xff112233);
    const be = new PixelConverter({ ...DEFAULT_PIXEL_FORMAT, bigEndian: true });
    expect(be.readCompact(Uint8Array.of(0x11, 0x22, 0x33), 0)).toBe(0xff112233);
    const depth32 = new PixelConverter({ ...DEFAULT_PIXEL_FORMAT, depth: 32 });
    expect(depth32.compactBytesPerPixel).toBe(4);
  });
});
