import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const quantWeightChn: ReferenceImpl = () => {
  throw new UnsupportedError("quant_weight_chn: not written yet");
};
