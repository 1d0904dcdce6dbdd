import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const smoothAttention: ReferenceImpl = () => {
  throw new UnsupportedError("smooth_attention: not written yet");
};
