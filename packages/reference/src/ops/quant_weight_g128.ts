import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const quantWeightG128: ReferenceImpl = () => {
  throw new UnsupportedError("quant_weight_g128: not written yet");
};
