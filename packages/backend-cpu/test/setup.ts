/** Shared settings of the cpu backend's tests. */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The seed of the conformance runs (`FC_SEED` honoured). */
export const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 20261127;
/** Random cases per op (`FC_RUNS` honoured, at least 5). */
export const RUNS = Math.max(5, process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : 12);

/** The shared data directory: ../shared/data relative to the repo root. */
export const DATA_DIR = join(import.meta.dirname, "../../../../shared/data");

/** Absolute path of a data file; throws a clear message if it is missing. */
export function dataFile(name: string): string {
  const p = join(DATA_DIR, name);
  if (!existsSync(p)) throw new Error(`test data file missing: ${p} (the model tests read ../shared/data relative to the repo root; see its SOURCES.md)`);
  return p;
}
