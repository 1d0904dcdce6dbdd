/**
 * Specs of the offline transforms (float64 arithmetic on f32/f64 weights).
 * @module
 */
import { fromNumbers, type OpSpec, type Rng } from "@qoq/core";
import { f32Data, f64Data, maxima, pick, rngFor } from "../data.js";
import { defineSpec, makeCase, replaceInput, withNaN } from "./common.js";

function attnWeights(rng: Rng, heads: number, kvHeads: number, d: number, c: number, wide: boolean) {
  const data = wide ? f64Data : f32Data;
  return { wq: data(rng, [heads * d, c], "gaussian", 0.05), wk: data(rng, [kvHeads * d, c], "outliers", 0.05), kmax: maxima(rng, kvHeads * d) };
}

/** smooth_attention */
export const smoothAttentionSpec: OpSpec = defineSpec({
  op: "smooth_attention",
  edgeCases: () =>
    (["rotate_half", "interleaved"] as const).flatMap((style, s) => [
      makeCase("smooth_attention", { heads: 4, kv_heads: 2, d: 8, c: 32, style, dtype: "f32" }, attnWeights(rngFor(800 + s), 4, 2, 8, 32, false), { heads: 4, kv_heads: 2, style }),
      makeCase("smooth_attention", { heads: 2, kv_heads: 2, d: 16, c: 16, style, dtype: "f64" }, attnWeights(rngFor(810 + s), 2, 2, 16, 16, true), { heads: 2, kv_heads: 2, style }),
      // GQA with β ≠ 0: qbase is the max over the group's query heads and the RoPE pair.
      makeCase(
        "smooth_attention",
        { heads: 8, kv_heads: 2, d: 8, c: 8, style, alpha: 0.7, beta: 0.4 },
        { ...attnWeights(rngFor(815 + s), 8, 2, 8, 8, false), qmax: maxima(rngFor(817 + s), 64) },
        { heads: 8, kv_heads: 2, style, alpha: 0.7, beta: 0.4 },
      ),
    ]),
  randomCase: (rng, seed) => {
    const kvHeads = pick(rng, [1, 2, 4]);
    const heads = kvHeads * pick(rng, [1, 2, 4]);
    const d = pick(rng, [2, 8, 16]);
    const c = pick(rng, [8, 33, 64]);
    const style = pick(rng, ["rotate_half", "interleaved"]);
    const alpha = pick(rng, [0.5, 0.25, 1]);
    const weights = attnWeights(rng, heads, kvHeads, d, c, rng.float() < 0.5);
    // Half the cases balance against the queries too (β ≠ 0 consults qmax over each KV group).
    const beta = pick(rng, [0, 0, 0.3, 0.5]);
    const inputs = beta === 0 ? weights : { ...weights, qmax: maxima(rng, heads * d) };
    return makeCase("smooth_attention", { heads, kv_heads: kvHeads, d, c, style, alpha, beta, seed }, inputs, { heads, kv_heads: kvHeads, style, alpha, beta });
  },
  errorCases: () => {
    const base = makeCase("smooth_attention", { heads: 4, kv_heads: 2, d: 8, c: 16 }, attnWeights(rngFor(820), 4, 2, 8, 16, false), { heads: 4, kv_heads: 2 });
    return [
      withNaN(base, "wk"),
      { label: "heads not a multiple of kv_heads", case: { ...base, id: `${base.id}[error:heads]`, params: { heads: 3, kv_heads: 2 } } },
      { label: "beta without qmax", case: { ...base, id: `${base.id}[error:beta]`, params: { heads: 4, kv_heads: 2, beta: 0.5 } } },
      replaceInput(base, "kmax", fromNumbers("f32", [16], new Array(16).fill(-1)), "negative kmax"),
    ];
  },
  flops: (d) => d.NQ! * d.C! + d.NK! * d.C!,
  bytes: (d) => (d.NQ! + d.NK!) * d.C! * 8,
});

/** hadamard_rotate */
export const hadamardRotateSpec: OpSpec = defineSpec({
  op: "hadamard_rotate",
  edgeCases: () =>
    (["input", "output"] as const).flatMap((side, s) => [
      makeCase("hadamard_rotate", { r: 8, c: 64, side, dtype: "f64" }, { w: f64Data(rngFor(830 + s), side === "input" ? [8, 64] : [64, 8], "outliers") }, { side }),
      makeCase("hadamard_rotate", { r: 5, c: 12, side, dtype: "f32" }, { w: f32Data(rngFor(840 + s), side === "input" ? [5, 12] : [12, 5], "gaussian") }, { side }),
      makeCase("hadamard_rotate", { r: 3, c: 172, side, dtype: "f32" }, { w: f32Data(rngFor(850 + s), side === "input" ? [3, 172] : [172, 3], "gaussian") }, { side }),
    ]),
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 2, 4, 12, 64, 128, 172, 256]);
    const other = pick(rng, [1, 3, 16]);
    const side = pick(rng, ["input", "output"]);
    const shape = side === "input" ? [other, n] : [n, other];
    return makeCase("hadamard_rotate", { n, other, side, seed }, { w: f64Data(rng, shape, "outliers") }, { side });
  },
  errorCases: () => {
    const base = makeCase("hadamard_rotate", { r: 2, c: 8 }, { w: f32Data(rngFor(860), [2, 8], "gaussian") });
    return [withNaN(base, "w"), replaceInput(base, "w", f32Data(rngFor(861), [2, 7], "gaussian"), "odd size 7 has no Hadamard factor")];
  },
  flops: (d) => d.R! * d.C! * Math.log2(Math.max(2, d.C!)),
  bytes: (d) => d.R! * d.C! * 16,
});

function linearPair(rng: Rng, n: number, k: number, c: number) {
  return { w: f32Data(rng, [n, k], "gaussian", 0.05), prev: f32Data(rng, [k, c], "gaussian", 0.05), xmax: maxima(rng, k) };
}

/** smooth_linear */
export const smoothLinearSpec: OpSpec = defineSpec({
  op: "smooth_linear",
  edgeCases: () => [
    makeCase("smooth_linear", { n: 16, k: 32, c: 8, alpha: 0.5, beta: 0.5 }, linearPair(rngFor(870), 16, 32, 8)),
    makeCase("smooth_linear", { n: 4, k: 8, c: 4, alpha: 0, beta: 1 }, linearPair(rngFor(871), 4, 8, 4), { alpha: 0, beta: 1 }),
  ],
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 8, 33]);
    const k = pick(rng, [1, 16, 64]);
    const c = pick(rng, [1, 8, 32]);
    const alpha = pick(rng, [0, 0.3, 0.5]);
    const beta = pick(rng, [0.5, 0.7, 1]);
    return makeCase("smooth_linear", { n, k, c, alpha, beta, seed }, linearPair(rng, n, k, c), { alpha, beta });
  },
  errorCases: () => {
    const base = makeCase("smooth_linear", { n: 4, k: 8, c: 4 }, linearPair(rngFor(880), 4, 8, 4));
    return [withNaN(base, "w"), replaceInput(base, "prev", f32Data(rngFor(881), [7, 4], "gaussian"), "prev with 7 rows for K = 8")];
  },
  flops: (d) => 2 * (d.N! * d.K! + d.K! * d.C!),
  bytes: (d) => (d.N! * d.K! + d.K! * d.C!) * 8,
});

/** reorder_channels */
export const reorderChannelsSpec: OpSpec = defineSpec({
  op: "reorder_channels",
  edgeCases: () => [
    makeCase("reorder_channels", { n: 8, k: 32, c: 4, prev: 1 }, linearPair(rngFor(890), 8, 32, 4)),
    makeCase("reorder_channels", { n: 3, k: 5, prev: 0, ties: 1 }, { w: f32Data(rngFor(891), [3, 5], "gaussian"), xmax: fromNumbers("f32", [5], [2, 1, 2, 0, 1]) }),
    // binary64 weights; ties between −0 and +0 and between subnormal maxima.
    makeCase(
      "reorder_channels",
      { n: 4, k: 6, c: 3, prev: 1, ties: 1, dtype: "f64" },
      { w: f64Data(rngFor(892), [4, 6], "gaussian"), xmax: fromNumbers("f32", [6], [1e-45, 0, -0, 1e-45, 3, 0]), prev: f64Data(rngFor(893), [6, 3], "gaussian") },
    ),
  ],
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 8, 33]);
    const k = pick(rng, [1, 16, 64, 172]);
    const c = pick(rng, [1, 8]);
    const { w, prev, xmax } = linearPair(rng, n, k, c);
    const withPrev = rng.float() < 0.5;
    return makeCase("reorder_channels", { n, k, c, prev: withPrev ? 1 : 0, seed }, withPrev ? { w, xmax, prev } : { w, xmax });
  },
  errorCases: () => [withNaN(makeCase("reorder_channels", { n: 2, k: 4 }, linearPair(rngFor(900), 2, 4, 2)), "xmax")],
  flops: () => 0,
  bytes: (d) => (d.N! * d.K! + d.K! * (d.C ?? 0)) * 8,
});

/** clip_search */
export const clipSearchSpec: OpSpec = defineSpec({
  op: "clip_search",
  edgeCases: () => [
    makeCase("clip_search", { n: 4, k: 32, t: 16, grid: 20 }, { w: f32Data(rngFor(910), [4, 32], "outliers", 0.05), x: f32Data(rngFor(911), [16, 32], "gaussian") }, { grid: 20 }),
    makeCase("clip_search", { n: 2, k: 8, t: 4, grid: 80, data: "zeros" }, { w: f32Data(rngFor(912), [2, 8], "zeros"), x: f32Data(rngFor(913), [4, 8], "gaussian") }),
    // T not a power of two (err/T rounds) and inexact candidate ratios.
    makeCase("clip_search", { n: 3, k: 24, t: 3, grid: 7, max_shrink: 0.37 }, { w: f32Data(rngFor(914), [3, 24], "outliers", 0.05), x: f32Data(rngFor(915), [3, 24], "gaussian") }, { grid: 7, max_shrink: 0.37 }),
  ],
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 4, 9]);
    const k = pick(rng, [8, 33, 64]);
    const t = pick(rng, [1, 8, 32]);
    const grid = pick(rng, [5, 20, 80]);
    return makeCase("clip_search", { n, k, t, grid, seed }, { w: f32Data(rng, [n, k], "outliers", 0.05), x: f32Data(rng, [t, k], "outliers") }, { grid });
  },
  errorCases: () => {
    const base = makeCase("clip_search", { n: 2, k: 8, t: 4 }, { w: f32Data(rngFor(920), [2, 8], "gaussian"), x: f32Data(rngFor(921), [4, 8], "gaussian") });
    return [withNaN(base, "x"), { label: "grid 0", case: { ...base, id: `${base.id}[error:grid]`, params: { grid: 0 } } }];
  },
  flops: (d) => 3 * d.N! * d.K! * d.T! * 81,
  bytes: (d) => (d.N! + d.T!) * d.K! * 4,
});
