import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const rope: ReferenceImpl = () => {
  throw new UnsupportedError("rope: not written yet");
};
