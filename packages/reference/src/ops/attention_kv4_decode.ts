import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const attentionKv4Decode: ReferenceImpl = () => {
  throw new UnsupportedError("attention_kv4_decode: not written yet");
};
