import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NonFiniteError, ParamError, propertyOptions, RangeViolationError, Rng, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";

type Style = "rotate_half" | "interleaved";

/** The test's own RoPE pairing: rotate_half (i, i + D/2), interleaved (2i, 2i + 1). */
function pairOf(i: number, d: number, style: Style): [number, number] {
  return style === "rotate_half" ? [i, i + d / 2] : [2 * i, 2 * i + 1];
}

function partnerOf(j: number, d: number, style: Style): number {
  if (style === "interleaved") return j % 2 === 0 ? j + 1 : j - 1;
  return j < d / 2 ? j + d / 2 : j - d / 2;
}

/** In place, float64 RoPE (base 10000) of each head of `heads` heads × d at `v[off …]`, at position `pos`. */
function rope(v: Float64Array, off: number, heads: number, d: number, pos: number, style: Style): void {
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < d / 2; i++) {
      const theta = pos * Math.pow(10000, (-2 * i) / d);
      const [a, b] = pairOf(i, d, style).map((p) => off + h * d + p) as [number, number];
      const x0 = v[a]!;
      const x1 = v[b]!;
      v[a] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
      v[b] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
    }
  }
}

/** Post-RoPE projections `RoPE(W·x_t)` for each token: T × rows (float64), plus Σ_c |W||x| per entry. */
function project(w: ArrayLike<number>, rows: number, c: number, x: Float64Array, pos: number[], d: number, style: Style): { y: Float64Array; mag: Float64Array } {
  const t = pos.length;
  const y = new Float64Array(t * rows);
  const mag = new Float64Array(t * rows);
  for (let tok = 0; tok < t; tok++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      let m = 0;
      for (let i = 0; i < c; i++) {
        s += w[r * c + i]! * x[tok * c + i]!;
        m += Math.abs(w[r * c + i]! * x[tok * c + i]!);
      }
      y[tok * rows + r] = s;
      mag[tok * rows + r] = m;
    }
    rope(y, tok * rows, rows / d, d, pos[tok]!, style);
  }
  return { y, mag };
}

function gaussian(rng: Rng, n: number): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return v;
}

/** Per-channel max |·| over tokens, rounded to binary32 as the calibration statistic is stored. */
function channelMax(y: Float64Array, t: number, rows: number): { f64: Float64Array; f32: Float32Array } {
  const m = new Float64Array(rows);
  for (let tok = 0; tok < t; tok++) for (let r = 0; r < rows; r++) m[r] = Math.max(m[r]!, Math.abs(y[tok * rows + r]!));
  return { f64: m, f32: Float32Array.from(m) };
}

const caseArb = fc.record({
  kvHeads: fc.integer({ min: 1, max: 3 }),
  group: fc.integer({ min: 1, max: 3 }),
  d: fc.constantFrom(2, 4, 8, 16),
  c: fc.integer({ min: 1, max: 24 }),
  tokens: fc.integer({ min: 1, max: 6 }),
  style: fc.constantFrom<Style>("rotate_half", "interleaved"),
  alpha: fc.double({ min: 0, max: 1, noNaN: true }),
  beta: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
  seed: fc.integer(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Random GQA weights with a few key outlier rows, calibration tokens, and the maxima they give. */
function build(cs: Case) {
  const rng = new Rng(cs.seed);
  const heads = cs.kvHeads * cs.group;
  const nq = heads * cs.d;
  const nk = cs.kvHeads * cs.d;
  const wq = gaussian(rng, nq * cs.c);
  const wk = gaussian(rng, nk * cs.c);
  // Outlier key channels (×30) are what SmoothAttention exists for.
  for (let r = 0; r < nk; r++) if (rng.float() < 0.25) for (let i = 0; i < cs.c; i++) wk[r * cs.c + i]! *= 30;
  const x = gaussian(rng, cs.tokens * cs.c);
  const pos = Array.from({ length: cs.tokens }, () => rng.int(0, 2000));
  const q = project(wq, nq, cs.c, x, pos, cs.d, cs.style);
  const k = project(wk, nk, cs.c, x, pos, cs.d, cs.style);
  const kmax = channelMax(k.y, cs.tokens, nk);
  const qmax = channelMax(q.y, cs.tokens, nq);
  return { heads, nq, nk, wq, wk, x, pos, q, k, kmax, qmax };
}

function run(cs: Case, b: ReturnType<typeof build>, dtype: "f32" | "f64" = "f64"): NamedTensors {
  const w = (v: Float64Array, rows: number) => (dtype === "f64" ? tensor("f64", [rows, cs.c], v) : tensor("f32", [rows, cs.c], Float32Array.from(v)));
  return runReference(
    "smooth_attention",
    { wq: w(b.wq, b.nq), wk: w(b.wk, b.nk), kmax: tensor("f32", [b.nk], b.kmax.f32), qmax: tensor("f32", [b.nq], b.qmax.f32) },
    { heads: b.heads, kv_heads: cs.kvHeads, alpha: cs.alpha, beta: cs.beta, style: cs.style },
  );
}

describe("smooth_attention", () => {
  it("leaves every post-RoPE attention logit q·k unchanged (GQA, both RoPE styles; rel 1e-12) and λ is equal on each RoPE pair", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b = build(cs);
        const out = run(cs, b);
        const lambda = out.lambda!.data as Float64Array;
        for (let j = 0; j < b.nk; j++) {
          const g = Math.floor(j / cs.d);
          expect(lambda[j]).toBe(lambda[g * cs.d + partnerOf(j % cs.d, cs.d, cs.style)]);
        }
        const q2 = project(out.wq!.data as Float64Array, b.nq, cs.c, b.x, b.pos, cs.d, cs.style).y;
        const k2 = project(out.wk!.data as Float64Array, b.nk, cs.c, b.x, b.pos, cs.d, cs.style).y;
        const T = cs.tokens;
        const bad: string[] = [];
        for (let tq = 0; tq < T; tq++) for (let tk = 0; tk < T; tk++) for (let h = 0; h < b.heads; h++) {
          const g = Math.floor(h / cs.group);
          let before = 0;
          let after = 0;
          let scale = 0;
          for (let j = 0; j < cs.d; j++) {
            const qi = tq * b.nq + h * cs.d + j;
            const ki = tk * b.nk + g * cs.d + j;
            before += b.q.y[qi]! * b.k.y[ki]!;
            after += q2[qi]! * k2[ki]!;
            // Rounding scales with Σ|w||x| of both pair members (RoPE mixes them), not with the logit itself.
            const p = partnerOf(j, cs.d, cs.style) - j;
            scale += (b.q.mag[qi]! + b.q.mag[qi + p]!) * (b.k.mag[ki]! + b.k.mag[ki + p]!);
          }
          if (!(Math.abs(after - before) <= 1e-12 * scale)) bad.push(`logit (tq=${tq}, tk=${tk}, h=${h}): ${before} → ${after}`);
        }
        expect(bad.slice(0, 3)).toEqual([]);
      }),
      propertyOptions(150),
    );
  });

  it("computes λ = kbase^α / qbase^β with pair and group maxima, and scales Wq rows ×λ[g(h)], Wk rows ÷λ exactly", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b = build(cs);
        const out = run(cs, b);
        const lambda = out.lambda!.data as Float64Array;
        const d = cs.d;
        for (let g = 0; g < cs.kvHeads; g++) for (let j = 0; j < d; j++) {
          const p = partnerOf(j, d, cs.style);
          const kbase = Math.max(b.kmax.f32[g * d + j]!, b.kmax.f32[g * d + p]!);
          let qbase = 0;
          for (let h = g * cs.group; h < (g + 1) * cs.group; h++) qbase = Math.max(qbase, b.qmax.f32[h * d + j]!, b.qmax.f32[h * d + p]!);
          let want = Math.pow(kbase, cs.alpha) / Math.pow(qbase, cs.beta);
          if (want === 0 || !Number.isFinite(want)) want = 1;
          // Math.pow is not required to be correctly rounded (the op uses sqrt at α = 0.5): allow 2 ulp.
          expect(Math.abs(lambda[g * d + j]! - want)).toBeLessThanOrEqual(2 * Number.EPSILON * want);
        }
        const wq = out.wq!.data as Float64Array;
        const wk = out.wk!.data as Float64Array;
        for (let h = 0; h < b.heads; h++) for (let j = 0; j < d; j++) for (let i = 0; i < cs.c; i++) {
          const r = (h * d + j) * cs.c + i;
          if (wq[r] !== b.wq[r]! * lambda[Math.floor(h / cs.group) * d + j]!) expect.fail(`wq[${r}]`);
        }
        for (let r = 0; r < b.nk; r++) for (let i = 0; i < cs.c; i++) {
          if (wk[r * cs.c + i] !== b.wk[r * cs.c + i]! / lambda[r]!) expect.fail(`wk[${r * cs.c + i}]`);
        }
      }),
      propertyOptions(100),
    );
  });

  it("shrinks the key outlier channels: new max|K_j| ≤ √kmax_j (α = 0.5, β = 0), strictly smaller where kmax is large", () => {
    fc.assert(
      fc.property(caseArb, (cs0) => {
        const cs = { ...cs0, alpha: 0.5, beta: 0 };
        const b = build(cs);
        const out = run(cs, b);
        const k2 = project(out.wk!.data as Float64Array, b.nk, cs.c, b.x, b.pos, cs.d, cs.style).y;
        const after = channelMax(k2, cs.tokens, b.nk).f64;
        let maxBefore = 0;
        let maxAfter = 0;
        for (let j = 0; j < b.nk; j++) {
          const before = b.kmax.f64[j]!;
          // λ_j ≥ √kmax_j (pair max, rounded to f32 ⇒ ±2^-24 relative); float64 noise is far below 1e-6.
          expect(after[j]!).toBeLessThanOrEqual(Math.sqrt(before) * (1 + 1e-6));
          if (before >= 4) expect(after[j]!).toBeLessThan(before);
          maxBefore = Math.max(maxBefore, before);
          maxAfter = Math.max(maxAfter, after[j]!);
        }
        expect(maxAfter).toBeLessThanOrEqual(Math.sqrt(maxBefore) * (1 + 1e-6));
      }),
      propertyOptions(100),
    );
  });

  it("hand-checked λ: pairs per RoPE style, β with qmax over the GQA group, and query heads mapped by ⌊h / group⌋", () => {
    const ones = (rows: number, c: number) => tensor("f64", [rows, c], new Float64Array(rows * c).fill(1));
    const kmax = tensor("f32", [4], Float32Array.from([4, 1, 9, 16]));
    const lam = (style: Style, extra: NamedTensors = {}, alpha = 0.5, beta = 0) =>
      Array.from(runReference("smooth_attention", { wq: ones(8, 1), wk: ones(4, 1), kmax, ...extra }, { heads: 2, kv_heads: 1, alpha, beta, style }).lambda!.data as Float64Array);
    expect(lam("rotate_half")).toEqual([3, 4, 3, 4]); // kbase = [9, 16, 9, 16]
    expect(lam("interleaved")).toEqual([2, 2, 4, 4]); // kbase = [4, 4, 16, 16]
    const qmax = tensor("f32", [8], Float32Array.from([1, 2, 1, 1, 4, 1, 1, 1]));
    // α = β = 1, rotate_half: qbase over heads {0, 1} and pair {j, j+2} = [4, 2, 4, 2].
    expect(lam("rotate_half", { qmax }, 1, 1)).toEqual([9 / 4, 8, 9 / 4, 8]);
    // GQA: 4 query heads, 2 KV heads, D = 2: heads 0, 1 use KV head 0 (λ = 2), heads 2, 3 use KV head 1 (λ = 4).
    const out = runReference(
      "smooth_attention",
      { wq: ones(8, 1), wk: ones(4, 1), kmax: tensor("f32", [4], Float32Array.from([4, 4, 16, 16])) },
      { heads: 4, kv_heads: 2, alpha: 0.5, beta: 0 },
    );
    expect(Array.from(out.wq!.data as Float64Array)).toEqual([2, 2, 2, 2, 4, 4, 4, 4]);
    expect(Array.from(out.wk!.data as Float64Array)).toEqual([0.5, 0.5, 0.25, 0.25]);
  });

  it("a λ that would be 0, NaN or ∞ becomes 1 (zero kmax, zero qmax with β > 0)", () => {
    const w = (rows: number) => tensor("f64", [rows, 2], Float64Array.from({ length: rows * 2 }, (_, i) => i + 0.5));
    const kmax = tensor("f32", [4], Float32Array.from([0, 0, 9, 9]));
    const qmax = tensor("f32", [4], Float32Array.from([1, 1, 0, 0]));
    const out = runReference("smooth_attention", { wq: w(4), wk: w(4), kmax, qmax }, { heads: 1, kv_heads: 1, alpha: 0.5, beta: 0.5, style: "interleaved" });
    // pair (0,1): 0^0.5 / 1 = 0 → 1; pair (2,3): 3 / 0 = ∞ → 1.
    expect(Array.from(out.lambda!.data as Float64Array)).toEqual([1, 1, 1, 1]);
    expect(Array.from(out.wq!.data as Float64Array)).toEqual(Array.from(w(4).data as Float64Array));
    expect(Array.from(out.wk!.data as Float64Array)).toEqual(Array.from(w(4).data as Float64Array));
  });

  it("returns binary32 weights rounded once from the float64 result", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b = build(cs);
        // Make the f64 run see exactly the binary32 inputs.
        const b32 = { ...b, wq: Float64Array.from(Float32Array.from(b.wq)), wk: Float64Array.from(Float32Array.from(b.wk)) };
        const o32 = run(cs, b32, "f32");
        const o64 = run(cs, b32, "f64");
        expect(o32.wq!.dtype).toBe("f32");
        expect(Array.from(o32.wq!.data as Float32Array)).toEqual(Array.from(o64.wq!.data as Float64Array, Math.fround));
        expect(Array.from(o32.wk!.data as Float32Array)).toEqual(Array.from(o64.wk!.data as Float64Array, Math.fround));
        expect(Array.from(o32.lambda!.data as Float64Array)).toEqual(Array.from(o64.lambda!.data as Float64Array));
      }),
      propertyOptions(40),
    );
  });

  it("rejects bad shapes, parameters and values with typed errors", () => {
    const z = (rows: number, c = 2) => tensor("f64", [rows, c], new Float64Array(rows * c));
    const m = (n: number, v = 1) => tensor("f32", [n], new Float32Array(n).fill(v));
    const sa = (inputs: NamedTensors, params: Record<string, number | string>) => () => runReference("smooth_attention", inputs, params);
    // kv_heads must divide heads.
    expect(sa({ wq: z(12), wk: z(8), kmax: m(8) }, { heads: 3, kv_heads: 2 })).toThrowError(ParamError);
    // NQ must be heads · D (D = 8 / 2 = 4, so 8 rows expected, not 12).
    expect(sa({ wq: z(12), wk: z(8), kmax: m(8) }, { heads: 2, kv_heads: 2 })).toThrowError(ShapeError);
    expect(sa({ wq: z(12), wk: z(8), kmax: m(8) }, { heads: 2, kv_heads: 2 })).toThrowError(/NQ = 12.*2 · 4 = 8/);
    // Odd head_dim (6 / 2 = 3) cannot hold RoPE pairs.
    expect(sa({ wq: z(6), wk: z(6), kmax: m(6) }, { heads: 2, kv_heads: 2 })).toThrowError(/head_dim.*3 is odd/);
    // NK not a multiple of kv_heads.
    expect(sa({ wq: z(10), wk: z(5), kmax: m(5) }, { heads: 2, kv_heads: 2 })).toThrowError(ShapeError);
    // kmax length must match wk's rows (bound by the signature's NK).
    expect(sa({ wq: z(8), wk: z(8), kmax: m(6) }, { heads: 2, kv_heads: 2 })).toThrowError(ShapeError);
    // β ≠ 0 needs qmax.
    expect(sa({ wq: z(8), wk: z(8), kmax: m(8) }, { heads: 2, kv_heads: 2, beta: 0.5 })).toThrowError(ParamError);
    // NaN weights, NaN and negative maxima.
    const nanW = z(8);
    (nanW.data as Float64Array)[3] = NaN;
    expect(sa({ wq: nanW, wk: z(8), kmax: m(8) }, { heads: 2, kv_heads: 2 })).toThrowError(NonFiniteError);
    expect(sa({ wq: nanW, wk: z(8), kmax: m(8) }, { heads: 2, kv_heads: 2 })).toThrowError(/tensor 'wq'.*index 3/);
    const negK = m(8);
    (negK.data as Float32Array)[2] = -1;
    expect(sa({ wq: z(8), wk: z(8), kmax: negK }, { heads: 2, kv_heads: 2 })).toThrowError(RangeViolationError);
    expect(sa({ wq: z(8), wk: z(8), kmax: negK }, { heads: 2, kv_heads: 2 })).toThrowError(/tensor 'kmax'.*index 2/);
    const nanQ = m(8);
    (nanQ.data as Float32Array)[7] = NaN;
    // qmax is validated even when β = 0 does not use it.
    expect(sa({ wq: z(8), wk: z(8), kmax: m(8), qmax: nanQ }, { heads: 2, kv_heads: 2 })).toThrowError(/tensor 'qmax'.*index 7/);
  });
});
