/**
 * `reorder_channels` — activation-aware channel reordering (qoq-spec §5.3): sort a linear
 * layer's input channels by salience so that each group of 128 collects channels of similar
 * magnitude.
 *
 * `perm` = the channel indices sorted by `xmax` ascending, ties by index (a stable sort);
 * `W'[:, j] = W[:, perm[j]]` and, when the producer is given, `prev'[j, :] = prev[perm[j], :]`.
 * New channel j holds old channel `perm[j]`. Every output value is a copied input value (no
 * arithmetic, so binary32 and binary64 are both returned bit for bit), and `W'·prev'` has the
 * same terms as `W·prev` — only their summation order changes.
 *
 * `xmax` must be finite and ≥ 0 (so −0 and +0 tie and keep index order).
 * @module
 */
import { tensor, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { floatValues, maximaValues, weightTensor, type WeightDType } from "./transform_common.js";

/** Channel indices sorted by `xmax` ascending, ties broken by the smaller index. */
export function reorderPermutation(xmax: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: xmax.length }, (_, i) => i);
  // Explicit index tie-break: the order does not rely on the engine's sort being stable.
  idx.sort((a, b) => (xmax[a]! < xmax[b]! ? -1 : xmax[a]! > xmax[b]! ? 1 : a - b));
  return Int32Array.from(idx);
}

/** Reference of `reorder_channels`: w (f32|f64), xmax (f32), optional prev → permuted w, perm (i32) and permuted prev when given. */
export const reorderChannels: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const n = dims.N!;
  const k = dims.K!;
  const w = floatValues("w", inputs.w!);
  const perm = reorderPermutation(maximaValues("xmax", inputs.xmax!));
  const dtype = inputs.w!.dtype as WeightDType;
  const wOut = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) wOut[r * k + j] = w[r * k + perm[j]!]!;
  }
  const out: NamedTensors = { w: weightTensor("w", dtype, [n, k], wOut), perm: tensor("i32", [k], perm) };
  if (inputs.prev !== undefined) {
    const c = dims.C!;
    const prev = floatValues("prev", inputs.prev);
    const prevOut = new Float64Array(k * c);
    for (let j = 0; j < k; j++) {
      const src = perm[j]! * c;
      for (let i = 0; i < c; i++) prevOut[j * c + i] = prev[src + i]!;
    }
    out.prev = weightTensor("prev", dtype, [k, c], prevOut);
  }
  return out;
};
