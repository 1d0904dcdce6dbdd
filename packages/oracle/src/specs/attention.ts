/**
 * Specs of the KV4 cache ops, RoPE and the two attention ops.
 * @module
 */
import { fromNumbers, zeros, type NamedTensors, type OpSpec, type Rng, type Tensor } from "@qoq/core";
import { ropeTable, runReference } from "@qoq/reference";
import { DATA_KINDS, f16Data, pick, rngFor, type DataKind } from "../data.js";
import { defineSpec, makeCase, replaceInput, withNaN, withValue } from "./common.js";

/** Tokens per KV4 cache page. */
export const PAGE = 64;

/** quant_kv4 */
export const quantKv4Spec: OpSpec = defineSpec({
  op: "quant_kv4",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("quant_kv4", { t: 5, h: 2, d: 16, data: kind }, { v: f16Data(rngFor(500 + i), [5, 2, 16], kind) })),
  randomCase: (rng, seed) => {
    const t = pick(rng, [1, 3, 64, 65]);
    const h = pick(rng, [1, 2, 4]);
    const d = pick(rng, [8, 16, 64, 128]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("quant_kv4", { t, h, d, data: kind, seed }, { v: f16Data(rng, [t, h, d], kind) });
  },
  errorCases: () => [withNaN(makeCase("quant_kv4", { t: 2, h: 1, d: 8 }, { v: f16Data(rngFor(510), [2, 1, 8], "gaussian") }), "v")],
  flops: (d) => 5 * d.T! * d.H! * d.D!,
  bytes: (d) => d.T! * d.H! * (d.D! * 2.5 + 4),
});

function kv4Inputs(rng: Rng, t: number, h: number, d: number, kind: DataKind): NamedTensors {
  const { q, scale, min } = runReference("quant_kv4", { v: f16Data(rng, [t, h, d], kind) });
  return { q: q!, scale: scale!, min: min! };
}

/** dequant_kv4 */
export const dequantKv4Spec: OpSpec = defineSpec({
  op: "dequant_kv4",
  edgeCases: () => DATA_KINDS.map((kind, i) => makeCase("dequant_kv4", { t: 5, h: 2, d: 16, data: kind }, kv4Inputs(rngFor(520 + i), 5, 2, 16, kind))),
  randomCase: (rng, seed) => {
    const t = pick(rng, [1, 3, 64, 65]);
    const h = pick(rng, [1, 2, 4]);
    const d = pick(rng, [8, 16, 64, 128]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("dequant_kv4", { t, h, d, data: kind, seed }, kv4Inputs(rng, t, h, d, kind));
  },
  errorCases: () => {
    const base = makeCase("dequant_kv4", { t: 2, h: 1, d: 8 }, kv4Inputs(rngFor(530), 2, 1, 8, "gaussian"));
    return [withValue(base, "q", 0, 16, "code 16"), withNaN(base, "scale"), withNaN(base, "min")];
  },
  flops: (d) => 2 * d.T! * d.H! * d.D!,
  bytes: (d) => d.T! * d.H! * (d.D! * 5 + 4),
  contracts: {
    // onnx-fp16: exact — the graph casts the codes and binary16 scales to float32, where q·scale is exact
    // (4-bit × 11-bit significands) and the add of the minimum rounds once, as the reference does. Measured: 0 mismatches.
    "onnx-fp16": { kind: "exact" },
  },
});

function ropeInputs(rng: Rng, t: number, h: number, d: number, kind: DataKind, maxPos: number): NamedTensors {
  const { cos, sin } = ropeTable(maxPos, d, 10000);
  const pos = fromNumbers("i32", [t], Array.from({ length: t }, () => rng.int(0, maxPos - 1)));
  return { x: f16Data(rng, [t, h, d], kind), pos, cos, sin };
}

/** rope */
export const ropeSpec: OpSpec = defineSpec({
  op: "rope",
  edgeCases: () =>
    (["rotate_half", "interleaved"] as const).flatMap((style, s) =>
      DATA_KINDS.map((kind, i) => makeCase("rope", { t: 4, h: 2, d: 16, style, data: kind }, ropeInputs(rngFor(540 + 10 * s + i), 4, 2, 16, kind, 512), { style })),
    ),
  randomCase: (rng, seed) => {
    const t = pick(rng, [1, 3, 17, 64]);
    const h = pick(rng, [1, 2, 8]);
    const d = pick(rng, [2, 8, 64, 128]);
    const kind = pick(rng, DATA_KINDS);
    const style = pick(rng, ["rotate_half", "interleaved"]);
    return makeCase("rope", { t, h, d, style, data: kind, seed }, ropeInputs(rng, t, h, d, kind, 4096), { style });
  },
  errorCases: () => {
    const base = makeCase("rope", { t: 2, h: 1, d: 8 }, ropeInputs(rngFor(560), 2, 1, 8, "gaussian", 16));
    return [
      withNaN(base, "x"),
      replaceInput(base, "pos", fromNumbers("i32", [2], [0, 16]), "position past the table"),
      replaceInput(base, "pos", fromNumbers("i32", [2], [-1, 0]), "negative position"),
      { label: "unknown style", case: { ...base, id: `${base.id}[error:style]`, params: { style: "neox2" } } },
    ];
  },
  flops: (d) => 3 * d.T! * d.H! * d.D!,
  bytes: (d) => d.T! * d.H! * d.D! * 4 + d.T! * (4 + d.R! * 8),
  contracts: {
    "onnx-fp16": {
      kind: "tolerance",
      name: "fp16-eager-rope",
      maxAbs: 128,
      maxNmse: 1e-5,
      why: "FP16-eager RoPE: cos/sin stored as binary16 (relative error 2^-12) and each product and the sum rounded to binary16 (3 roundings, not 1), so an output can be off by ~2.5 binary16 ULPs of max(|a|, |b|) — at most 80 for inputs near 65504 (ULP 32) — and by many ULPs of a small output after cancellation (so no ULP bound). Measured over 500 random cases (seed 12345): max-abs 64 (extremes), NMSE 7.7e-7",
    },
  },
});

function qkv(rng: Rng, t: number, hq: number, hkv: number, d: number, kind: DataKind): NamedTensors {
  return { q: f16Data(rng, [t, hq, d], kind), k: f16Data(rng, [t, hkv, d], kind), v: f16Data(rng, [t, hkv, d], kind) };
}

/** attention_prefill */
export const attentionPrefillSpec: OpSpec = defineSpec({
  op: "attention_prefill",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) => makeCase("attention_prefill", { t: 5, hq: 4, hkv: 2, d: 16, data: kind }, qkv(rngFor(600 + i), 5, 4, 2, 16, kind))),
    makeCase("attention_prefill", { t: 1, hq: 1, hkv: 1, d: 8, data: "gaussian" }, qkv(rngFor(610), 1, 1, 1, 8, "gaussian")),
    makeCase("attention_prefill", { t: 70, hq: 2, hkv: 1, d: 32, data: "outliers" }, qkv(rngFor(611), 70, 2, 1, 32, "outliers")),
  ],
  randomCase: (rng, seed) => {
    const t = pick(rng, [1, 2, 7, 33, 65]);
    const hkv = pick(rng, [1, 2]);
    const hq = hkv * pick(rng, [1, 2, 4]);
    const d = pick(rng, [8, 16, 64]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("attention_prefill", { t, hq, hkv, d, data: kind, seed }, qkv(rng, t, hq, hkv, d, kind));
  },
  errorCases: () => {
    const base = makeCase("attention_prefill", { t: 3, hq: 4, hkv: 2, d: 8 }, qkv(rngFor(620), 3, 4, 2, 8, "gaussian"));
    return [withNaN(base, "k"), replaceInput(base, "q", f16Data(rngFor(621), [3, 3, 8], "gaussian"), "3 query heads over 2 KV heads")];
  },
  flops: (d) => 2 * d.T! * (d.T! + 1) * d.HQ! * d.D! + 5 * d.T! * d.T! * d.HQ!,
  bytes: (d) => d.T! * (d.HQ! * 2 + d.HKV! * 2) * d.D! * 2,
  contracts: {
    "onnx-fp16": {
      kind: "tolerance",
      name: "fp32-sdpa-attention",
      maxNmse: 0.05,
      why: "SDPA-style float32 scores/softmax/weighted sum (MLAS sgemm with FMA and its own order, MLAS exp) rounded to binary16 once: on Gaussian and outlier data a few binary16 ULPs (NMSE ≤ 1e-7), but with binary16 extremes the scores reach ~1e10, where one float32 rounding (ULP ~1000) of a different summation order changes exp(s − m) completely, so a whole output row can differ (measured NMSE 9.6e-3, max-abs 65504 on extremes over 200 random cases with seed 7; 2.9e-7 and 176 over 500 with seed 12345); no max-abs bound is meaningful there — packages/onnx's own tests hold non-extreme data to a per-element bound",
    },
  },
});

/** A paged KV4 cache holding `ctx[b]` past tokens per sequence, pages placed in shuffled order. */
export function pagedCache(rng: Rng, ctx: readonly number[], hkv: number, d: number, kind: DataKind): NamedTensors {
  const blocks = ctx.map((l) => Math.ceil(l / PAGE));
  const nb = Math.max(1, ...blocks);
  const pages = blocks.reduce((a, b) => a + b, 0) + 1; // one spare page nobody uses
  const order = Array.from({ length: pages }, (_, i) => i);
  for (let i = pages - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const table = new Array<number>(ctx.length * nb).fill(-1);
  const out: Record<string, Tensor> = {
    k_cache: zeros("u8", [pages, hkv, PAGE, d]),
    k_scale: zeros("f16", [pages, hkv, PAGE]),
    k_min: zeros("f16", [pages, hkv, PAGE]),
    v_cache: zeros("u8", [pages, hkv, PAGE, d]),
    v_scale: zeros("f16", [pages, hkv, PAGE]),
    v_min: zeros("f16", [pages, hkv, PAGE]),
  };
  let next = 0;
  ctx.forEach((l, b) => {
    for (let blk = 0; blk < blocks[b]!; blk++) table[b * nb + blk] = order[next++]!;
    for (const which of ["k", "v"] as const) {
      if (l === 0) continue;
      const { q, scale, min } = runReference("quant_kv4", { v: f16Data(rng, [l, hkv, d], kind) });
      for (let tok = 0; tok < l; tok++) {
        const page = table[b * nb + (tok >> 6)]!;
        const slot = tok & 63;
        for (let h = 0; h < hkv; h++) {
          const dst = (page * hkv + h) * PAGE + slot;
          out[`${which}_cache`]!.data.set(q!.data.subarray((tok * hkv + h) * d, (tok * hkv + h + 1) * d), dst * d);
          out[`${which}_scale`]!.data[dst] = scale!.data[tok * hkv + h]!;
          out[`${which}_min`]!.data[dst] = min!.data[tok * hkv + h]!;
        }
      }
    }
  });
  return { ...out, block_table: fromNumbers("i32", [ctx.length, nb], table), ctx_len: fromNumbers("i32", [ctx.length], ctx) };
}

function decodeInputs(rng: Rng, ctx: readonly number[], hq: number, hkv: number, d: number, kind: DataKind): NamedTensors {
  const b = ctx.length;
  return { ...pagedCache(rng, ctx, hkv, d, kind), q: f16Data(rng, [b, hq, d], kind), k: f16Data(rng, [b, hkv, d], kind), v: f16Data(rng, [b, hkv, d], kind) };
}

/** attention_kv4_decode */
export const attentionKv4DecodeSpec: OpSpec = defineSpec({
  op: "attention_kv4_decode",
  edgeCases: () => [
    ...DATA_KINDS.map((kind, i) => makeCase("attention_kv4_decode", { ctx: "0+1+64+65", hq: 4, hkv: 2, d: 16, data: kind }, decodeInputs(rngFor(700 + i), [0, 1, 64, 65], 4, 2, 16, kind))),
    makeCase("attention_kv4_decode", { ctx: "130", hq: 2, hkv: 2, d: 8, data: "gaussian" }, decodeInputs(rngFor(710), [130], 2, 2, 8, "gaussian")),
  ],
  randomCase: (rng, seed) => {
    const b = pick(rng, [1, 2, 3]);
    const ctx = Array.from({ length: b }, () => pick(rng, [0, 1, 5, 63, 64, 65, 129, 200]));
    const hkv = pick(rng, [1, 2]);
    const hq = hkv * pick(rng, [1, 2, 4]);
    const d = pick(rng, [8, 16, 64]);
    const kind = pick(rng, DATA_KINDS);
    return makeCase("attention_kv4_decode", { ctx: ctx.join("+"), hq, hkv, d, data: kind, seed }, decodeInputs(rng, ctx, hq, hkv, d, kind));
  },
  errorCases: () => {
    const base = makeCase("attention_kv4_decode", { ctx: "70", hq: 2, hkv: 1, d: 8 }, decodeInputs(rngFor(720), [70], 2, 1, 8, "gaussian"));
    return [
      replaceInput(base, "block_table", fromNumbers("i32", [1, 2], [0, 99]), "block table points past the pages"),
      replaceInput(base, "ctx_len", fromNumbers("i32", [1], [129]), "ctx_len beyond the block table"),
      replaceInput(base, "ctx_len", fromNumbers("i32", [1], [-1]), "negative ctx_len"),
      withValue(base, "k_cache", 0, 16, "key code 16"),
      withNaN(base, "q"),
      withNaN(base, "v_scale"),
    ];
  },
  flops: (d) => 4 * d.B! * d.HQ! * d.D! * (d.NB! * PAGE + 1),
  bytes: (d) => d.B! * d.NB! * PAGE * d.HKV! * (d.D! + 8),
  contracts: {
    "onnx-fp16": {
      kind: "tolerance",
      name: "fp32-sdpa-kv4-decode",
      maxNmse: 0.25,
      why: "past K/V dequantized exactly as dequant_kv4 (float32), then SDPA-style float32 attention (MLAS sgemm order and FMA, MLAS exp), one rounding to binary16: on Gaussian/outlier data a binary16 ULP at most, but with binary16 extremes the scores reach ~1e10 and near-ties decided by one float32 rounding of a different summation order turn a one-hot softmax row into a 50/50 mix — the fixed extremes edge case (ctx 0+1+64+65) has NMSE 8.6e-2 (max-abs 65512); random cases over 1200 draws (seeds 1, 99, 2024) stay below it. No max-abs bound is meaningful there; packages/onnx's tests hold non-extreme data to 1 ULP + 1e-5·max|v| per element",
    },
  },
});
