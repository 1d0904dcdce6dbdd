import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const quantWeightInt8: ReferenceImpl = () => {
  throw new UnsupportedError("quant_weight_int8: not written yet");
};
