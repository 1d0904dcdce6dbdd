/**
 * Helpers to define op specs: canonical case ids, generic error inputs derived from the
 * signature, and the default contract.
 * @module
 */
import {
  getSignature,
  Rng,
  zeros,
  type Contract,
  type Dims,
  type NamedTensors,
  type OpCase,
  type OpName,
  type OpSpec,
  type ParamValues,
  type Tensor,
} from "@qoq/core";

/** Canonical id: `op(key=value,…)` in the order given. Also the CLI filter and replay key. */
export function caseId(op: OpName, labels: Readonly<Record<string, string | number>>): string {
  return `${op}(${Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",")})`;
}

/** Build a case. */
export function makeCase(op: OpName, labels: Readonly<Record<string, string | number>>, inputs: NamedTensors, params: ParamValues = {}): OpCase {
  return { id: caseId(op, labels), op, params, inputs };
}

/** What an op's spec module provides; the generic parts are filled by {@link defineSpec}. */
export interface SpecParts {
  /** The op. */
  op: OpName;
  /** Named fixed cases. */
  edgeCases(): OpCase[];
  /** A random case drawn from `rng`; `seed` goes into the id. */
  randomCase(rng: Rng, seed: number): OpCase;
  /** Op-specific inputs that must be rejected. */
  errorCases?(): { label: string; case: OpCase }[];
  /** Arithmetic operations of one call. */
  flops(dims: Dims): number;
  /** Bytes a backend must at least move. */
  bytes(dims: Dims): number;
  /** Non-exact contracts by backend name. */
  contracts?: Record<string, Contract>;
}

function withTensor(c: OpCase, name: string, t: Tensor | undefined, label: string): { label: string; case: OpCase } {
  const inputs: NamedTensors = { ...c.inputs };
  if (t === undefined) delete inputs[name];
  else inputs[name] = t;
  return { label, case: { id: `${c.id}[error:${label}]`, op: c.op, params: c.params, inputs } };
}

/**
 * Error inputs every op must reject, derived from its first edge case and its signature:
 * a missing input, an unexpected extra tensor, a wrong dtype, a wrong rank.
 */
export function genericErrorCases(base: OpCase): { label: string; case: OpCase }[] {
  const sig = getSignature(base.op);
  const first = sig.inputs.find((s) => !s.optional)!;
  const x = base.inputs[first.name]!;
  const accepted = typeof first.dtype === "string" ? [first.dtype] : first.dtype;
  const wrong = (["u8", "i32", "f64", "f16"] as const).find((d) => !accepted.includes(d))!;
  return [
    withTensor(base, first.name, undefined, `missing '${first.name}'`),
    withTensor(base, "bogus", zeros("u8", [1]), "unexpected tensor 'bogus'"),
    withTensor(base, first.name, zeros(wrong, x.shape), `'${first.name}' as ${wrong}`),
    withTensor(base, first.name, zeros(x.dtype, [...x.shape, 1]), `'${first.name}' with an extra dimension`),
  ];
}

/** Replace one element of a float tensor with NaN (binary16: 0x7e00). */
export function withNaN(c: OpCase, name: string, label = `NaN in '${name}'`): { label: string; case: OpCase } {
  const t = c.inputs[name]!;
  const copy = { ...t, data: t.data.slice() } as Tensor;
  if (copy.dtype === "f16") (copy.data as Uint16Array)[copy.data.length - 1] = 0x7e00;
  else (copy.data as Float32Array)[copy.data.length - 1] = NaN;
  return withTensor(c, name, copy, label);
}

/** Replace one element of an integer tensor by `value`. */
export function withValue(c: OpCase, name: string, index: number, value: number, label: string): { label: string; case: OpCase } {
  const t = c.inputs[name]!;
  const copy = { ...t, data: t.data.slice() } as Tensor;
  (copy.data as Uint8Array)[index] = value;
  return withTensor(c, name, copy, label);
}

/** Replace a tensor (or remove it with `undefined`). */
export function replaceInput(c: OpCase, name: string, t: Tensor | undefined, label: string): { label: string; case: OpCase } {
  return withTensor(c, name, t, label);
}

/** Assemble a full {@link OpSpec} from its parts. */
export function defineSpec(parts: SpecParts): OpSpec {
  return {
    op: parts.op,
    edgeCases: () => parts.edgeCases(),
    randomCase: (seed: number) => parts.randomCase(new Rng(seed), seed),
    errorCases: () => {
      const base = parts.edgeCases()[0]!;
      return [...genericErrorCases(base), ...(parts.errorCases?.() ?? [])];
    },
    flops: parts.flops,
    bytes: parts.bytes,
    contracts: parts.contracts ?? {},
  };
}
