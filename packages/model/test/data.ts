/** Test data location: ../shared/data relative to the repo root. */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The shared data directory. */
export const DATA_DIR = join(import.meta.dirname, "../../../../shared/data");

/** Absolute path of a data file; throws a clear message if it is missing. */
export function dataFile(name: string): string {
  const p = join(DATA_DIR, name);
  if (!existsSync(p)) throw new Error(`test data file missing: ${p} (the model tests read ../shared/data relative to the repo root; see its SOURCES.md)`);
  return p;
}
