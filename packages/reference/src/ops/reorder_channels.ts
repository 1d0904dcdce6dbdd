import { UnsupportedError } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

// PLACEHOLDER: being written; replaced before anything lands.
export const reorderChannels: ReferenceImpl = () => {
  throw new UnsupportedError("reorder_channels: not written yet");
};
