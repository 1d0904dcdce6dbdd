/**
 * Entry point of a calibration worker thread (`collectStats` with `workers` > 1): it builds the
 * FP32 model of the weights it is sent (shared memory, not copied), then runs each window it is
 * given and posts back its {@link WindowRecord}, one message per window, in the order given.
 * @module
 */
import { parentPort } from "node:worker_threads";
import type { LlamaWeights } from "@qoq/model";
import { WindowCollector, type WindowRecord, type WindowRequest } from "./calibration_window.js";

/** The first message: the weights, every window's tokens and what to record. */
export interface WorkerSetup {
  readonly weights: LlamaWeights;
  readonly windows: readonly (readonly number[])[];
  readonly request: WindowRequest;
}

/** What a worker posts: a window's record, or the error that stopped it. */
export type WorkerReply = { readonly record: WindowRecord } | { readonly error: string; readonly window: number };

/** The buffers of a record, handed over instead of copied. */
function buffersOf(r: WindowRecord): ArrayBuffer[] {
  return [r.maxima, r.kept ?? [], r.inputs ?? []].flatMap((perLayer) => perLayer.flatMap((arrays) => arrays.map((a) => a.buffer as ArrayBuffer)));
}

const port = parentPort;
if (port !== null) {
  let collector: WindowCollector | undefined;
  let windows: readonly (readonly number[])[] = [];
  // Windows run one after another, in the order asked: the main thread folds them in window order.
  let queue = Promise.resolve();
  port.on("message", (msg: WorkerSetup | number) => {
    if (typeof msg !== "number") {
      collector = new WindowCollector(msg.weights, msg.request);
      windows = msg.windows;
      return;
    }
    queue = queue.then(async () => {
      try {
        const record = await collector!.collect(windows[msg]!, msg);
        port.postMessage({ record } satisfies WorkerReply, buffersOf(record));
      } catch (e) {
        port.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e), window: msg } satisfies WorkerReply);
      }
    });
  });
}
