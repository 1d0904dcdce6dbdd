/**
 * Specs of the three GEMMs. Inputs are produced by the reference quantizers from random
 * activations and weights, so every case is a valid, realistic quantized problem.
 * @module
 */
import { fromNumbers, type NamedTensors, type OpSpec, type Rng } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { DATA_KINDS, f16Data, pick, rngFor, type DataKind } from "../data.js";
import { defineSpec, makeCase, replaceInput, withNaN, withValue } from "./common.js";
import { g128ErrorCases, quantizedChn, quantizedG128, weightData } from "./weights.js";

const MS = [1, 2, 3, 7, 16, 33];
const NS = [1, 8, 13, 32, 64];

function activations(rng: Rng, m: number, k: number, kind: DataKind): NamedTensors {
  const { q, scale, qsum } = runReference("quant_act_int8", { x: f16Data(rng, [m, k], kind) });
  return { xq: q!, xscale: scale!, xqsum: qsum! };
}

function g128Case(rng: Rng, m: number, n: number, k: number, g: number, kind: DataKind): NamedTensors {
  const { xq, xscale } = activations(rng, m, k, kind);
  const { q, zero, s2, s1 } = quantizedG128(rng, n, k, g, kind === "extremes" ? "gaussian" : kind);
  return { xq: xq!, xscale: xscale!, q: q!, zero: zero!, s2: s2!, s1: s1! };
}

function chnCase(rng: Rng, m: number, n: number, k: number, kind: DataKind): NamedTensors {
  const a = activations(rng, m, k, kind);
  return { ...a, ...quantizedChn(rng, n, k, kind === "extremes" ? "gaussian" : kind) };
}

function w8a8Case(rng: Rng, m: number, n: number, k: number, kind: DataKind): NamedTensors {
  const { xq, xscale } = activations(rng, m, k, kind);
  const { q, scale } = runReference("quant_weight_int8", { w: weightData(rng, n, k, kind === "extremes" ? "gaussian" : kind) });
  return { xq: xq!, xscale: xscale!, q: q!, scale: scale! };
}

const gemmFlops = (d: Readonly<Record<string, number>>) => 2 * d.M! * d.N! * d.K!;

/** gemm_w4a8_g128 */
export const gemmW4a8G128Spec: OpSpec = defineSpec({
  op: "gemm_w4a8_g128",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) => makeCase("gemm_w4a8_g128", { m: 3, n: 16, k: 256, g: 128, data: kind }, g128Case(rngFor(400 + i), 3, 16, 256, 128, kind))),
    makeCase("gemm_w4a8_g128", { m: 1, n: 8, k: 96, g: 32, data: "gaussian" }, g128Case(rngFor(410), 1, 8, 96, 32, "gaussian")),
  ],
  randomCase: (rng, seed) => {
    const g = pick(rng, [32, 64, 128]);
    const m = pick(rng, MS);
    const n = pick(rng, NS);
    const k = g * pick(rng, [1, 2, 4]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("gemm_w4a8_g128", { m, n, k, g, data: kind, seed }, g128Case(rng, m, n, k, g, kind));
  },
  errorCases: () => {
    const base = makeCase("gemm_w4a8_g128", { m: 2, n: 4, k: 64, g: 32 }, g128Case(rngFor(420), 2, 4, 64, 32, "gaussian"));
    return [...g128ErrorCases(base), withNaN(base, "xscale"), replaceInput(base, "zero", fromNumbers("u8", [4, 3], new Array(12).fill(0)), "3 groups do not divide K = 64")];
  },
  flops: gemmFlops,
  bytes: (d) => d.M! * d.K! + d.N! * d.K! / 2 + d.N! * d.G! + d.M! * d.N! * 2 + 2 * (d.M! + d.N!),
});

/** gemm_w4a8_chn */
export const gemmW4a8ChnSpec: OpSpec = defineSpec({
  op: "gemm_w4a8_chn",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("gemm_w4a8_chn", { m: 3, n: 16, k: 200, data: kind }, chnCase(rngFor(430 + i), 3, 16, 200, kind))),
  randomCase: (rng, seed) => {
    const m = pick(rng, MS);
    const n = pick(rng, NS);
    const k = pick(rng, [1, 7, 64, 100, 256, 512]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("gemm_w4a8_chn", { m, n, k, data: kind, seed }, chnCase(rng, m, n, k, kind));
  },
  errorCases: () => {
    const base = makeCase("gemm_w4a8_chn", { m: 2, n: 4, k: 16 }, chnCase(rngFor(440), 2, 4, 16, "gaussian"));
    const badSum = base.inputs.xqsum!.data.slice() as Int32Array;
    badSum[0] = badSum[0]! + 1;
    return [
      withValue(base, "q", 0, 16, "code 16 in q"),
      withValue(base, "zero", 0, 16, "zero point 16"),
      replaceInput(base, "xqsum", { dtype: "i32", shape: [2], data: badSum }, "xqsum disagrees with xq"),
      withNaN(base, "scale"),
    ];
  },
  flops: gemmFlops,
  bytes: (d) => d.M! * d.K! + d.N! * d.K! / 2 + d.M! * d.N! * 2 + 6 * d.M! + 3 * d.N!,
});

/** gemm_w8a8 */
export const gemmW8a8Spec: OpSpec = defineSpec({
  op: "gemm_w8a8",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("gemm_w8a8", { m: 3, n: 16, k: 200, data: kind }, w8a8Case(rngFor(450 + i), 3, 16, 200, kind))),
  randomCase: (rng, seed) => {
    const m = pick(rng, MS);
    const n = pick(rng, NS);
    const k = pick(rng, [1, 7, 64, 100, 256, 512]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("gemm_w8a8", { m, n, k, data: kind, seed }, w8a8Case(rng, m, n, k, kind));
  },
  errorCases: () => [withNaN(makeCase("gemm_w8a8", { m: 2, n: 4, k: 16 }, w8a8Case(rngFor(460), 2, 4, 16, "gaussian")), "xscale")],
  flops: gemmFlops,
  bytes: (d) => d.M! * d.K! + d.N! * d.K! + d.M! * d.N! * 2 + 2 * (d.M! + d.N!),
});
