/**
 * Running reference ops: signature checks on the way in and on the way out, and the reference
 * as a {@link Backend}.
 * @module
 */
import {
  bindInputs,
  getSignature,
  resolveParams,
  ShapeError,
  DTypeError,
  type Backend,
  type NamedTensors,
  type OpName,
  type OpSignature,
  type ParamValues,
  type Support,
} from "@qoq/core";
import { REFERENCE_IMPLS } from "./registry.js";

/**
 * Run one op on the reference. Inputs are checked against the op's signature, parameters get
 * their defaults, and the outputs are checked against the signature too (a reference bug that
 * returns a wrong shape fails loudly here rather than in a comparison later).
 */
export function runReference(op: string, inputs: NamedTensors, params: ParamValues = {}): NamedTensors {
  const sig = getSignature(op);
  const dims = bindInputs(sig, inputs);
  const resolved = resolveParams(sig, params);
  const outputs = REFERENCE_IMPLS[sig.name](inputs, resolved, dims);
  checkOutputs(sig, inputs, outputs, dims);
  return outputs;
}

function checkOutputs(sig: OpSignature, inputs: NamedTensors, outputs: NamedTensors, dims: Readonly<Record<string, number>>): void {
  for (const spec of sig.outputs) {
    const y = outputs[spec.name];
    if (y === undefined) {
      if (spec.optional) continue;
      throw new ShapeError(`${sig.name}: reference produced no output '${spec.name}'`);
    }
    const want = spec.sameDtypeAs !== undefined ? inputs[spec.sameDtypeAs]!.dtype : spec.dtype;
    if (typeof want === "string" ? y.dtype !== want : !want.includes(y.dtype)) {
      throw new DTypeError(`${sig.name}: reference output '${spec.name}' is ${y.dtype}, expected ${String(want)}`);
    }
    const shape = spec.shape.map((s) => dims[s]);
    if (shape.some((d, i) => d !== undefined && d !== y.shape[i]) || y.shape.length !== shape.length) {
      throw new ShapeError(`${sig.name}: reference output '${spec.name}' has shape [${y.shape.join(", ")}], expected [${spec.shape.join(", ")}]`);
    }
  }
}

/** The reference as a backend: supports every op. */
export function createReferenceBackend(): Backend {
  return {
    name: "reference",
    supports: (): Support => "supported",
    run: (op: OpName, inputs: NamedTensors, params?: ParamValues) => Promise.resolve(runReference(op, inputs, params)),
    dispose: () => Promise.resolve(),
  };
}
