import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const smoothLinear: ReferenceImpl = () => {
  throw new UnsupportedError("smooth_linear: not written yet");
};
