/**
 * The cases of the exact-numerics probes of `kernels/wgsl/common.wgsl` (run on the device through
 * `WebGpuBackend.probe` and compared bit for bit with `@qoq/core`, whose binary32 helpers are IEEE
 * operations, round to nearest even): integer long division and square root, f32 → f16 rounding,
 * i32 → f32 conversion, round-half-even, the canonical exp, soft multiply/add with subnormals, and
 * the device's own f32 multiply/add (which the kernels use for normal operands), including that a
 * product is never fused into an FMA. Shared by `numerics.test.ts` (Dawn in Node) and the browser
 * page (`browser/page.ts`), so both WebGPU implementations face the same inputs.
 */
import { expCanon, fromF16Bits, fromF32Bits, rne, Rng, toF16Bits, toF32Bits } from "@qoq/core";
import type { ProbeFunction, WebGpuBackend } from "../src/browser.js";

/** One probe: `fn` over the pairs (a[i], b[i]); `want` gives the expected result bits of pair i. */
export interface ProbeCheck {
  readonly fn: ProbeFunction;
  readonly a: Uint32Array;
  readonly b: Uint32Array;
  readonly want: (a: number, b: number, i: number) => number;
  /** How to print a result in a miss: as a binary32 value or as the raw integer. */
  readonly decode: "f32" | "raw";
}

/** A titled group of probes (one test). */
export interface ProbeGroup {
  readonly title: string;
  readonly checks: (seed: number) => ProbeCheck[];
}

/** How a probe went: how many results differ, and the first few, readable. */
export interface ProbeOutcome {
  readonly fn: ProbeFunction;
  readonly total: number;
  readonly differ: number;
  readonly misses: readonly string[];
}

function probe(fn: ProbeFunction, a: Uint32Array, b: Uint32Array, want: ProbeCheck["want"], decode: "f32" | "raw" = "f32"): ProbeCheck {
  return { fn, a, b, want, decode };
}

/** Run one probe on the device and compare each result's bits with `want`. */
export async function runProbe(gpu: WebGpuBackend, c: ProbeCheck): Promise<ProbeOutcome> {
  const got = await gpu.probe(c.fn, c.a, c.b);
  const misses: string[] = [];
  let differ = 0;
  const show = (v: number) => (c.decode === "f32" ? fromF32Bits(v) : v);
  for (let i = 0; i < c.a.length; i++) {
    const w = c.want(fromF32Bits(c.a[i]!), fromF32Bits(c.b[i]!), i) >>> 0;
    if (got[i] !== w) {
      differ++;
      if (misses.length < 5) misses.push(`${c.fn}(0x${c.a[i]!.toString(16)}, 0x${c.b[i]!.toString(16)}): got 0x${got[i]!.toString(16)} (${show(got[i]!)}), want 0x${w.toString(16)} (${show(w)})`);
    }
  }
  return { fn: c.fn, total: c.a.length, differ, misses };
}

const f = Math.fround;
const bits = (xs: ArrayLike<number>) => Uint32Array.from(Array.from(xs, (x) => toF32Bits(x)));
const finiteF16 = (): number[] => {
  const out: number[] = [];
  for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00) out.push(h);
  return out;
};

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

/** The probe groups, in test order. */
export const PROBE_GROUPS: readonly ProbeGroup[] = [
  {
    title: "div_rn is the correctly rounded quotient (random, subnormal, the ops' own divisions, near-ties)",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const rng = new Rng(seed);
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
      checks.push(probe("div_rn", Uint32Array.from(a), Uint32Array.from(b), (x, y) => toF32Bits(f(x / y))));
      return checks;
    },
  },
  {
    title: "sqrt_rn is the correctly rounded square root (random, subnormal, squares and their neighbours)",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const rng = new Rng(seed + 1);
      const a = Array.from(randomF32(rng, 30000, { positive: true }));
      for (let i = 0; i < 5000; i++) {
        const r = f(1 + rng.int(0, 0x7fffff) * 2 ** -23) * 2 ** rng.int(-70, 60);
        const sq = f(r * r);
        a.push(toF32Bits(sq), toF32Bits(sq) + 1, Math.max(1, toF32Bits(sq) - 1));
      }
      for (let i = 1; i < 5000; i++) a.push(i); // subnormals 1..4999 ulps
      checks.push(probe("sqrt_rn", Uint32Array.from(a), new Uint32Array(a.length), (x) => toF32Bits(f(Math.sqrt(x)))));
      return checks;
    },
  },
  {
    title: "f32_to_f16 rounds to nearest even: every binary16 midpoint, its neighbours, subnormals, overflow",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const a: number[] = [];
      for (let h = 0; h < 0x7bff; h++) {
        const lo = fromF16Bits(h);
        const hi = fromF16Bits(h + 1);
        const mid = (lo + hi) / 2; // exact in binary32
        const m = toF32Bits(mid);
        for (const s of [0, 0x80000000]) a.push((m | s) >>> 0, ((m + 1) | s) >>> 0, ((m - 1) | s) >>> 0, (toF32Bits(lo) | s) >>> 0);
      }
      for (const v of [65504, 65519.996, 65520, 65536, 1e10, 3.4e38, 2 ** -25, 2 ** -26, 3 * 2 ** -26, 1e-30, 1e-45]) for (const s of [1, -1]) a.push(toF32Bits(s * v));
      const rng = new Rng(seed + 2);
      a.push(...randomF32(rng, 20000));
      checks.push(probe("f32_to_f16", Uint32Array.from(a), new Uint32Array(a.length), (x) => toF16Bits(x), "raw"));
      return checks;
    },
  },
  {
    title: "f16_to_f32 decodes every finite binary16 exactly",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const h = Uint32Array.from(finiteF16());
      checks.push(probe("f16_to_f32", h, new Uint32Array(h.length), (_x, _y, i) => toF32Bits(fromF16Bits(h[i]!))));
      return checks;
    },
  },
  {
    title: "i32_to_f32 rounds large accumulators to nearest even (ties above 2^24)",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const rng = new Rng(seed + 3);
      const v: number[] = [0, 1, -1, 2 ** 24, 2 ** 24 + 1, 2 ** 24 + 3, 2 ** 25 + 2, 2 ** 25 + 6, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) + 1, 2 ** 30 + 64, 2 ** 30 + 192];
      for (let e = 24; e < 31; e++) for (let k = 0; k < 200; k++) {
        const base = 2 ** e + rng.int(0, 2 ** e - 1);
        const ulp = 2 ** (e - 23);
        const t = base - (base % ulp) + ulp / 2; // a tie
        for (const x of [t, t - 1, t + 1]) if (x < 2 ** 31) v.push(x, -x);
      }
      for (let i = 0; i < 5000; i++) v.push(rng.int(-(2 ** 31), 2 ** 31 - 1));
      const a = Uint32Array.from(v, (x) => x >>> 0);
      checks.push(probe("i32_to_f32", a, new Uint32Array(a.length), (_x, _y, i) => toF32Bits(f(v[i]!))));
      return checks;
    },
  },
  {
    title: "rne_clamp rounds half to even",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const v: number[] = [];
      for (let i = -300; i <= 300; i++) v.push(i / 2, i / 2 + 2 ** -10, i / 2 - 2 ** -10, i / 4);
      v.push(8388607.5, 8388608, 4194303.5, -4194302.5, 0.49999997, -0.5, 0.5, 1.5, 2.5);
      const a = bits(v);
      checks.push(probe("rne", a, new Uint32Array(a.length), (x) => rne(x) | 0, "raw"));
      return checks;
    },
  },
  {
    title: "exp_canon reproduces core's expCanon for every binary16 input",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const a = Uint32Array.from(finiteF16().map((h) => toF32Bits(fromF16Bits(h))).filter((b) => Math.abs(fromF32Bits(b)) <= 88 || fromF32Bits(b) < -86));
      checks.push(probe("exp_canon", a, new Uint32Array(a.length), (x) => toF32Bits(expCanon(x))));
      return checks;
    },
  },
  {
    title: "mul_rn and add_rn (integer soft-float) are correctly rounded, subnormals included",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const rng = new Rng(seed + 4);
      const a = randomF32(rng, 20000);
      const b = randomF32(rng, 20000);
      // Bring half of the pairs close in exponent so sums cancel and products land near the subnormal range.
      for (let i = 0; i < a.length; i += 2) b[i] = ((b[i]! & 0x807fffff) | (a[i]! & 0x7f800000)) >>> 0;
      for (let i = 1; i < a.length; i += 4) (a[i] = randomF32(rng, 1, { maxExp: 60 })[0]!), (b[i] = randomF32(rng, 1, { minExp: 40, maxExp: 90 })[0]!);
      checks.push(probe("mul_rn", a, b, (x, y) => toF32Bits(f(x * y))));
      checks.push(probe("add_rn", a, b, (x, y) => toF32Bits(f(x + y))));
      return checks;
    },
  },
  {
    title: "the device's f32 multiply and add are IEEE round-to-nearest on normal operands, and products are not fused",
    checks(seed) {
      const checks: ProbeCheck[] = [];
      const rng = new Rng(seed + 5);
      const a = randomF32(rng, 20000, { minExp: 64, maxExp: 190 });
      const b = randomF32(rng, 20000, { minExp: 64, maxExp: 190 });
      checks.push(probe("mul_hw", a, b, (x, y) => toF32Bits(f(x * y))));
      checks.push(probe("add_hw", a, b, (x, y) => toF32Bits(f(x + y))));
      // f32(a·b) − f32(a·a): a fused multiply-add would keep the low bits of one product.
      const c = randomF32(rng, 20000, { minExp: 100, maxExp: 150 });
      const d = Uint32Array.from(c, (x) => (x ^ 1) >>> 0);
      checks.push(probe("sub_hw", c, d, (x, y) => toF32Bits(f(f(x * y) - f(x * x)))));
      return checks;
    },
  },
];
