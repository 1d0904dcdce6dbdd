import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const attentionPrefill: ReferenceImpl = () => {
  throw new UnsupportedError("attention_prefill: not written yet");
};
