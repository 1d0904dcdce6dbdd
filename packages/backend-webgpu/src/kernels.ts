/**
 * Loading the WGSL kernels of `kernels/wgsl/` from disk (Node only; a browser bundle embeds them
 * and uses {@link wgslFromMap}).
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { IoError } from "@qoq/core";
import { composeModule, type WgslSource } from "./wgsl.js";

/**
 * Directory of the WGSL sources: `QOQ_WGSL_DIR` if set, else `kernels/wgsl` of the repository
 * this package lives in (found from this module's own path, so it works from `src/`, `dist/` and
 * from any package that imports the compiled backend).
 */
export function wgslDir(): string {
  const env = typeof process !== "undefined" ? process.env.QOQ_WGSL_DIR : undefined;
  if (env !== undefined && env !== "") return env;
  return fileURLToPath(new URL("../../../kernels/wgsl/", import.meta.url));
}

const cache = new Map<string, string>();

/** The text of one WGSL file of {@link wgslDir}; a missing file is an `IoError`. */
export function readWgsl(file: string, dir: string = wgslDir()): string {
  const path = join(dir, file);
  let text = cache.get(path);
  if (text === undefined) {
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new IoError(`webgpu: cannot read WGSL kernel ${path}: ${(e as Error).message}`);
    }
    cache.set(path, text);
  }
  return text;
}

/** A {@link WgslSource} reading the files of `dir` (default {@link wgslDir}). */
export function wgslFromDir(dir: string = wgslDir()): WgslSource {
  return (file) => readWgsl(file, dir);
}

/** The full WGSL module of a kernel read from `dir`: prelude, dot-product and subgroup helpers, includes, kernel. */
export function moduleSource(kernel: string, includes: readonly string[], dot4: boolean, dir: string = wgslDir(), subgroups = false): string {
  return composeModule(kernel, includes, dot4, wgslFromDir(dir), subgroups);
}
