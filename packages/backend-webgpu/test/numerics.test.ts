/**
 * The exact numerics of `kernels/wgsl/common.wgsl`, run on the GPU and compared bit for bit with
 * `@qoq/core` (whose binary32 helpers are IEEE operations, round to nearest even): integer long
 * division and square root, f32 → f16 rounding, i32 → f32 conversion, round-half-even, the
 * canonical exp, soft multiply/add with subnormals — and the device's own f32 multiply/add (which
 * the kernels use for normal operands), including that a product is never fused into an FMA.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expCanon, fromF16Bits, fromF32Bits, rne, Rng, toF16Bits, toF32Bits } from "@qoq/core";
import type { ProbeFunction, WebGpuBackend } from "../src/index.js";
import { SEED, startBackend } from "./setup.js";

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await startBackend();
});
afterAll(async () => {
  await gpu?.dispose();
});

const f = Math.fround;
const bits = (xs: ArrayLike<number>) => Uint32Array.from(Array.from(xs, (x) => toF32Bits(x)));
const finiteF16 = (): number[] => {
  const out: number[] = [];
  for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00) out.push(h);
  return out;
};

/** Run `fn` on the GPU over (a, b) and compare each result's bits with `want`; report the first few misses. */
async function check(fn: ProbeFunction, a: Uint32Array, b: Uint32Array, want: (a: number, b: number, i: number) => number, decode: "f32" | "raw" = "f32"): Promise<void> {
  const got = await gpu.probe(fn, a, b);
  const misses: string[] = [];
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    const w = want(fromF32Bits(a[i]!), fromF32Bits(b[i]!), i) >>> 0;
    if (got[i] !== w) {
      count++;
      if (misses.length < 5) misses.push(`${fn}(0x${a[i]!.toString(16)}, 0x${b[i]!.toString(16)}): got 0x${got[i]!.toString(16)} (${decode === "f32" ? fromF32Bits(got[i]!) : got[i]}), want 0x${w.toString(16)} (${decode === "f32" ? fromF32Bits(w) : w})`);
    }
  }
  expect(misses.join("\n"), `${count} of ${a.length} differ`).toBe("");
}

/** Random binary32 bit patterns: finite, both signs, every exponent (subnormals included). */
function randomF32(rng: Rng, n: number, opts: { minExp?: number; maxExp?: number; positive?: boolean } = {}): Uint32Array {
  const out = new Uint32Array(n);
  const lo = opts.minExp ?? 0;
  const hi = opts.maxExp ?? 254;
  for (let i = 0; i < n; i++) {
    const e = rng.int(lo, hi);
    const m = rng.int(0, 0x7fffff);
    const s = opts.positive || rng.float() < 0.5 ? 0 : 0x80000000;
    out[i] = (s | (e << 23) | m) >>> 0;
  }
  return out;
}

describe("exact WGSL numerics on the device", () => {
  it("div_rn is the correctly rounded quotient (random, subnormal, the ops' own divisions, near-ties)", async () => {
    const rng = new Rng(SEED);
    const a: number[] = [];
    const b: number[] = [];
    const ra = randomF32(rng, 20000);
    const rb = randomF32(rng, 20000);
    for (let i = 0; i < ra.length; i++) if (rb[i]! & 0x7fffffff) (a.push(ra[i]!), b.push(rb[i]!));
    // Every positive finite binary16 amax: amax/127, 127/amax, amax/119, range/15, 1/scale.
    for (const h of finiteF16()) {
      const v = fromF16Bits(h);
      if (!(v > 0)) continue;
      for (const [x, y] of [[v, 127], [127, v], [v, 119], [v, 15], [1, v]] as const) (a.push(toF32Bits(x)), b.push(toF32Bits(y)));
    }
    // Near-ties: a = q·b with q one half-ULP step off a representable quotient, for small-significand b.
    for (let i = 0; i < 5000; i++) {
      const q = f(1 + rng.int(0, 0x7fffff) * 2 ** -23);
      const bv = (rng.int(1, 4095) | 1) * 2 ** rng.int(-30, 30);
      const av = f(q * bv);
      a.push(toF32Bits(av), toF32Bits(av), toF32Bits(f(av * (1 + 2 ** -23))));
      b.push(toF32Bits(bv), toF32Bits(f(bv * (1 + 2 ** -23))), toF32Bits(bv));
    }
    // Results in the subnormal range and at its boundary.
    for (let i = 0; i < 3000; i++) (a.push(toF32Bits(f(rng.float() * 2 ** -120))), b.push(toF32Bits(f(1 + rng.float() * 2 ** rng.int(5, 28)))));
    await check("div_rn", Uint32Array.from(a), Uint32Array.from(b), (x, y) => toF32Bits(f(x / y)));
  });

  it("sqrt_rn is the correctly rounded square root (random, subnormal, squares and their neighbours)", async () => {
    const rng = new Rng(SEED + 1);
    const a = Array.from(randomF32(rng, 30000, { positive: true }));
    for (let i = 0; i < 5000; i++) {
      const r = f(1 + rng.int(0, 0x7fffff) * 2 ** -23) * 2 ** rng.int(-70, 60);
      const sq = f(r * r);
      a.push(toF32Bits(sq), toF32Bits(sq) + 1, Math.max(1, toF32Bits(sq) - 1));
    }
    for (let i = 1; i < 5000; i++) a.push(i); // subnormals 1..4999 ulps
    await check("sqrt_rn", Uint32Array.from(a), new Uint32Array(a.length), (x) => toF32Bits(f(Math.sqrt(x))));
  });

  it("f32_to_f16 rounds to nearest even: every binary16 midpoint, its neighbours, subnormals, overflow", async () => {
    const a: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const lo = fromF16Bits(h);
      const hi = fromF16Bits(h + 1);
      const mid = (lo + hi) / 2; // exact in binary32
      const m = toF32Bits(mid);
      for (const s of [0, 0x80000000]) a.push((m | s) >>> 0, ((m + 1) | s) >>> 0, ((m - 1) | s) >>> 0, (toF32Bits(lo) | s) >>> 0);
    }
    for (const v of [65504, 65519.996, 65520, 65536, 1e10, 3.4e38, 2 ** -25, 2 ** -26, 3 * 2 ** -26, 1e-30, 1e-45]) for (const s of [1, -1]) a.push(toF32Bits(s * v));
    const rng = new Rng(SEED + 2);
    a.push(...randomF32(rng, 20000));
    await check("f32_to_f16", Uint32Array.from(a), new Uint32Array(a.length), (x) => toF16Bits(x), "raw");
  });

  it("f16_to_f32 decodes every finite binary16 exactly", async () => {
    const h = Uint32Array.from(finiteF16());
    await check("f16_to_f32", h, new Uint32Array(h.length), (_x, _y, i) => toF32Bits(fromF16Bits(h[i]!)));
  });

  it("i32_to_f32 rounds large accumulators to nearest even (ties above 2^24)", async () => {
    const rng = new Rng(SEED + 3);
    const v: number[] = [0, 1, -1, 2 ** 24, 2 ** 24 + 1, 2 ** 24 + 3, 2 ** 25 + 2, 2 ** 25 + 6, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) + 1, 2 ** 30 + 64, 2 ** 30 + 192];
    for (let e = 24; e < 31; e++) for (let k = 0; k < 200; k++) {
      const base = 2 ** e + rng.int(0, 2 ** e - 1);
      const ulp = 2 ** (e - 23);
      const t = base - (base % ulp) + ulp / 2; // a tie
      for (const x of [t, t - 1, t + 1]) if (x < 2 ** 31) v.push(x, -x);
    }
    for (let i = 0; i < 5000; i++) v.push(rng.int(-(2 ** 31), 2 ** 31 - 1));
    const a = Uint32Array.from(v, (x) => x >>> 0);
    await check("i32_to_f32", a, new Uint32Array(a.length), (_x, _y, i) => toF32Bits(f(v[i]!)));
  });

  it("rne_clamp rounds half to even", async () => {
    const v: number[] = [];
    for (let i = -300; i <= 300; i++) v.push(i / 2, i / 2 + 2 ** -10, i / 2 - 2 ** -10, i / 4);
    v.push(8388607.5, 8388608, 4194303.5, -4194302.5, 0.49999997, -0.5, 0.5, 1.5, 2.5);
    const a = bits(v);
    await check("rne", a, new Uint32Array(a.length), (x) => rne(x) | 0, "raw");
  });

  it("exp_canon reproduces core's expCanon for every binary16 input", async () => {
    const a = Uint32Array.from(finiteF16().map((h) => toF32Bits(fromF16Bits(h))).filter((b) => Math.abs(fromF32Bits(b)) <= 88 || fromF32Bits(b) < -86));
    await check("exp_canon", a, new Uint32Array(a.length), (x) => toF32Bits(expCanon(x)));
  });

  it("mul_rn and add_rn (integer soft-float) are correctly rounded, subnormals included", async () => {
    const rng = new Rng(SEED + 4);
    const a = randomF32(rng, 20000);
    const b = randomF32(rng, 20000);
    // Bring half of the pairs close in exponent so sums cancel and products land near the subnormal range.
    for (let i = 0; i < a.length; i += 2) b[i] = ((b[i]! & 0x807fffff) | (a[i]! & 0x7f800000)) >>> 0;
    for (let i = 1; i < a.length; i += 4) (a[i] = randomF32(rng, 1, { maxExp: 60 })[0]!), (b[i] = randomF32(rng, 1, { minExp: 40, maxExp: 90 })[0]!);
    await check("mul_rn", a, b, (x, y) => toF32Bits(f(x * y)));
    await check("add_rn", a, b, (x, y) => toF32Bits(f(x + y)));
  });

  it("the device's f32 multiply and add are IEEE round-to-nearest on normal operands, and products are not fused", async () => {
    const rng = new Rng(SEED + 5);
    const a = randomF32(rng, 20000, { minExp: 64, maxExp: 190 });
    const b = randomF32(rng, 20000, { minExp: 64, maxExp: 190 });
    await check("mul_hw", a, b, (x, y) => toF32Bits(f(x * y)));
    await check("add_hw", a, b, (x, y) => toF32Bits(f(x + y)));
    // f32(a·b) − f32(a·a): a fused multiply-add would keep the low bits of one product.
    const c = randomF32(rng, 20000, { minExp: 100, maxExp: 150 });
    const d = Uint32Array.from(c, (x) => (x ^ 1) >>> 0);
    await check("sub_hw", c, d, (x, y) => toF32Bits(f(f(x * y) - f(x * x))));
  });
});
