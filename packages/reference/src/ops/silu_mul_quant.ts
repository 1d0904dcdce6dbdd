import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const siluMulQuant: ReferenceImpl = () => {
  throw new UnsupportedError("silu_mul_quant: not written yet");
};
