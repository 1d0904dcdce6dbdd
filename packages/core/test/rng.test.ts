/**
 * The seeded RNG (rng.ts). Determinism, seed handling, ranges, and distribution moments with
 * bounds of several standard errors (tight enough that a wrong transform fails, loose enough
 * that a correct generator never does for these fixed seeds).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { propertyOptions, Rng } from "../src/index.js";

/**
 * xoshiro128** seeded by four outputs of splitmix32 (a Weyl sequence step 0x9e3779b9 finished by
 * murmur3's fmix32), as rng.ts documents. Written from the published algorithm, with BigInt-free
 * unsigned arithmetic in a different style. This pins the generator: golden files depend on it.
 */
function referenceStream(seed: number, count: number): number[] {
  let w = seed >>> 0;
  const sm = (): number => {
    w = (w + 0x9e3779b9) % 2 ** 32;
    let z = w;
    z = Math.imul((z ^ (z >>> 16)) >>> 0, 0x85ebca6b) >>> 0;
    z = Math.imul((z ^ (z >>> 13)) >>> 0, 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = new Uint32Array([sm(), sm(), sm(), sm()]);
  const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0);
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!; // Uint32Array stores reduce modulo 2^32
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
  }
  return out;
}

const draw = (seed: number, n: number, f: (r: Rng) => number): number[] => {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => f(r));
};

describe("Rng: determinism", () => {
  it("the same seed gives the same sequence (u32, float, int, normal interleaved)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), (seed) => {
        const mix = (r: Rng): number[] => [r.nextU32(), r.float(), r.int(-5, 5), r.normal(), r.normal(), r.normal(), r.nextU32()];
        const a = new Rng(seed);
        const b = new Rng(seed);
        for (let i = 0; i < 20; i++) expect(mix(a)).toEqual(mix(b));
      }),
      propertyOptions(100),
    );
  });

  it("matches an independent xoshiro128**/splitmix32 implementation", () => {
    for (const seed of [0, 1, 42, 20261127, 0xdeadbeef, 2 ** 32 - 1]) {
      expect(draw(seed, 1000, (r) => r.nextU32()), `seed ${seed}`).toEqual(referenceStream(seed, 1000));
    }
  });

  it("takes the seed modulo 2^32", () => {
    expect(draw(-1, 10, (r) => r.nextU32())).toEqual(draw(2 ** 32 - 1, 10, (r) => r.nextU32()));
    expect(draw(2 ** 32 + 5, 10, (r) => r.nextU32())).toEqual(draw(5, 10, (r) => r.nextU32()));
  });

  it("different seeds give different sequences", () => {
    const firsts = new Set<string>();
    for (let seed = 0; seed < 2000; seed++) firsts.add(draw(seed, 2, (r) => r.nextU32()).join(","));
    expect(firsts.size).toBe(2000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (a, b) => {
        fc.pre(a !== b);
        expect(draw(a, 4, (r) => r.nextU32())).not.toEqual(draw(b, 4, (r) => r.nextU32()));
      }),
      propertyOptions(300),
    );
  });

  it("nextU32 is a uniform 32-bit unsigned integer (every bit is fair)", () => {
    const r = new Rng(7);
    const n = 20000;
    const ones = new Array<number>(32).fill(0);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const x = r.nextU32();
      if (!(Number.isInteger(x) && x >= 0 && x < 2 ** 32)) bad++;
      for (let b = 0; b < 32; b++) if ((x >>> b) & 1) ones[b]!++;
    }
    expect(bad).toBe(0);
    // each bit: mean n/2, sd sqrt(n)/2 ≈ 71; allow 6 sd
    for (const c of ones) expect(Math.abs(c - n / 2)).toBeLessThan(6 * Math.sqrt(n) / 2);
  });
});

describe("Rng: float and int", () => {
  it("float() lies in [0, 1), has mean 1/2, variance 1/12 and uses more than 32 bits", () => {
    const n = 100_000;
    const xs = draw(11, n, (r) => r.float());
    let sum = 0;
    let sq = 0;
    let fine = 0;
    let outside = 0;
    for (const x of xs) {
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      sq += x * x;
      if (!Number.isInteger(x * 2 ** 32)) fine++;
    }
    expect(outside).toBe(0);
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005); // sd of the mean ≈ 0.0009
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.003); // sd ≈ 0.0003
    expect(fine).toBeGreaterThan(n * 0.99); // 53-bit floats, not 32-bit ones
    // deciles are even: chi-square with 9 degrees of freedom stays far below 40
    const bins = new Array<number>(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]!++;
    const chi = bins.reduce((a, c) => a + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi).toBeLessThan(40);
  });

  it("int(lo, hi) is inclusive of both bounds and uniform", () => {
    const r = new Rng(3);
    const counts = new Map<number, number>();
    const n = 60_000;
    for (let i = 0; i < n; i++) {
      const v = r.int(-2, 3);
      counts.set(v, (counts.get(v) ?? 0) + 1); // a non-integer or out-of-range value shows up as an extra key
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3]);
    for (const c of counts.values()) expect(Math.abs(c - n / 6)).toBeLessThan(6 * Math.sqrt((n * (1 / 6) * (5 / 6)))); // 6 sd
    const one = new Rng(9);
    expect(Array.from({ length: 100 }, () => one.int(5, 5)).every((v) => v === 5)).toBe(true);
  });

  it("int stays within bounds for random ranges", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), fc.nat(2 ** 30), (seed, lo, width) => {
        const r = new Rng(seed);
        for (let i = 0; i < 50; i++) {
          const v = r.int(lo, lo + width);
          if (!(Number.isInteger(v) && v >= lo && v <= lo + width)) expect.fail(`int(${lo}, ${lo + width}) gave ${v}`);
        }
      }),
      propertyOptions(300),
    );
  });
});

describe("Rng: normal", () => {
  it("has mean 0, variance 1, no skew, kurtosis 3 and the 68% rule over 1e5 samples", () => {
    const n = 100_000;
    const zs = draw(20261127, n, (r) => r.normal());
    expect(zs.every(Number.isFinite)).toBe(true);
    let m1 = 0;
    for (const z of zs) m1 += z;
    m1 /= n;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    let within1 = 0;
    let within2 = 0;
    for (const z of zs) {
      const d = z - m1;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
      if (Math.abs(z) < 1) within1++;
      if (Math.abs(z) < 2) within2++;
    }
    m2 /= n;
    m3 /= n;
    m4 /= n;
    expect(Math.abs(m1)).toBeLessThan(0.02); // sd of the mean ≈ 0.0032
    expect(Math.abs(m2 - 1)).toBeLessThan(0.03); // sd of the variance ≈ 0.0045
    expect(Math.abs(m3 / m2 ** 1.5)).toBeLessThan(0.05); // skewness, sd ≈ 0.008
    expect(Math.abs(m4 / (m2 * m2) - 3)).toBeLessThan(0.12); // kurtosis, sd ≈ 0.015
    expect(Math.abs(within1 / n - 0.6827)).toBeLessThan(0.01);
    expect(Math.abs(within2 / n - 0.9545)).toBeLessThan(0.006);
  });

  it("consecutive samples (the Box–Muller pair) are uncorrelated", () => {
    const zs = draw(5, 100_000, (r) => r.normal());
    let c = 0;
    for (let i = 0; i + 1 < zs.length; i += 2) c += zs[i]! * zs[i + 1]!;
    expect(Math.abs(c / (zs.length / 2))).toBeLessThan(0.03); // sd ≈ 0.0045
    let c2 = 0;
    for (let i = 1; i + 1 < zs.length; i += 2) c2 += zs[i]! * zs[i + 1]!;
    expect(Math.abs(c2 / (zs.length / 2))).toBeLessThan(0.03);
  });
});
