/**
 * File helpers for safetensors that turn file-system failures into typed errors.
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { IoError } from "./errors.js";
import { parseSafetensors, serializeSafetensors, type SafetensorsContents } from "./safetensors.js";
import type { NamedTensors } from "./tensor.js";

/** Read and validate a safetensors file. */
export function readSafetensorsFile(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseSafetensors(bytes);
}

/** Write tensors (and metadata) as a safetensors file. */
export function writeSafetensorsFile(path: string, tensors: NamedTensors, metadata?: Record<string, string>): void {
  const bytes = serializeSafetensors(tensors, metadata); // format errors stay SafetensorsError
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new IoError(`cannot write '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
