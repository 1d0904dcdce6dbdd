/**
 * Benchmark case generators ("bench cases") for the ops `qoq bench --shape llama` measures at
 * LLaMA-7B-like sizes: the GEMMs at M = 1 and 16 with N × K = 4096 × 4096, per-token INT8
 * quantization of 4096-wide rows, and KV4 decode attention (32 query heads, 8 KV heads,
 * head_dim 128) at context lengths 128, 1024 and 4096. Inputs are valid but drawn directly as
 * codes and scales (not through the reference quantizers), so a case of 16 M weights is made in
 * well under a second; timing does not depend on the values.
 * @module
 */
import { fromNumbers, toF16Bits, type OpCase, type OpName, type Tensor } from "@qoq/core";
import { Rng } from "@qoq/core";
import { f16Data } from "../data.js";
import { makeCase } from "./common.js";
import { PAGE } from "./attention.js";

/** Benchmark shape sets: `small` (each op's first edge case) or `llama` (LLaMA-7B-like sizes where a generator exists). */
export type BenchShape = "small" | "llama";

/** Every {@link BenchShape}. */
export const BENCH_SHAPES: readonly BenchShape[] = ["small", "llama"];

/** A generator of benchmark cases for one op and shape set. */
export type BenchCaseGenerator = (shape: BenchShape) => OpCase[];

function i8(rng: Rng, n: number, lo: number, hi: number): Int8Array {
  const a = new Int8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(lo, hi);
  return a;
}

function u8(rng: Rng, n: number, lo: number, hi: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(lo, hi);
  return a;
}

function f16s(rng: Rng, n: number, lo: number, hi: number): Tensor<"f16"> {
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) a[i] = toF16Bits(lo + (hi - lo) * rng.float());
  return { dtype: "f16", shape: [n], data: a };
}

function actCodes(rng: Rng, m: number, k: number) {
  const xq = i8(rng, m * k, -127, 127);
  const sums = new Int32Array(m);
  for (let r = 0; r < m; r++) for (let c = 0; c < k; c++) sums[r] = sums[r]! + xq[r * k + c]!;
  return { xq: { dtype: "i8", shape: [m, k], data: xq } as Tensor, xscale: f16s(rng, m, 0.005, 0.05), xqsum: { dtype: "i32", shape: [m], data: sums } as Tensor };
}

const LLAMA_MS = [1, 16];
const HIDDEN = 4096;

function gemmG128(m: number): OpCase {
  const rng = new Rng(0xbe4c0000 + m);
  const n = HIDDEN;
  const k = HIDDEN;
  const g = k / 128;
  const { xq, xscale } = actCodes(rng, m, k);
  // Zero point 8 and level-2 scales 1..8 keep (q − z)·s2 inside [−128, 127] as the format requires.
  const inputs = { xq, xscale, q: { dtype: "u8", shape: [n, k], data: u8(rng, n * k, 0, 15) } as Tensor, zero: { dtype: "u8", shape: [n, g], data: new Uint8Array(n * g).fill(8) } as Tensor, s2: { dtype: "u8", shape: [n, g], data: u8(rng, n * g, 1, 8) } as Tensor, s1: f16s(rng, n, 0.001, 0.01) };
  return makeCase("gemm_w4a8_g128", { m, n, k, g: 128, data: "bench" }, inputs);
}

function gemmChn(m: number): OpCase {
  const rng = new Rng(0xbe4c1000 + m);
  const n = HIDDEN;
  const k = HIDDEN;
  const a = actCodes(rng, m, k);
  return makeCase("gemm_w4a8_chn", { m, n, k, data: "bench" }, { ...a, q: { dtype: "u8", shape: [n, k], data: u8(rng, n * k, 0, 15) } as Tensor, zero: { dtype: "u8", shape: [n], data: u8(rng, n, 0, 15) } as Tensor, scale: f16s(rng, n, 0.001, 0.01) });
}

function gemmW8a8(m: number): OpCase {
  const rng = new Rng(0xbe4c2000 + m);
  const n = HIDDEN;
  const k = HIDDEN;
  const { xq, xscale } = actCodes(rng, m, k);
  return makeCase("gemm_w8a8", { m, n, k, data: "bench" }, { xq, xscale, q: { dtype: "i8", shape: [n, k], data: i8(rng, n * k, -127, 127) } as Tensor, scale: f16s(rng, n, 0.001, 0.01) });
}

function decode(ctx: number): OpCase {
  const rng = new Rng(0xbe4c3000 + ctx);
  const hq = 32;
  const hkv = 8;
  const d = 128;
  const pages = Math.ceil(ctx / PAGE);
  const rows = pages * hkv * PAGE;
  const order = Array.from({ length: pages }, (_, i) => i);
  for (let i = pages - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const cache = (): Tensor => ({ dtype: "u8", shape: [pages, hkv, PAGE, d], data: u8(rng, rows * d, 0, 15) });
  const rowF16 = (lo: number, hi: number): Tensor => ({ ...f16s(rng, rows, lo, hi), shape: [pages, hkv, PAGE] });
  const inputs = {
    q: f16Data(rng, [1, hq, d], "gaussian"),
    k: f16Data(rng, [1, hkv, d], "gaussian"),
    v: f16Data(rng, [1, hkv, d], "gaussian"),
    k_cache: cache(),
    k_scale: rowF16(0.1, 0.5),
    k_min: rowF16(-3, -1),
    v_cache: cache(),
    v_scale: rowF16(0.1, 0.5),
    v_min: rowF16(-3, -1),
    block_table: fromNumbers("i32", [1, pages], order),
    ctx_len: fromNumbers("i32", [1], [ctx]),
  };
  return makeCase("attention_kv4_decode", { ctx, hq, hkv, d, data: "bench" }, inputs);
}

/** LLaMA-shaped bench-case generators by op (ops not listed have only the `small` shape). */
export const BENCH_CASES: Partial<Readonly<Record<OpName, BenchCaseGenerator>>> = {
  gemm_w4a8_g128: (shape) => (shape === "llama" ? LLAMA_MS.map(gemmG128) : []),
  gemm_w4a8_chn: (shape) => (shape === "llama" ? LLAMA_MS.map(gemmChn) : []),
  gemm_w8a8: (shape) => (shape === "llama" ? LLAMA_MS.map(gemmW8a8) : []),
  quant_act_int8: (shape) => (shape === "llama" ? LLAMA_MS.map((m) => makeCase("quant_act_int8", { m, k: HIDDEN, data: "bench" }, { x: f16Data(new Rng(0xbe4c4000 + m), [m, HIDDEN], "outliers") })) : []),
  attention_kv4_decode: (shape) => (shape === "llama" ? [128, 1024, 4096].map(decode) : []),
};
