/**
 * The emulated binary64 arithmetic of `kernels/wgsl/f64.wgsl`, through the offline transforms,
 * on operands the conformance data rarely produces: bit patterns over the whole binary64 range
 * (subnormals, the smallest normals, exponents close together so that sums cancel, significands
 * with few bits so that roundings tie), binary32 outputs that are subnormal or round to the
 * largest finite value, and overflow, which both backends must reject with an `OverflowError`.
 * Every result is compared bit for bit with the reference.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverflowError, tensor, type Tensor } from "@qoq/core";
import { runReference } from "@qoq/reference";
import type { WebGpuBackend } from "../src/index.js";
import { SEED, startBackend } from "./setup.js";

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await startBackend();
});
afterAll(async () => {
  await gpu?.dispose();
});

/** xorshift32, seeded: the inputs are reproducible from `FC_SEED`. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Binary64 values from bit patterns: exponent field `lo … hi` (0 = subnormal), neighbours within ±`spread` of a shared exponent. */
function f64Values(next: () => number, count: number, lo: number, hi: number, spread: number): Float64Array {
  const words = new Uint32Array(2 * count);
  let shared = lo;
  for (let i = 0; i < count; i++) {
    if (i % 4 === 0) shared = lo + (next() % (hi - lo + 1));
    const e = Math.min(hi, Math.max(lo, shared + (next() % (2 * spread + 1)) - spread));
    const few = next() % 3 === 0; // a significand with few bits set: ties and exact cancellations
    const mhi = few ? (next() & 0xf0000) : next() & 0xfffff;
    const mlo = few ? (next() & 0x3) : next();
    words[2 * i] = mlo;
    words[2 * i + 1] = ((next() & 1) << 31) | (e << 20) | mhi;
  }
  return new Float64Array(words.buffer);
}

function bitsOf(t: Tensor): Uint32Array {
  return new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
}

async function sameAsReference(w: Tensor, side: "input" | "output"): Promise<void> {
  const want = runReference("hadamard_rotate", { w }, { side }).w!;
  const got = (await gpu.run("hadamard_rotate", { w }, { side })).w!;
  expect(got.dtype).toBe(want.dtype);
  const [a, b] = [bitsOf(want), bitsOf(got)];
  let differ = 0;
  let first = "";
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      differ++;
      if (first === "") first = `word ${i}: reference 0x${a[i]!.toString(16)}, got 0x${b[i]!.toString(16)}`;
    }
  }
  expect(first, `${differ} of ${a.length} words differ`).toBe("");
}

/** Every output of `op` bit for bit as the reference's. */
async function opSameAsReference(op: string, inputs: Record<string, Tensor>, params: Record<string, number | string>): Promise<void> {
  const want = runReference(op, inputs, params);
  const got = await gpu.run(op as "clip_search", inputs, params);
  for (const [name, t] of Object.entries(want)) {
    expect(got[name]!.dtype).toBe(t.dtype);
    const [a, b] = [bitsOf(t), bitsOf(got[name]!)];
    const i = a.findIndex((v, j) => v !== b[j]);
    expect(i, `${op} ${JSON.stringify(params)} output '${name}': word ${i} differs (reference ${Array.from(a)}, got ${Array.from(b)})`).toBe(-1);
  }
}

function gaussianF32(next: () => number, count: number, sigma: number): Float32Array {
  const v = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u = (next() + 1) / 4294967297;
    const w = (next() + 1) / 4294967297;
    v[i] = sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w) * (next() % 16 === 0 ? 30 : 1);
  }
  return v;
}

describe("emulated binary64 division (f64.wgsl) through clip_search", () => {
  it("err = Σ/T for T not a power of two, grids and max_shrink whose ratios are inexact", async () => {
    const next = rng(SEED + 11);
    for (const [t, grid, ms] of [[3, 7, 0.37], [5, 13, 0.8], [7, 20, 0.99], [11, 3, 0.5], [1, 80, 0.8]] as const) {
      const [n, k] = [3, 24];
      const w = tensor("f32", [n, k], gaussianF32(next, n * k, 0.05));
      const x = tensor("f32", [t, k], gaussianF32(next, t * k, 1));
      await opSameAsReference("clip_search", { w, x }, { grid, max_shrink: ms });
    }
  });

  it("weights whose scale overflows binary16 are an OverflowError on both backends", async () => {
    const w = tensor("f32", [1, 4], Float32Array.from([3e38, -3e38, 1, 2]));
    const x = tensor("f32", [2, 4], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(() => runReference("clip_search", { w, x }, { grid: 4 })).toThrow(OverflowError);
    await expect(gpu.run("clip_search", { w, x }, { grid: 4 })).rejects.toThrow(OverflowError);
  });
});

describe("emulated binary64 (f64.wgsl) through hadamard_rotate", () => {
  const ranges: [string, number, number, number][] = [
    ["subnormal and smallest normal operands", 0, 3, 1],
    ["exponents within ±1 (cancellation)", 1, 2040, 1],
    ["exponents within ±60 (alignment, sticky bits)", 1, 2040, 60],
    ["small exponents (subnormal results of 1/√b)", 0, 60, 8],
  ];
  for (const [title, lo, hi, spread] of ranges) {
    it(`binary64 in and out: ${title}`, async () => {
      const next = rng(SEED ^ lo ^ (hi << 8));
      for (const [r, c] of [[64, 2], [32, 4], [16, 8], [16, 6], [8, 32]] as const) {
        await sameAsReference(tensor("f64", [r, c], f64Values(next, r * c, lo, hi, spread)), "input");
        await sameAsReference(tensor("f64", [c, r], f64Values(next, r * c, lo, hi, spread)), "output");
      }
    });
  }

  it("binary32 in and out: subnormal results, results next to the largest finite value", async () => {
    const next = rng(SEED + 7);
    for (const [lo, hi] of [[0, 4], [1, 30], [100, 156], [250, 253]] as const) {
      const v = new Float32Array(256);
      const u = new Uint32Array(v.buffer);
      for (let i = 0; i < v.length; i++) u[i] = ((next() & 1) << 31) | ((lo + (next() % (hi - lo + 1))) << 23) | (next() & 0x7fffff);
      await sameAsReference(tensor("f32", [32, 8], v), "input");
      await sameAsReference(tensor("f32", [8, 32], v), "output");
    }
  });

  it("an output that overflows is an OverflowError on both backends (binary32 and binary64)", async () => {
    const big32 = tensor("f32", [1, 2], Float32Array.from([3e38, 3e38]));
    const big64 = tensor("f64", [1, 8], Float64Array.from([1.7e308, 1.7e308, 1.7e308, 1.7e308, 1, 1, 1, 1]));
    for (const w of [big32, big64]) {
      expect(() => runReference("hadamard_rotate", { w }, {})).toThrow(OverflowError);
      await expect(gpu.run("hadamard_rotate", { w }, {})).rejects.toThrow(OverflowError);
    }
  });
});
