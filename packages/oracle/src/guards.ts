/**
 * Runner side of guard bytes: a backend that exposes its raw, guarded output buffers (the layout
 * and checks live in `@qoq/core`'s `guards.ts`) gets its guards checked after every case.
 * @module
 */
import type { Backend, GuardedBuffer } from "@qoq/core";

/** A backend that exposes the raw, guarded output buffers of its last `run` so the runner can check the guards. */
export interface GuardedBackend extends Backend {
  /** The guarded output buffers of the most recent `run`, read back whole (guards included). */
  lastOutputBuffers(): readonly GuardedBuffer[];
}

/** Whether a backend exposes guarded output buffers. */
export function isGuardedBackend(b: Backend): b is GuardedBackend {
  return typeof (b as Partial<GuardedBackend>).lastOutputBuffers === "function";
}
