/**
 * Specs of the weight quantizers and dequantizers.
 * @module
 */
import { fromNumbers, type NamedTensors, type OpSpec, type Rng } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { DATA_KINDS, f32Data, pick, rngFor, type DataKind } from "../data.js";
import { defineSpec, makeCase, replaceInput, withNaN, withValue } from "./common.js";

const GROUPS = [32, 64, 128];

/** Weights of realistic scale (σ = 0.05) with outlier channels or the given kind. */
export function weightData(rng: Rng, n: number, k: number, kind: DataKind) {
  return f32Data(rng, [n, k], kind, 0.05);
}

/** Quantized g128 weights for a random weight matrix (used by the GEMM and dequant specs). */
export function quantizedG128(rng: Rng, n: number, k: number, group: number, kind: DataKind): NamedTensors {
  return runReference("quant_weight_g128", { w: weightData(rng, n, k, kind) }, { group });
}

/** Quantized per-channel UINT4 weights for a random weight matrix. */
export function quantizedChn(rng: Rng, n: number, k: number, kind: DataKind): NamedTensors {
  const { q, zero, scale } = runReference("quant_weight_chn", { w: weightData(rng, n, k, kind) });
  return { q: q!, zero: zero!, scale: scale! };
}

/** quant_weight_g128 */
export const quantWeightG128Spec: OpSpec = defineSpec({
  op: "quant_weight_g128",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) => makeCase("quant_weight_g128", { n: 4, k: 256, g: 128, data: kind }, { w: weightData(rngFor(200 + i), 4, 256, kind) }, { group: 128 })),
    makeCase("quant_weight_g128", { n: 3, k: 96, g: 32, data: "gaussian" }, { w: weightData(rngFor(210), 3, 96, "gaussian") }, { group: 32 }),
    makeCase("quant_weight_g128", { n: 2, k: 8, g: 8, data: "huge_and_tiny" }, { w: fromNumbers("f32", [2, 8], [1e6, -3e6, 1, 0, 2.5, -7, 1e-30, 3, 1e-40, -1e-41, 0, 0, 1e-38, 0, 0, 5e-39]) }, { group: 8 }),
  ],
  randomCase: (rng, seed) => {
    const g = pick(rng, GROUPS);
    const n = pick(rng, [1, 3, 8, 17, 32]);
    const k = g * pick(rng, [1, 2, 3]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("quant_weight_g128", { n, k, g, data: kind, seed }, { w: weightData(rng, n, k, kind) }, { group: g });
  },
  errorCases: () => {
    const base = makeCase("quant_weight_g128", { n: 2, k: 64, g: 32 }, { w: weightData(rngFor(220), 2, 64, "gaussian") }, { group: 32 });
    return [
      withNaN(base, "w"),
      { label: "K not a multiple of the group", case: { ...base, id: `${base.id}[error:group]`, params: { group: 48 } } },
      replaceInput(base, "w", fromNumbers("f32", [1, 32], new Array(32).fill(1e9)), "s1 overflows binary16"),
    ];
  },
  flops: (d) => 6 * d.N! * d.K!,
  bytes: (d) => d.N! * d.K! * 5,
});

/** quant_weight_chn */
export const quantWeightChnSpec: OpSpec = defineSpec({
  op: "quant_weight_chn",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) => makeCase("quant_weight_chn", { n: 4, k: 100, data: kind }, { w: weightData(rngFor(230 + i), 4, 100, kind) })),
    makeCase("quant_weight_chn", { n: 3, k: 64, data: "clipped" }, { w: weightData(rngFor(240), 3, 64, "outliers"), ratio: fromNumbers("f32", [3], [1, 0.5, 0.2]) }),
  ],
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 3, 8, 17]);
    const k = pick(rng, [1, 7, 64, 100, 256]);
    const kind = pick(rng, DATA_KINDS);
    const inputs: NamedTensors = { w: weightData(rng, n, k, kind) };
    if (rng.float() < 0.5) inputs.ratio = fromNumbers("f32", [n], Array.from({ length: n }, () => 0.2 + 0.8 * rng.float()));
    return makeCase("quant_weight_chn", { n, k, data: kind, clip: inputs.ratio ? 1 : 0, seed }, inputs);
  },
  errorCases: () => {
    const base = makeCase("quant_weight_chn", { n: 2, k: 16 }, { w: weightData(rngFor(250), 2, 16, "gaussian"), ratio: fromNumbers("f32", [2], [1, 0.9]) });
    return [withNaN(base, "w"), replaceInput(base, "ratio", fromNumbers("f32", [2], [1, 0]), "ratio 0"), replaceInput(base, "ratio", fromNumbers("f32", [2], [1.5, 1]), "ratio above 1")];
  },
  flops: (d) => 4 * d.N! * d.K!,
  bytes: (d) => d.N! * d.K! * 5,
});

/** quant_weight_int8 */
export const quantWeightInt8Spec: OpSpec = defineSpec({
  op: "quant_weight_int8",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("quant_weight_int8", { n: 4, k: 100, data: kind }, { w: weightData(rngFor(260 + i), 4, 100, kind) })),
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 3, 8, 17]);
    const k = pick(rng, [1, 7, 64, 100, 256]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("quant_weight_int8", { n, k, data: kind, seed }, { w: weightData(rng, n, k, kind) });
  },
  errorCases: () => [withNaN(makeCase("quant_weight_int8", { n: 2, k: 4 }, { w: weightData(rngFor(270), 2, 4, "gaussian") }), "w")],
  flops: (d) => 3 * d.N! * d.K!,
  bytes: (d) => d.N! * d.K! * 5,
});

function g128Inputs(rng: Rng, n: number, k: number, g: number, kind: DataKind): NamedTensors {
  const { q, zero, s2, s1 } = quantizedG128(rng, n, k, g, kind);
  return { q: q!, zero: zero!, s2: s2!, s1: s1! };
}

/** Corruptions of g128 weights every consumer must reject. */
export function g128ErrorCases(base: ReturnType<typeof makeCase>) {
  return [
    withValue(base, "q", 0, 16, "code 16 in q"),
    withValue(base, "zero", 0, 16, "zero point 16"),
    withValue(base, "s2", 0, 0, "s2 = 0"),
    withValue(base, "s2", 0, 17, "s2 = 17"),
    // q = 0, z = 15, s2 = 16 gives w8 = −240: outside the protective range.
    withValue(withValue(withValue(base, "q", 0, 0, "").case, "zero", 0, 15, "").case, "s2", 0, 16, "protective range violated (w8 = −240)"),
    withNaN(base, "s1"),
  ];
}

/** dequant_weight_g128 */
export const dequantWeightG128Spec: OpSpec = defineSpec({
  op: "dequant_weight_g128",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("dequant_weight_g128", { n: 4, k: 256, g: 128, data: kind }, g128Inputs(rngFor(280 + i), 4, 256, 128, kind))),
  randomCase: (rng, seed) => {
    const g = pick(rng, GROUPS);
    const n = pick(rng, [1, 3, 8, 17]);
    const k = g * pick(rng, [1, 2, 3]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("dequant_weight_g128", { n, k, g, data: kind, seed }, g128Inputs(rng, n, k, g, kind));
  },
  errorCases: () => g128ErrorCases(makeCase("dequant_weight_g128", { n: 2, k: 64, g: 32 }, g128Inputs(rngFor(290), 2, 64, 32, "gaussian"))),
  flops: (d) => 2 * d.N! * d.K!,
  bytes: (d) => d.N! * d.K! * 6,
  contracts: {
    // onnx-fp16: exact — the graph casts codes, zeros and s2 to float32, where (q − z)·s2 is an exact integer and
    // its product with the binary16 s1 is exact (8 × 11 significant bits). Measured: 0 mismatches.
    "onnx-fp16": { kind: "exact" },
  },
});

/** dequant_weight_chn */
export const dequantWeightChnSpec: OpSpec = defineSpec({
  op: "dequant_weight_chn",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("dequant_weight_chn", { n: 4, k: 100, data: kind }, quantizedChn(rngFor(300 + i), 4, 100, kind))),
  randomCase: (rng, seed) => {
    const n = pick(rng, [1, 3, 8, 17]);
    const k = pick(rng, [1, 7, 64, 100, 256]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("dequant_weight_chn", { n, k, data: kind, seed }, quantizedChn(rng, n, k, kind));
  },
  errorCases: () => {
    const base = makeCase("dequant_weight_chn", { n: 2, k: 8 }, quantizedChn(rngFor(310), 2, 8, "gaussian"));
    return [withValue(base, "q", 3, 16, "code 16 in q"), withValue(base, "zero", 1, 200, "zero point 200"), withNaN(base, "scale")];
  },
  flops: (d) => 2 * d.N! * d.K!,
  bytes: (d) => d.N! * d.K! * 5,
  contracts: {
    // onnx-fp16: exact — the graph casts codes, zeros and the binary16 scale to float32, where scale·(q − z) is
    // exact (11 × 5 significant bits). Measured: 0 mismatches.
    "onnx-fp16": { kind: "exact" },
  },
});
