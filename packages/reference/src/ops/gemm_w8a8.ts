import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const gemmW8a8: ReferenceImpl = () => {
  throw new UnsupportedError("gemm_w8a8: not written yet");
};
