/**
 * The host backends run a forward pass or a quantization step synchronously, and awaiting an
 * already-settled promise only runs microtasks: timers, I/O and worker messages wait until the
 * whole run ends. These helpers give the event loop a turn between units of work, so progress
 * output, cancellation timers and a test runner's messages (which time out after a minute) get
 * through during runs of minutes.
 * @module
 */

/** Resolves after one turn of the event loop: timers, I/O and messages that are due run first. */
export function yieldToEventLoop(): Promise<void> {
  // setImmediate runs after pending I/O; browsers lack it, and setTimeout(0) serves there.
  return new Promise((resolve) => (typeof globalThis.setImmediate === "function" ? globalThis.setImmediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * A yield for tight loops: the returned function gives the event loop a turn only when at least
 * `intervalMs` passed since its last turn, and otherwise returns without leaving the microtask queue.
 */
export function periodicYield(intervalMs = 100): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < intervalMs) return;
    await yieldToEventLoop();
    last = Date.now();
  };
}
