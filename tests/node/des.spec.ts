import { desEncryptBlock, vncAuthResponse } from "../../src/protocol/des.js";

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe("DES", () => {
  // Known-answer vectors: FIPS 81 appendix B and the classic "Now is t" example.
  it("matches published test vectors", () => {
    expect(toHex(desEncryptBlock(hex("0123456789abcdef"), hex("4e6f772069732074")))).toBe("3fa40e8a984d4815");
    expect(toHex(desEncryptBlock(hex("133457799bbcdff1"), hex("0123456789abcdef")))).toBe("85e813540f0ab405");
    expect(toHex(desEncryptBlock(hex("0000000000000000"), hex("0000000000000000")))).toBe("8ca64de9c1b123a7");
  });
});

describe("VNC authentication", () => {
  it("encrypts the challenge with the bit-reversed password", () => {
    // Bit-reversing "pass" gives key 0e 86 ce ce 00…; both halves use it independently.
    const challenge = hex("00112233445566778899aabbccddeeff");
    const response = vncAuthResponse("pass", challenge);
    const key = hex("0e86cece00000000");
    expect(toHex(response)).toBe(
      toHex(desEncryptBlock(key, challenge.subarray(0, 8))) + toHex(desEncryptBlock(key, challenge.subarray(8))),
    );
  });

  it("uses only the first eight characters of the password", () => {
    const challenge = hex("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    expect(vncAuthResponse("12345678", challenge)).toEqual(vncAuthResponse("123456789abc", challenge));
    expect(vncAuthResponse("1234567", challenge)).not.toEqual(vncAuthResponse("12345678", challenge));
  });
});
