import { Encoding } from "../../src/protocol/constants.js";
import { RREDecoder } from "../../src/protocol/decoders/rre.js";
import { subrectSpecs } from "./subrect-specs.js";

subrectSpecs("RREDecoder", Encoding.RRE, 2, () => new RREDecoder());
