import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const hadamardRotate: ReferenceImpl = () => {
  throw new UnsupportedError("hadamard_rotate: not written yet");
};
