/**
 * Entry point of the pipeline's worker threads (`worker_pool.ts`): set up by its first message
 * (a {@link PoolSetup}), it then runs each task number it is sent, in the order sent, and posts
 * back the task's result — a calibration window's {@link WindowRecord}, or one KV head's
 * key-pair rotation angles.
 * @module
 */
import { serveTasks, type TaskResult } from "@qoq/core/worker_pool";
import { createReferenceBackend } from "@qoq/reference";
import { WindowCollector, type WindowRecord } from "./calibration_window.js";
import { searchKeyRotationGroup } from "./smooth_search.js";
import type { PoolSetup } from "./worker_pool.js";

/** The buffers of a window's record, handed over instead of copied. */
function buffersOf(r: WindowRecord): ArrayBuffer[] {
  return [r.maxima, r.kept ?? [], r.inputs ?? []].flatMap((perLayer) => perLayer.flatMap((arrays) => arrays.map((a) => a.buffer as ArrayBuffer)));
}

/** A task runner for a setup: the task's result and the buffers to hand over with it. */
function runnerFor(setup: PoolSetup): (task: number) => Promise<TaskResult> {
  switch (setup.kind) {
    case "calibration": {
      const collector = new WindowCollector(setup.weights, setup.request);
      return async (task) => {
        const record = await collector.collect(setup.windows[task]!, task);
        return { result: record, transfer: buffersOf(record) };
      };
    }
    case "keyRotation": {
      // The reference's weight quantizer: every backend's is bit-identical to it (the conformance suite).
      const backend = createReferenceBackend();
      const kvHeads = setup.weights.config.nKvHeads;
      return async (task) => {
        const layer = Math.floor(task / kvHeads);
        const angles = await searchKeyRotationGroup(setup.weights, layer, setup.kept[layer]!, task % kvHeads, setup.variant, setup.group, backend, setup.settings);
        return { result: angles, transfer: [angles.buffer as ArrayBuffer] };
      };
    }
  }
}

serveTasks(runnerFor);
