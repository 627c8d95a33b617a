// CoRRE (rfbproto "CoRRE Encoding"): RRE (RFC 6143 §7.7.3) with U8 subrectangle x, y,
// width and height, for rectangles servers keep within 255×255.

import { SubrectDecoder } from "./rre.js";

export class CoRREDecoder extends SubrectDecoder {
  constructor() {
    super("CoRRE", 1);
  }
}
