/**
 * Comparing a backend's outputs with the reference's: byte-exact for `exact` contracts, ULP /
 * max-abs / NMSE with hard NaN and infinity checks for tolerance contracts.
 * @module
 */
import { fromF16Bits, toNumbers, ulpDistance16, ulpDistance32, type Contract, type Tensor } from "@qoq/core";

/** Outcome of comparing one output tensor. */
export interface TensorComparison {
  /** Output name. */
  readonly name: string;
  /** Whether it meets the contract. */
  readonly ok: boolean;
  /** Number of elements that differ bitwise. */
  readonly mismatches: number;
  /** First differing flat index, or −1. */
  readonly firstIndex: number;
  /** Reference and backend values at the first difference. */
  readonly firstValues?: readonly [number, number];
  /** Largest distance in ULPs of the tensor's own float format (binary16 or binary32; 0 for integer tensors). */
  readonly maxUlp: number;
  /** Largest absolute difference. */
  readonly maxAbs: number;
  /** Σ(a−b)² / Σ a² (0 when equal). */
  readonly nmse: number;
  /** Why it fails, if it does. */
  readonly reason?: string;
}

function valueAt(t: Tensor, i: number): number {
  return t.dtype === "f16" ? fromF16Bits((t.data as Uint16Array)[i]!) : Number(t.data[i]);
}

/** Compare one output tensor of a backend (`got`) with the reference (`want`) under a contract. */
export function compareTensor(name: string, want: Tensor, got: Tensor | undefined, contract: Contract): TensorComparison {
  const base = { name, mismatches: 0, firstIndex: -1, maxUlp: 0, maxAbs: 0, nmse: 0 };
  if (got === undefined) return { ...base, ok: false, mismatches: want.data.length, reason: `output '${name}' missing` };
  if (got.dtype !== want.dtype) return { ...base, ok: false, reason: `output '${name}' is ${got.dtype}, reference is ${want.dtype}` };
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    return { ...base, ok: false, reason: `output '${name}' has shape [${got.shape.join(", ")}], reference [${want.shape.join(", ")}]` };
  }
  let mismatches = 0;
  let firstIndex = -1;
  let maxUlp = 0;
  let maxAbs = 0;
  let errSq = 0;
  let refSq = 0;
  let nonFinite = -1;
  const isFloat = want.dtype === "f16" || want.dtype === "f32" || want.dtype === "f64";
  const a = toNumbers(want);
  const b = toNumbers(got);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const same = want.dtype === "f16" ? (want.data as Uint16Array)[i] === (got.data as Uint16Array)[i] : Object.is(x, y); // −0 ≠ +0
    if (!same) {
      mismatches++;
      if (firstIndex < 0) firstIndex = i;
    }
    if (isFloat && Number.isFinite(x) !== Number.isFinite(y) && nonFinite < 0) nonFinite = i;
    if (Number.isFinite(x) && Number.isFinite(y)) {
      const d = Math.abs(x - y);
      if (d > maxAbs) maxAbs = d;
      errSq += d * d;
      refSq += x * x;
      // ULPs of the tensor's own format: binary16 outputs in binary16 ULPs, others in binary32 ULPs.
      if (isFloat) maxUlp = Math.max(maxUlp, want.dtype === "f16" ? ulpDistance16(x, y) : ulpDistance32(x, y));
    }
  }
  const nmse = refSq > 0 ? errSq / refSq : errSq > 0 ? Infinity : 0;
  const first = firstIndex >= 0 ? ([valueAt(want, firstIndex), valueAt(got, firstIndex)] as const) : undefined;
  const result = { name, mismatches, firstIndex, maxUlp, maxAbs, nmse, ...(first ? { firstValues: first } : {}) };
  if (nonFinite >= 0) return { ...result, ok: false, reason: `non-finite mismatch at index ${nonFinite}: reference ${valueAt(want, nonFinite)}, got ${valueAt(got, nonFinite)}` };
  if (contract.kind === "exact") {
    return mismatches === 0 ? { ...result, ok: true } : { ...result, ok: false, reason: `${mismatches} element(s) differ; first at index ${firstIndex}: reference ${first![0]}, got ${first![1]}` };
  }
  const over: string[] = [];
  if (contract.maxUlp !== undefined && maxUlp > contract.maxUlp) over.push(`max ULP ${maxUlp} > ${contract.maxUlp}`);
  if (contract.maxAbs !== undefined && maxAbs > contract.maxAbs) over.push(`max abs ${maxAbs} > ${contract.maxAbs}`);
  if (contract.maxNmse !== undefined && nmse > contract.maxNmse) over.push(`NMSE ${nmse} > ${contract.maxNmse}`);
  return over.length === 0 ? { ...result, ok: true } : { ...result, ok: false, reason: `${contract.name}: ${over.join(", ")}` };
}
