import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const clipSearch: ReferenceImpl = () => {
  throw new UnsupportedError("clip_search: not written yet");
};
