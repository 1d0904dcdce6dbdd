/**
 * Worker threads (Node) for numbered tasks whose results must be folded in task order: a pool
 * that runs tasks 0 … n − 1 in a worker module and hands each result to the caller in task order,
 * whatever order they finish in, and the loop a worker module runs. The caller folds the results
 * as one thread would, so the bits of what it computes never depend on the thread count.
 * @module
 */
import { parentPort, Worker } from "node:worker_threads";

/** What a pool's workers are set up to do: the first message each receives (any structured-clonable object with a kind). */
export interface TaskSetup {
  /** Names the work in error messages, and tells the worker module what to set up. */
  readonly kind: string;
}

/** What a worker posts for a task: its result, or the error that stopped it. */
export type TaskReply = { readonly task: number; readonly result: unknown } | { readonly task: number; readonly error: string };

/** A task's result and the buffers to hand over with it instead of copying them. */
export interface TaskResult {
  readonly result: unknown;
  readonly transfer: readonly ArrayBuffer[];
}

/**
 * Run tasks 0 … `tasks` − 1 on `n` worker threads of the module at `url`, set up by `setup`, and
 * hand each result to `fold` in task order. A worker runs one task at a time; tasks are handed
 * out in order while fewer than 2n are unfolded, which bounds the results held back while an
 * early task still runs. Rejects, after stopping every worker, on the first task or worker that
 * fails.
 */
export async function runInWorkers<R>(url: URL, setup: TaskSetup, tasks: number, n: number, fold: (result: R, task: number) => Promise<void>): Promise<void> {
  const pool = Array.from({ length: n }, () => new Worker(url));
  try {
    await new Promise<void>((resolve, reject) => {
      const held = new Map<number, R>();
      const idle: Worker[] = [];
      let next = 0;
      let handedOut = 0;
      let folding = false;
      let failed = false;
      const fail = (e: Error) => {
        failed = true;
        reject(e);
      };
      const handOut = () => {
        while (!failed && idle.length > 0 && handedOut < tasks && handedOut - next < 2 * n) idle.pop()!.postMessage(handedOut++);
      };
      const drain = async () => {
        if (folding) return;
        folding = true;
        try {
          while (!failed && held.has(next)) {
            const r = held.get(next)!;
            held.delete(next);
            next++;
            handOut();
            await fold(r, next - 1);
          }
          if (next === tasks) resolve();
        } catch (e) {
          fail(e as Error);
        } finally {
          folding = false;
        }
      };
      for (const worker of pool) {
        worker.on("message", (m: TaskReply) => {
          if ("error" in m) return fail(new Error(`${setup.kind} worker, task ${m.task}: ${m.error}`));
          held.set(m.task, m.result as R);
          idle.push(worker);
          handOut();
          void drain();
        });
        worker.on("error", (e) => fail(new Error(`${setup.kind} worker failed (${url.href}): ${e.message}; workers: 1 (--workers 1) runs it in this thread`)));
        worker.on("exit", (code) => {
          if (next < tasks) fail(new Error(`${setup.kind} worker exited with code ${code} before the last task`));
        });
        worker.postMessage(setup);
        idle.push(worker);
      }
      handOut();
      if (tasks === 0) resolve();
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/**
 * The loop of a worker module of {@link runInWorkers}: the first message is the setup, which
 * `runnerFor` turns into a task runner; then each task number sent runs, one after another in the
 * order sent, and its result (or its error, as text) is posted back. Does nothing outside a worker.
 */
export function serveTasks<S extends TaskSetup>(runnerFor: (setup: S) => (task: number) => Promise<TaskResult>): void {
  const port = parentPort;
  if (port === null) return;
  let run: ((task: number) => Promise<TaskResult>) | undefined;
  let queue = Promise.resolve();
  port.on("message", (msg: S | number) => {
    if (typeof msg !== "number") {
      run = runnerFor(msg);
      return;
    }
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await run!(msg);
        port.postMessage({ task: msg, result } satisfies TaskReply, [...transfer]);
      } catch (e) {
        port.postMessage({ task: msg, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies TaskReply);
      }
    });
  });
}
