/**
 * The pipeline's worker threads (Node): a pool that runs numbered tasks — calibration windows,
 * key-pair rotation searches — in `pipeline_worker.ts` and hands their results to the caller in
 * task order, whatever order they finish in. The caller folds them as one thread would, so the
 * bits never depend on the thread count.
 * @module
 */
import { Worker } from "node:worker_threads";
import type { LlamaWeights } from "@qoq/model";
import type { KeptInputs } from "./calibration.js";
import { mapWeights } from "./fp64.js";
import type { WindowRequest } from "./calibration_window.js";
import type { KeyRotationSettings } from "./smooth_search.js";

/** What a pool's workers are set up to do: the first message each receives. */
export type PoolSetup =
  | {
      readonly kind: "calibration";
      /** Weights in shared memory ({@link shareWeights}). */
      readonly weights: LlamaWeights;
      /** Every window's tokens; task i is window i. */
      readonly windows: readonly (readonly number[])[];
      readonly request: WindowRequest;
    }
  | {
      readonly kind: "keyRotation";
      readonly weights: LlamaWeights;
      /** Per layer, the kept calibration inputs; task i is layer ⌊i / nKvHeads⌋, KV head i mod nKvHeads. */
      readonly kept: readonly Pick<KeptInputs, "tokens" | "attnIn" | "q" | "k" | "v">[];
      readonly variant: "g128" | "chn";
      readonly group: number;
      readonly settings: KeyRotationSettings;
    };

/** What a worker posts for a task: its result, or the error that stopped it. */
export type PoolReply = { readonly task: number; readonly result: unknown } | { readonly task: number; readonly error: string };

/** `weights` with every array copied once into shared memory, so workers read it without a copy each (a tied classifier stays the embedding). */
export function shareWeights(weights: LlamaWeights): LlamaWeights {
  const shared = new Map<Float32Array, Float32Array>();
  return mapWeights(weights, (a: Float32Array) => {
    let s = shared.get(a);
    if (s === undefined) {
      s = new Float32Array(new SharedArrayBuffer(a.byteLength));
      s.set(a);
      shared.set(a, s);
    }
    return s;
  });
}

/**
 * Run tasks 0 … `tasks` − 1 on `n` worker threads set up by `setup`, and hand each result to
 * `fold` in task order. A worker runs one task at a time; tasks are handed out in order while
 * fewer than 2n are unfolded, which bounds the results held back while an early task still runs.
 * Rejects, after stopping every worker, on the first task or worker that fails.
 */
export async function runInWorkers<R>(setup: PoolSetup, tasks: number, n: number, fold: (result: R, task: number) => Promise<void>): Promise<void> {
  // The compiled worker sits in dist/ next to this module's compiled file; from src/ (tests run the
  // TypeScript sources) the same relative path still reaches dist/.
  const url = new URL("../dist/pipeline_worker.js", import.meta.url);
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
        worker.on("message", (m: PoolReply) => {
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
