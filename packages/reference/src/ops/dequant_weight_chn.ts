import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const dequantWeightChn: ReferenceImpl = () => {
  throw new UnsupportedError("dequant_weight_chn: not written yet");
};
