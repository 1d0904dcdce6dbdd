/**
 * Specs of the activation-side ops: per-token INT8 quantization, RMSNorm + quant, SwiGLU +
 * quant, residual add.
 * @module
 */
import { fromNumbers, type OpSpec, type Rng, type Tensor } from "@qoq/core";
import { DATA_KINDS, f16Data, ODD_SIZES, pick, rngFor, type DataKind } from "../data.js";
import { defineSpec, makeCase, replaceInput, withNaN } from "./common.js";

const ROWS = [1, 2, 3, 7, 16, 33];
const COLS = [...ODD_SIZES, 256, 1000, 4096];

/** quant_act_int8 */
export const quantActInt8Spec: OpSpec = defineSpec({
  op: "quant_act_int8",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) => makeCase("quant_act_int8", { m: 4, k: 130, data: kind }, { x: f16Data(rngFor(i), [4, 130], kind) })),
    makeCase("quant_act_int8", { m: 1, k: 1, data: "single" }, { x: fromNumbers("f16", [1, 1], [-3]) }),
    makeCase("quant_act_int8", { m: 2, k: 3, data: "ties" }, { x: fromNumbers("f16", [2, 3], [127, 0.5, -1.5, 254, 1, 3]) }),
  ],
  randomCase: (rng, seed) => {
    const m = pick(rng, ROWS);
    const k = pick(rng, COLS);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("quant_act_int8", { m, k, data: kind, seed }, { x: f16Data(rng, [m, k], kind) });
  },
  errorCases: () => [withNaN(makeCase("quant_act_int8", { m: 2, k: 8 }, { x: f16Data(rngFor(9), [2, 8], "gaussian") }), "x")],
  flops: (d) => 3 * d.M! * d.K!,
  bytes: (d) => d.M! * d.K! * 3 + d.M! * 6,
});

/** rmsnorm_quant */
export const rmsnormQuantSpec: OpSpec = defineSpec({
  op: "rmsnorm_quant",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) =>
      makeCase("rmsnorm_quant", { m: 3, k: 96, data: kind }, { x: f16Data(rngFor(20 + i), [3, 96], kind), gamma: f16Data(rngFor(30 + i), [96], "gaussian") }),
    ),
    // Order-sensitive: one 2048 (square 2^22) and 4095 × 0.49 (square 0.2401 < half a binary32 ULP of 2^22).
    // A left-to-right sum loses every small square; R32 keeps ≈ 950 of them, so y moves by ~1/4 binary16 ULP
    // and many elements round differently: any backend summing in another order fails here.
    makeCase("rmsnorm_quant", { m: 1, k: 4096, data: "order" }, { x: fromNumbers("f16", [1, 4096], Array.from({ length: 4096 }, (_, i) => (i === 0 ? 2048 : 0.49))), gamma: f16Data(rngFor(36), [4096], "gaussian") }),
  ],
  randomCase: (rng, seed) => {
    const m = pick(rng, ROWS);
    const k = pick(rng, COLS);
    const kind = pick(rng, DATA_KINDS);
    const eps = pick(rng, [1e-5, 1e-6]);
    return makeCase("rmsnorm_quant", { m, k, data: kind, eps, seed }, { x: f16Data(rng, [m, k], kind), gamma: f16Data(rng, [k], "gaussian") }, { eps });
  },
  errorCases: () => {
    const base = makeCase("rmsnorm_quant", { m: 2, k: 8 }, { x: f16Data(rngFor(40), [2, 8], "gaussian"), gamma: f16Data(rngFor(41), [8], "gaussian") });
    return [withNaN(base, "x"), withNaN(base, "gamma"), replaceInput(base, "gamma", f16Data(rngFor(42), [9], "gaussian"), "gamma of the wrong length")];
  },
  flops: (d) => 8 * d.M! * d.K!,
  bytes: (d) => d.M! * d.K! * 5 + d.K! * 2 + d.M! * 6,
  contracts: {
    "onnx-fp16": {
      kind: "tolerance",
      name: "fp16-rmsnorm-requant",
      maxAbs: 4,
      maxNmse: 1e-4,
      why: "y from onnxruntime's float16 SimplifiedLayerNormalization (float32 inside, its own sum order and rsqrt) is within 1 binary16 ULP; q/scale/qsum are the reference quant_act_int8 of that y, so a flipped y can move a code or the scale by one step and qsum by the sum of a row's code moves (maxAbs covers the integers and applies to every output; the NMSE bound is set by qsum, whose row sums can be small). Measured over 500 random cases (seed 12345): y max-abs 0.0078, NMSE 7e-9; q and qsum off by 1 in 4 and 2 elements (NMSE ≤ 4.3e-6); scale 1 ULP off once; over 300 cases with seed 3 a qsum off by 2",
    },
  },
});

/**
 * `up` for a given gate data kind. With extreme gates (silu(65504) = 65504) `up` stays inside
 * (−1, 1) so that the product cannot overflow fp16, which the op rejects as bad input.
 */
function upData(rng: Rng, shape: readonly number[], kind: DataKind): Tensor<"f16"> {
  if (kind !== "extremes" && kind !== "mixed") return f16Data(rng, shape, kind);
  const n = shape.reduce((a, b) => a * b, 1);
  return fromNumbers("f16", shape, Array.from({ length: n }, () => 2 * rng.float() - 1));
}

/** silu_mul_quant */
export const siluMulQuantSpec: OpSpec = defineSpec({
  op: "silu_mul_quant",
  edgeCases: () =>
    DATA_KINDS.map((kind, i) =>
      makeCase("silu_mul_quant", { m: 3, k: 172, data: kind }, { gate: f16Data(rngFor(50 + i), [3, 172], kind, 4), up: upData(rngFor(60 + i), [3, 172], kind) }),
    ),
  randomCase: (rng, seed) => {
    const m = pick(rng, ROWS);
    const k = pick(rng, COLS);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("silu_mul_quant", { m, k, data: kind, seed }, { gate: f16Data(rng, [m, k], kind, 4), up: upData(rng, [m, k], kind) });
  },
  errorCases: () => {
    const base = makeCase("silu_mul_quant", { m: 2, k: 8 }, { gate: f16Data(rngFor(70), [2, 8], "gaussian"), up: f16Data(rngFor(71), [2, 8], "gaussian") });
    return [withNaN(base, "gate"), withNaN(base, "up"), replaceInput(base, "up", f16Data(rngFor(72), [2, 9], "gaussian"), "up of another width")];
  },
  flops: (d) => 20 * d.M! * d.K!,
  bytes: (d) => d.M! * d.K! * 7 + d.M! * 6,
  contracts: {
    "onnx-fp16": {
      kind: "tolerance",
      name: "fp16-silu-requant",
      maxAbs: 4,
      maxNmse: 1e-4,
      why: "silu = g·σ(g) in float32 with MLAS's logistic (absolute error ≤ 1.7e-7, not g/(1 + expCanon(−g))), stored as binary16, so silu and y can be a binary16 ULP or two off; q/scale/qsum are the reference quant_act_int8 of that y, so a code or the scale can move by one step and qsum by the sum of a row's code moves (maxAbs covers the integers and applies to every output). Measured over 500 random cases (seed 12345): y max-abs 0.00098, NMSE 1.5e-10; scale 1 ULP off twice; codes equal; over 300 cases with seed 3 a code off by 1",
    },
  },
});

/** residual_add */
export const residualAddSpec: OpSpec = defineSpec({
  op: "residual_add",
  edgeCases: () =>
    DATA_KINDS.map((kind, i) => makeCase("residual_add", { m: 3, k: 64, data: kind }, { a: f16Data(rngFor(80 + i), [3, 64], kind), b: f16Data(rngFor(90 + i), [3, 64], kind) })),
  randomCase: (rng, seed) => {
    const m = pick(rng, ROWS);
    const k = pick(rng, COLS);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("residual_add", { m, k, data: kind, seed }, { a: f16Data(rng, [m, k], kind), b: f16Data(rng, [m, k], kind) });
  },
  errorCases: () => {
    const base = makeCase("residual_add", { m: 2, k: 4 }, { a: f16Data(rngFor(100), [2, 4], "gaussian"), b: f16Data(rngFor(101), [2, 4], "gaussian") });
    return [withNaN(base, "b"), replaceInput(base, "b", f16Data(rngFor(102), [3, 4], "gaussian"), "b with more rows")];
  },
  flops: (d) => d.M! * d.K!,
  bytes: (d) => d.M! * d.K! * 6,
  // onnx-fp16: exact — one float32 Add of binary16 values rounded once to binary16 is the reference's formula.
  contracts: { "onnx-fp16": { kind: "exact" } },
});
