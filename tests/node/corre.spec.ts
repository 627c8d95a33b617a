import { Encoding } from "../../src/protocol/constants.js";
import { CoRREDecoder } from "../../src/protocol/decoders/corre.js";
import { subrectSpecs } from "./subrect-specs.js";

subrectSpecs("CoRREDecoder", Encoding.CoRRE, 1, () => new CoRREDecoder());
