import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import { expCanon, fromF16Bits, fromNumbers, NonFiniteError, propertyOptions, Rng, ShapeError, toF16Bits } from "@qoq/core";
import { runReference } from "../src/index.js";

const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);
const u = 2 ** -24;
/** Unit in the last place of binary16 at magnitude v. */
const ulp16 = (v: number): number => (v === 0 ? 2 ** -24 : 2 ** (Math.max(Math.floor(Math.log2(v)), -14) - 10));

/** Independent R32: 32 Float32Array lanes (l, l+32, …), then fold halves 16, 8, 4, 2, 1 into lane 0. */
function sumR32Indep(terms: number[]): number {
  const lanes = new Float32Array(32);
  terms.forEach((t, i) => (lanes[i % 32] = lanes[i % 32]! + t));
  for (let half = 16; half >= 1; half /= 2) for (let l = 0; l < half; l++) lanes[l] = lanes[l]! + lanes[l + half]!;
  return lanes[0]!;
}

/** The pinned attention of one query row over keys/values 0 … n−1, restated independently; binary16 bits. */
function attendIndep(q: number[], keys: number[][], vals: number[][]): number[] {
  const d = q.length;
  const sc = r32(1 / r32(Math.sqrt(d)));
  const s = keys.map((k) => r32(sumR32Indep(q.map((qd, c) => r32(qd * k[c]!))) * sc));
  const m = Math.max(...s);
  const e = s.map((x) => expCanon(r32(x - m)));
  const l = sumR32Indep(e);
  return q.map((_, c) => toF16Bits(f16round(r32(sumR32Indep(e.map((ej, j) => r32(ej * vals[j]![c]!))) / l))));
}

interface Case {
  t: number;
  hq: number;
  hkv: number;
  d: number;
  q: number[];
  k: number[];
  v: number[];
}

/** A random prefill case from a seed: Gaussian data at a few amplitudes (peaky and flat softmaxes). */
function genCase(seed: number): Case {
  const rng = new Rng(seed);
  const hkv = rng.int(1, 2);
  const hq = hkv * rng.int(1, 3);
  const d = [1, 3, 8, 16, 33, 64][rng.int(0, 5)]!;
  const t = rng.int(1, 24);
  const amp = [0.25, 1, 3][rng.int(0, 2)]!;
  const gen = (n: number, a: number) => Array.from({ length: n }, () => f16round(r32(rng.normal() * a)));
  return { t, hq, hkv, d, q: gen(t * hq * d, amp), k: gen(t * hkv * d, amp), v: gen(t * hkv * d, 2) };
}

const runPrefill = (c: Case): number[] =>
  Array.from(
    runReference("attention_prefill", {
      q: fromNumbers("f16", [c.t, c.hq, c.d], c.q),
      k: fromNumbers("f16", [c.t, c.hkv, c.d], c.k),
      v: fromNumbers("f16", [c.t, c.hkv, c.d], c.v),
    }).o!.data as Uint16Array,
  );

const row = (x: number[], heads: number, d: number, tok: number, h: number): number[] => x.slice((tok * heads + h) * d, (tok * heads + h + 1) * d);
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

describe("attention_prefill", () => {
  it("matches an independent bit-exact restatement (R32 sums, expCanon, one division)", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const c = genCase(seed);
        const o = runPrefill(c);
        const g = c.hq / c.hkv;
        for (let tok = 0; tok < c.t; tok++)
          for (let h = 0; h < c.hq; h++) {
            const kh = Math.floor(h / g);
            const keys = Array.from({ length: tok + 1 }, (_, j) => row(c.k, c.hkv, c.d, j, kh));
            const vals = Array.from({ length: tok + 1 }, (_, j) => row(c.v, c.hkv, c.d, j, kh));
            expect(o.slice((tok * c.hq + h) * c.d, (tok * c.hq + h + 1) * c.d)).toEqual(attendIndep(row(c.q, c.hq, c.d, tok, h), keys, vals));
          }
      }),
      propertyOptions(60),
    );
  });

  it("a long prompt (80 tokens, more keys than R32 lanes) matches the restatement bit for bit", () => {
    // Sums over more than 32 keys exercise the lane layout; with 10k outputs a different summation
    // order or a multiply by 1/l instead of the division flips some fp16 results.
    const rng = new Rng(4242);
    const t = 80;
    const gen = (n: number, a: number) => Array.from({ length: n }, () => f16round(r32(rng.normal() * a)));
    const c: Case = { t, hq: 2, hkv: 1, d: 64, q: gen(t * 2 * 64, 0.3), k: gen(t * 64, 0.3), v: gen(t * 64, 2) };
    const o = runPrefill(c);
    const want: number[] = [];
    for (let tok = 0; tok < t; tok++)
      for (let h = 0; h < 2; h++) {
        const keys = Array.from({ length: tok + 1 }, (_, j) => row(c.k, 1, 64, j, 0));
        const vals = Array.from({ length: tok + 1 }, (_, j) => row(c.v, 1, 64, j, 0));
        want.push(...attendIndep(row(c.q, 2, 64, tok, h), keys, vals));
      }
    expect(o).toEqual(want);
  });

  it("is within a derived tolerance of float64 causal softmax attention", () => {
    // Tolerance per output element. u = 2^-24, c(n) = ⌈n/32⌉ + 5 = additions on one R32 path.
    // • Score: products of binary16 values are exact; the R32 dot errs ≤ c(D)·u·Σ|q·k|, sc = f32(1/f32(√D))
    //   errs ≤ 2u, the product 1u: |ŝ_j − s_j| ≤ (c(D) + 3.1)·u·A_j with A_j = Σ_d|q_d k_jd|/√D.
    // • e_j = expCanon(f32(ŝ_j − m)): the subtraction errs ≤ u·|ŝ_j − m|, expCanon ≤ 8u relative (measured
    //   max 1.65u over 4·10^6 inputs in [−86, 0]). The max m is a common shift and cancels in the ratio, so
    //   each weight is exp(s_j − m)·(1 + ρ_j), ρ_j ≤ (c(D) + 3.1)·u·A_j + 1.01u·|s_j − m| + 8u, and the
    //   normalized weights move by Σ|p̂ − p| ≤ 2.01·max ρ: |Δo| ≤ 2.01·max ρ·max|v|.
    // • Numerator Σ_R32 f32(e_j·v_jd) errs ≤ (c(n) + 1)·u·Σ e_j|v_jd|, l ≤ c(n)·u·l, the division u: together
    //   ≤ (2c(n) + 3)·u·max|v| on o.
    // • Final f16: ≤ ulp16/2 at |o| (taken at |o64| + the bound above, so a binade crossing is covered).
    fc.assert(
      fc.property(seedArb, (seed) => {
        const c = genCase(seed);
        const o = runPrefill(c).map(fromF16Bits);
        const g = c.hq / c.hkv;
        const cn = (n: number) => Math.ceil(n / 32) + 5;
        for (let tok = 0; tok < c.t; tok++)
          for (let h = 0; h < c.hq; h++) {
            const kh = Math.floor(h / g);
            const q = row(c.q, c.hq, c.d, tok, h);
            const n = tok + 1;
            const s: number[] = [];
            const a: number[] = [];
            for (let j = 0; j < n; j++) {
              const k = row(c.k, c.hkv, c.d, j, kh);
              s.push(q.reduce((acc, qd, i) => acc + qd * k[i]!, 0) / Math.sqrt(c.d));
              a.push(q.reduce((acc, qd, i) => acc + Math.abs(qd * k[i]!), 0) / Math.sqrt(c.d));
            }
            const m = Math.max(...s);
            const w = s.map((x) => Math.exp(x - m));
            const l = w.reduce((x, y) => x + y, 0);
            const rho = Math.max(...s.map((x, j) => (cn(c.d) + 3.1) * u * a[j]! + 1.01 * u * Math.abs(x - m) + 8 * u));
            for (let i = 0; i < c.d; i++) {
              const vcol = Array.from({ length: n }, (_, j) => c.v[(j * c.hkv + kh) * c.d + i]!);
              const o64 = w.reduce((acc, wj, j) => acc + wj * vcol[j]!, 0) / l;
              const vmax = Math.max(...vcol.map(Math.abs));
              const f32err = vmax * (2.01 * rho + (2 * cn(n) + 3) * u);
              const tol = f32err + ulp16(Math.abs(o64) + f32err) / 2;
              const got = o[(tok * c.hq + h) * c.d + i]!;
              if (!(Math.abs(got - o64) <= tol)) expect({ seed, tok, h, i, got, o64, tol }).toBeUndefined();
            }
          }
      }),
      propertyOptions(60),
    );
  });

  it("is causal: changing keys/values of token t' leaves every output row before t' bit-identical", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const c = genCase(seed);
        fc.pre(c.t >= 2);
        const rng = new Rng(seed ^ 0x5bd1e995);
        const tp = rng.int(1, c.t - 1);
        const k2 = c.k.slice();
        const v2 = c.v.slice();
        for (let i = tp * c.hkv * c.d; i < c.k.length; i++) {
          k2[i] = f16round(r32(rng.normal() * 4));
          v2[i] = f16round(r32(rng.normal() * 4));
        }
        const before = runPrefill(c);
        const after = runPrefill({ ...c, k: k2, v: v2 });
        const cut = tp * c.hq * c.d;
        expect(after.slice(0, cut)).toEqual(before.slice(0, cut));
      }),
      propertyOptions(40),
    );
    // And the change is visible from row t' on (flat scores, so token t' has real weight there).
    const flat: Case = { t: 3, hq: 1, hkv: 1, d: 2, q: new Array(6).fill(0.5), k: new Array(6).fill(0.5), v: [1, 2, 3, 4, 5, 6] };
    const changed = runPrefill({ ...flat, v: [1, 2, 3, 4, 50, 6] });
    expect(changed.slice(0, 4)).toEqual(runPrefill(flat).slice(0, 4));
    expect(changed[4]).not.toBe(runPrefill(flat)[4]);
  });

  it("GQA: HQ = HKV·g gives the same bits as repeating each KV head g times", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const c = genCase(seed);
        const g = c.hq / c.hkv;
        const rep = (x: number[]) => {
          const out: number[] = [];
          for (let tok = 0; tok < c.t; tok++) for (let h = 0; h < c.hq; h++) out.push(...row(x, c.hkv, c.d, tok, Math.floor(h / g)));
          return out;
        };
        expect(runPrefill({ ...c, hkv: c.hq, k: rep(c.k), v: rep(c.v) })).toEqual(runPrefill(c));
      }),
      propertyOptions(40),
    );
  });

  it("the first token attends only to itself: o = v (in value)", () => {
    const c = genCase(7);
    const o = runPrefill(c).map(fromF16Bits);
    const g = c.hq / c.hkv;
    for (let h = 0; h < c.hq; h++) {
      const want = row(c.v, c.hkv, c.d, 0, Math.floor(h / g));
      expect(o.slice(h * c.d, (h + 1) * c.d).every((x, i) => x === want[i])).toBe(true);
    }
  });

  it("rejects HQ not a multiple of HKV and non-finite inputs with typed errors", () => {
    const mk = (t: number, h: number, d: number) => fromNumbers("f16", [t, h, d], new Array(t * h * d).fill(1));
    expect(() => runReference("attention_prefill", { q: mk(2, 3, 4), k: mk(2, 2, 4), v: mk(2, 2, 4) })).toThrowError(ShapeError);
    expect(() => runReference("attention_prefill", { q: mk(2, 3, 4), k: mk(2, 2, 4), v: mk(2, 2, 4) })).toThrowError(/'q' has HQ = 3.*HKV = 2/);
    const v = mk(2, 1, 4);
    (v.data as Uint16Array)[6] = 0x7e00;
    expect(() => runReference("attention_prefill", { q: mk(2, 2, 4), k: mk(2, 1, 4), v })).toThrowError(NonFiniteError);
    expect(() => runReference("attention_prefill", { q: mk(2, 2, 4), k: mk(2, 1, 4), v })).toThrowError(/tensor 'v'.*index 6/);
  });
});
