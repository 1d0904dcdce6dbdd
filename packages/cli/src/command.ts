/**
 * The shape of a `qoq` sub-command, and the usage error type commands throw.
 * @module
 */

/** A sub-command of `qoq`. */
export interface Command {
  /** Usage lines shown by `qoq --help`. */
  readonly usage: string;
  /** Run with the arguments after the command name; returns the exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** A command line that cannot be understood (exit status 2, usage printed). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The value of a required option, or a {@link UsageError}. */
export function need(v: string | undefined, what: string): string {
  if (v === undefined || v === "") throw new UsageError(`missing ${what}`);
  return v;
}

/** A non-negative integer option with a default, or a {@link UsageError}. */
export function intOption(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
}
