import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const residualAdd: ReferenceImpl = () => {
  throw new UnsupportedError("residual_add: not written yet");
};
