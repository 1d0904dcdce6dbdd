/**
 * The Backend interface every implementation of the ops (reference, WebGPU, CUDA, ONNX) provides.
 * "Unsupported" is a result, not a skip: the conformance harness records it per op.
 * @module
 */
import type { OpName, ParamValues } from "./ops.js";
import type { NamedTensors } from "./tensor.js";

/** Whether a backend runs an op with given parameters. */
export type Support = "supported" | { readonly unsupported: string };

/** An implementation of the ops. */
export interface Backend {
  /** Short name, e.g. `reference`, `webgpu`, `cuda`, `onnx-fp16`. */
  readonly name: string;
  /** Whether `op` with `params` runs here; if not, why. */
  supports(op: OpName, params: ParamValues): Support;
  /** Run `op` on named input tensors; returns named output tensors as the op's signature lists them. */
  run(op: OpName, inputs: NamedTensors, params?: ParamValues): Promise<NamedTensors>;
  /** Release resources. */
  dispose(): Promise<void>;
}
