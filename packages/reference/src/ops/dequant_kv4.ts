import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const dequantKv4: ReferenceImpl = () => {
  throw new UnsupportedError("dequant_kv4: not written yet");
};
