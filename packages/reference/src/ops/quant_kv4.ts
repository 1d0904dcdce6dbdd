import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const quantKv4: ReferenceImpl = () => {
  throw new UnsupportedError("quant_kv4: not written yet");
};
