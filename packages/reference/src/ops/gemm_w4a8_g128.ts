import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const gemmW4a8G128: ReferenceImpl = () => {
  throw new UnsupportedError("gemm_w4a8_g128: not written yet");
};
