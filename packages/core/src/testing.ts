/**
 * Shared settings for property-based tests, so every property in every package is seeded and
 * replayable the same way: `FC_SEED` fixes the seed, `FC_RUNS` the number of runs, and
 * `FC_PATH` replays one counterexample (fast-check prints seed and path on failure).
 * @module
 */

/** The default seed of property tests when `FC_SEED` is not set. */
export const DEFAULT_FC_SEED = 20261127;

/** Options for fast-check's `assert` from the environment. */
export interface PropertyOptions {
  /** Seed of the run. */
  seed: number;
  /** Number of generated cases. */
  numRuns: number;
  /** Replay path of a reported counterexample. */
  path?: string;
  /** Report the seed and path on failure. */
  verbose: number;
}

/**
 * fast-check options for one property: `runs` is the default number of cases, scaled by
 * `FC_RUNS` when it is set (e.g. a long tier).
 */
export function propertyOptions(runs = 100): PropertyOptions {
  const env = typeof process !== "undefined" ? process.env : {};
  const seed = env.FC_SEED !== undefined ? Number(env.FC_SEED) : DEFAULT_FC_SEED;
  const numRuns = env.FC_RUNS !== undefined ? Math.max(1, Math.round(Number(env.FC_RUNS))) : runs;
  const opts: PropertyOptions = { seed, numRuns, verbose: 1 };
  if (env.FC_PATH !== undefined) opts.path = env.FC_PATH;
  return opts;
}
