/**
 * The pipeline's worker threads (Node): the tasks — calibration windows, key-pair rotation
 * searches — that `pipeline_worker.ts` runs, on the ordered pool of @qoq/core, whose results the
 * caller folds in task order as one thread would, so the bits never depend on the thread count.
 * @module
 */
import { runInWorkers } from "@qoq/core/worker_pool";
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
      readonly kept: readonly Pick<KeptInputs, "tokens" | "windowTokens" | "attnIn" | "q" | "k" | "v">[];
      readonly variant: "g128" | "chn";
      readonly group: number;
      readonly settings: KeyRotationSettings;
    };

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

/** The compiled worker module: in dist/ next to this module's compiled file; from src/ (tests run the TypeScript sources) the same relative path still reaches dist/. */
const PIPELINE_WORKER = new URL("../dist/pipeline_worker.js", import.meta.url);

/** Run the pipeline's tasks of `setup` on `n` worker threads, folded in task order (see `runInWorkers` in @qoq/core). */
export function runPipelineTasks<R>(setup: PoolSetup, tasks: number, n: number, fold: (result: R, task: number) => Promise<void>): Promise<void> {
  return runInWorkers(PIPELINE_WORKER, setup, tasks, n, fold);
}
