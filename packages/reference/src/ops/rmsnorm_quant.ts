import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const rmsnormQuant: ReferenceImpl = () => {
  throw new UnsupportedError("rmsnorm_quant: not written yet");
};
