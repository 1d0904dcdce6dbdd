import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import {
  expCanon,
  fromF16Bits,
  fromNumbers,
  NonFiniteError,
  propertyOptions,
  RangeViolationError,
  Rng,
  ShapeError,
  tensor,
  toF16Bits,
  type NamedTensors,
} from "@qoq/core";
import { runReference } from "../src/index.js";

const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);
const S = 64;

/** Independent R32: 32 Float32Array lanes (l, l+32, …), then fold halves 16, 8, 4, 2, 1 into lane 0. */
function sumR32Indep(terms: number[]): number {
  const lanes = new Float32Array(32);
  terms.forEach((t, i) => (lanes[i % 32] = lanes[i % 32]! + t));
  for (let half = 16; half >= 1; half /= 2) for (let l = 0; l < half; l++) lanes[l] = lanes[l]! + lanes[l + half]!;
  return lanes[0]!;
}

/** The pinned attention of one query over keys/values 0 … n−1 (binary32 values), restated independently; binary16 bits. */
function attendIndep(q: number[], keys: number[][], vals: number[][]): number[] {
  const d = q.length;
  const sc = r32(1 / r32(Math.sqrt(d)));
  const s = keys.map((k) => r32(sumR32Indep(q.map((qd, c) => r32(qd * k[c]!))) * sc));
  const m = Math.max(...s);
  const e = s.map((x) => expCanon(r32(x - m)));
  const l = sumR32Indep(e);
  return q.map((_, c) => toF16Bits(f16round(r32(sumR32Indep(e.map((ej, j) => r32(ej * vals[j]![c]!))) / l))));
}

/** A decode call in plain arrays (f16 tensors as numbers, codes as bytes). */
interface Case {
  b: number;
  hq: number;
  hkv: number;
  d: number;
  p: number;
  nb: number;
  ctx: number[];
  table: number[];
  q: number[];
  k: number[];
  v: number[];
  kCodes: Uint8Array;
  vCodes: Uint8Array;
  kScale: number[];
  kMin: number[];
  vScale: number[];
  vMin: number[];
}

/**
 * A random case. `exact`: scales s·2^-6 (s ≤ 15) and minima m·2^-6 (|m| ≤ 400), so every
 * dequantized value (q·s + m)·2^-6 is an integer ≤ 625 times 2^-6, exact in binary16 — the cache
 * then has an exact fp16 twin that the prefill op can read.
 */
function genCase(seed: number, exact: boolean, ctx?: number[]): Case {
  const rng = new Rng(seed);
  const hkv = rng.int(1, 2);
  const hq = hkv * rng.int(1, 2);
  const d = [1, 4, 8, 13, 32][rng.int(0, 4)]!;
  const p = rng.int(1, 4);
  const b = ctx?.length ?? rng.int(1, 3);
  const lens = ctx ?? Array.from({ length: b }, () => [0, 1, 63, 64, 65, rng.int(0, 130)][rng.int(0, 5)]!);
  const nb = Math.max(1, ...lens.map((l) => Math.ceil(l / S)));
  // Entries of blocks a sequence needs point at random pages (sharing allowed); the others hold −1.
  const table = Array.from({ length: b * nb }, (_, i) => (i % nb < Math.ceil(lens[Math.floor(i / nb)]! / S) ? rng.int(0, p - 1) : -1));
  const amp = [0.5, 2][rng.int(0, 1)]!;
  const f16s = (n: number, a: number) => Array.from({ length: n }, () => f16round(r32(rng.normal() * a)));
  const rows = p * hkv * S;
  const codes = () => Uint8Array.from({ length: rows * d }, () => rng.int(0, 15));
  const scales = () => Array.from({ length: rows }, () => (exact ? rng.int(0, 15) * 2 ** -6 : f16round(Math.abs(rng.normal()) * 0.3)));
  const mins = () => Array.from({ length: rows }, () => (exact ? rng.int(-400, 400) * 2 ** -6 : f16round(rng.normal() * 2)));
  return {
    b, hq, hkv, d, p, nb, ctx: lens, table,
    q: f16s(b * hq * d, amp), k: f16s(b * hkv * d, amp), v: f16s(b * hkv * d, 2),
    kCodes: codes(), vCodes: codes(), kScale: scales(), kMin: mins(), vScale: scales(), vMin: mins(),
  };
}

function inputs(c: Case): NamedTensors {
  const cacheShape = [c.p, c.hkv, S, c.d];
  const rowShape = [c.p, c.hkv, S];
  const f16t = (shape: number[], x: number[]) => fromNumbers("f16", shape, x);
  return {
    q: f16t([c.b, c.hq, c.d], c.q),
    k: f16t([c.b, c.hkv, c.d], c.k),
    v: f16t([c.b, c.hkv, c.d], c.v),
    k_cache: tensor("u8", cacheShape, c.kCodes),
    k_scale: f16t(rowShape, c.kScale),
    k_min: f16t(rowShape, c.kMin),
    v_cache: tensor("u8", cacheShape, c.vCodes),
    v_scale: f16t(rowShape, c.vScale),
    v_min: f16t(rowShape, c.vMin),
    block_table: fromNumbers("i32", [c.b, c.nb], c.table),
    ctx_len: fromNumbers("i32", [c.b], c.ctx),
  };
}

const runDecode = (c: Case): number[] => Array.from(runReference("attention_kv4_decode", inputs(c)).o!.data as Uint16Array);

/** Past keys and values of sequence b, KV head g, dequantized by an independent restatement; then the new token's own k/v. */
function keysValues(c: Case, b: number, g: number): { keys: number[][]; vals: number[][] } {
  const keys: number[][] = [];
  const vals: number[][] = [];
  for (let j = 0; j < c.ctx[b]!; j++) {
    const page = c.table[b * c.nb + Math.floor(j / S)]!;
    const r = (page * c.hkv + g) * S + (j % S);
    const deq = (codes: Uint8Array, s: number[], m: number[]) => Array.from({ length: c.d }, (_, i) => r32(r32(codes[r * c.d + i]! * s[r]!) + m[r]!));
    keys.push(deq(c.kCodes, c.kScale, c.kMin));
    vals.push(deq(c.vCodes, c.vScale, c.vMin));
  }
  keys.push(c.k.slice((b * c.hkv + g) * c.d, (b * c.hkv + g + 1) * c.d));
  vals.push(c.v.slice((b * c.hkv + g) * c.d, (b * c.hkv + g + 1) * c.d));
  return { keys, vals };
}

const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

describe("attention_kv4_decode", () => {
  it("equals an independent restatement over the dequantized past plus the unquantized new token", () => {
    fc.assert(
      fc.property(seedArb, fc.boolean(), (seed, exact) => {
        const c = genCase(seed, exact);
        const o = runDecode(c);
        for (let b = 0; b < c.b; b++)
          for (let h = 0; h < c.hq; h++) {
            const { keys, vals } = keysValues(c, b, Math.floor(h / (c.hq / c.hkv)));
            const at = (b * c.hq + h) * c.d;
            expect(o.slice(at, at + c.d)).toEqual(attendIndep(c.q.slice(at, at + c.d), keys, vals));
          }
      }),
      propertyOptions(40),
    );
  });

  it("long contexts (up to 300 tokens, D = 64, GQA) match the restatement bit for bit", () => {
    // Many keys and 1.5k outputs: a different summation order, dequant rounding or slot mapping flips fp16 bits.
    const base = genCase(777, false, [300, 129, 64]);
    const rng = new Rng(778);
    // NB = 5 blocks per sequence: 300 tokens use 5 pages, 129 use 3, 64 use 1; unused entries are −1.
    const c: Case = { ...base, hkv: 2, hq: 4, d: 64, p: 8, nb: 5, table: [5, 0, 7, 2, 3, 6, 1, 4, -1, -1, 4, -1, -1, -1, -1] };
    const rows = c.p * c.hkv * S;
    const f16s = (n: number, a: number) => Array.from({ length: n }, () => f16round(r32(rng.normal() * a)));
    Object.assign(c, {
      q: f16s(3 * 4 * 64, 0.4), k: f16s(3 * 2 * 64, 0.4), v: f16s(3 * 2 * 64, 2),
      kCodes: Uint8Array.from({ length: rows * 64 }, () => rng.int(0, 15)), vCodes: Uint8Array.from({ length: rows * 64 }, () => rng.int(0, 15)),
      kScale: Array.from({ length: rows }, () => f16round(Math.abs(rng.normal()) * 0.1)), vScale: Array.from({ length: rows }, () => f16round(Math.abs(rng.normal()) * 0.3)),
      kMin: f16s(rows, 0.5), vMin: f16s(rows, 2),
    });
    const o = runDecode(c);
    const want: number[] = [];
    for (let b = 0; b < 3; b++)
      for (let h = 0; h < 4; h++) {
        const { keys, vals } = keysValues(c, b, h >> 1);
        want.push(...attendIndep(c.q.slice((b * 4 + h) * 64, (b * 4 + h + 1) * 64), keys, vals));
      }
    expect(o).toEqual(want);
  });

  it("equals the prefill op's last row on the fp16 twin of an exactly representable cache", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const c = genCase(seed, true);
        const o = runDecode(c);
        for (let b = 0; b < c.b; b++) {
          const t = c.ctx[b]! + 1;
          const q: number[] = new Array<number>((t - 1) * c.hq * c.d).fill(0);
          q.push(...c.q.slice(b * c.hq * c.d, (b + 1) * c.hq * c.d));
          const byHead = Array.from({ length: c.hkv }, (_, g) => keysValues(c, b, g));
          const k: number[] = [];
          const v: number[] = [];
          for (let j = 0; j < t; j++)
            for (let g = 0; g < c.hkv; g++) {
              k.push(...byHead[g]!.keys[j]!);
              v.push(...byHead[g]!.vals[j]!);
            }
          expect(k.every((x) => f16round(x) === x) && v.every((x) => f16round(x) === x)).toBe(true); // the twin is exact
          const pre = runReference("attention_prefill", {
            q: fromNumbers("f16", [t, c.hq, c.d], q),
            k: fromNumbers("f16", [t, c.hkv, c.d], k),
            v: fromNumbers("f16", [t, c.hkv, c.d], v),
          }).o!.data as Uint16Array;
          expect(o.slice(b * c.hq * c.d, (b + 1) * c.hq * c.d)).toEqual(Array.from(pre.subarray((t - 1) * c.hq * c.d)));
        }
      }),
      propertyOptions(15),
    );
  });

  it("dequantized keys are rounded to binary32 before the q·k product (a case where that decides the output)", () => {
    // k̂ = f32(1·(1 + 2^-10) + 3·2^-24): the exact sum 1 + 2^-10 + 2^-23 + 2^-24 is a binary32 tie and
    // rounds up to 1 + 8194·2^-23. Times q = 3·2^14 that is exact; the unrounded k̂ would instead round
    // the product down by 2^-8, which moves the two-key softmax between v̂ = −1000 and v = 1000 by ~2.
    const c: Case = {
      b: 1, hq: 1, hkv: 1, d: 1, p: 1, nb: 1, ctx: [1], table: [0],
      q: [49152], k: [1.0009765625], v: [1000],
      kCodes: new Uint8Array(S).fill(1), vCodes: new Uint8Array(S),
      kScale: new Array<number>(S).fill(1 + 2 ** -10), kMin: new Array<number>(S).fill(3 * 2 ** -24),
      vScale: new Array<number>(S).fill(0), vMin: new Array<number>(S).fill(-1000),
    };
    const o = runDecode(c);
    const { keys, vals } = keysValues(c, 0, 0);
    expect(keys[0]![0]).toBe(1 + 8194 * 2 ** -23);
    expect(o).toEqual(attendIndep(c.q, keys, vals));
    expect(attendIndep(c.q, [[1 + 2 ** -10 + 3 * 2 ** -24], keys[1]!], vals)).not.toEqual(o); // unrounded k̂ differs
  });

  it("block table indirection: permuting the pages and the table gives identical bits", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const c = genCase(seed, false);
        const rng = new Rng(seed ^ 0x2545f491);
        const perm = Array.from({ length: c.p }, (_, i) => i);
        for (let i = c.p - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [perm[i], perm[j]] = [perm[j]!, perm[i]!];
        }
        const rowsPerPage = c.hkv * S;
        const movePages = <T extends Uint8Array | number[]>(x: T, per: number): T => {
          const out = x.slice() as T;
          for (let pg = 0; pg < c.p; pg++) for (let i = 0; i < per; i++) out[perm[pg]! * per + i] = x[pg * per + i]!;
          return out;
        };
        const moved: Case = {
          ...c,
          table: c.table.map((e) => (e < 0 ? e : perm[e]!)),
          kCodes: movePages(c.kCodes, rowsPerPage * c.d),
          vCodes: movePages(c.vCodes, rowsPerPage * c.d),
          kScale: movePages(c.kScale, rowsPerPage),
          kMin: movePages(c.kMin, rowsPerPage),
          vScale: movePages(c.vScale, rowsPerPage),
          vMin: movePages(c.vMin, rowsPerPage),
        };
        expect(runDecode(moved)).toEqual(runDecode(c));
      }),
      propertyOptions(40),
    );
  });

  it("ctx_len 0: only the new token, so the output is its v (in value; −0 comes out as +0)", () => {
    const c = genCase(11, false, [0, 0]);
    const o = runDecode(c).map(fromF16Bits);
    const g = c.hq / c.hkv;
    for (let b = 0; b < c.b; b++)
      for (let h = 0; h < c.hq; h++) {
        const want = c.v.slice((b * c.hkv + Math.floor(h / g)) * c.d, (b * c.hkv + Math.floor(h / g) + 1) * c.d);
        expect(o.slice((b * c.hq + h) * c.d, (b * c.hq + h + 1) * c.d).every((x, i) => x === want[i])).toBe(true);
      }
  });

  it("a 65-token context crosses a page boundary: token 64 is read from slot 0 of the second block's page", () => {
    // A 3-page pool whose two blocks live in non-adjacent pages, in reverse order.
    const c2: Case = { ...genCase(5, false, [65]), p: 3, table: [2, 0] };
    const rows = 3 * c2.hkv * S;
    const rng = new Rng(99);
    c2.kCodes = Uint8Array.from({ length: rows * c2.d }, () => rng.int(0, 15));
    c2.vCodes = Uint8Array.from({ length: rows * c2.d }, () => rng.int(0, 15));
    c2.kScale = Array.from({ length: rows }, () => f16round(Math.abs(rng.normal()) * 0.3));
    c2.vScale = Array.from({ length: rows }, () => f16round(Math.abs(rng.normal()) * 0.3));
    c2.kMin = Array.from({ length: rows }, () => f16round(rng.normal()));
    c2.vMin = Array.from({ length: rows }, () => f16round(rng.normal()));
    const o = runDecode(c2);
    for (let h = 0; h < c2.hq; h++) {
      const { keys, vals } = keysValues(c2, 0, Math.floor(h / (c2.hq / c2.hkv)));
      expect(o.slice(h * c2.d, (h + 1) * c2.d)).toEqual(attendIndep(c2.q.slice(h * c2.d, (h + 1) * c2.d), keys, vals));
    }
    // Token 64 = page 0 (table[1]), slot 0: changing its value changes the output; page 0 slot 1 (token 65 ≥ L) does not matter.
    const slot = (page: number, s: number) => page * c2.hkv * S + s; // KV head 0
    const vMin = c2.vMin.slice();
    vMin[slot(0, 0)] = 30;
    expect(runDecode({ ...c2, vMin })).not.toEqual(o);
    const vMin2 = c2.vMin.slice();
    vMin2[slot(0, 1)] = 30;
    expect(runDecode({ ...c2, vMin: vMin2 })).toEqual(o);
  });

  it("entries that are not read may hold anything: −1 blocks, codes > 15 and NaN scales in unused slots", () => {
    const c = genCase(21, false, [70, 3]);
    const o = runDecode(c);
    const dirty: Case = { ...c, kCodes: c.kCodes.slice(), kScale: c.kScale.slice(), vMin: c.vMin.slice() };
    const used = new Set<number>();
    for (let b = 0; b < c.b; b++) for (let j = 0; j < c.ctx[b]!; j++) used.add(c.table[b * c.nb + Math.floor(j / S)]! * S + (j % S));
    for (let page = 0; page < c.p; page++)
      for (let s = 0; s < S; s++) {
        if (used.has(page * S + s)) continue;
        for (let g = 0; g < c.hkv; g++) {
          const r = (page * c.hkv + g) * S + s;
          dirty.kCodes.fill(200, r * c.d, (r + 1) * c.d);
          dirty.kScale[r] = NaN;
          dirty.vMin[r] = Infinity;
        }
      }
    expect(runDecode(dirty)).toEqual(o);
  });

  it("rejects bad inputs with typed errors naming the tensor", () => {
    const c = genCase(3, false, [65, 10]); // NB = 2; sequence 0 needs block 1 for its 65th token only; sequence 1 needs block 0
    const run = (x: Partial<Case>) => () => runDecode({ ...c, ...x });
    const t = c.table.slice();
    t[1] = c.p; // sequence 0's second block points past the pool
    expect(run({ table: t })).toThrowError(RangeViolationError);
    expect(run({ table: t })).toThrowError(/tensor 'block_table' at flat index 1/);
    const t2 = c.table.slice();
    t2[2] = -1; // sequence 1's first (needed) block
    expect(run({ table: t2 })).toThrowError(/tensor 'block_table' at flat index 2/);
    expect(run({ ctx: [129, 10] })).toThrowError(/tensor 'ctx_len' at flat index 0/);
    expect(run({ ctx: [65, -1] })).toThrowError(/tensor 'ctx_len' at flat index 1/);
    // A code above 15 in a slot that is read (sequence 1, token 0).
    const r = c.table[2]! * c.hkv * S; // page of sequence 1 block 0, KV head 0, slot 0
    const vCodes = c.vCodes.slice();
    vCodes[r * c.d] = 16;
    expect(run({ vCodes })).toThrowError(RangeViolationError);
    expect(run({ vCodes })).toThrowError(new RegExp(`tensor 'v_cache' at flat index ${r * c.d}:`));
    const kScale = c.kScale.slice();
    kScale[r] = NaN;
    expect(run({ kScale })).toThrowError(NonFiniteError);
    expect(run({ kScale })).toThrowError(new RegExp(`tensor 'k_scale'.*index ${r}$`));
    const q = c.q.slice();
    q[2] = NaN;
    expect(run({ q })).toThrowError(/tensor 'q'.*index 2$/);
    // Page size other than 64.
    const x = inputs(c);
    const small: NamedTensors = { ...x, k_cache: tensor("u8", [c.p, c.hkv, 32, c.d], new Uint8Array(c.p * c.hkv * 32 * c.d)) };
    for (const n of ["k_scale", "k_min", "v_scale", "v_min"]) small[n] = fromNumbers("f16", [c.p, c.hkv, 32], new Array(c.p * c.hkv * 32).fill(0));
    small.v_cache = small.k_cache!;
    expect(() => runReference("attention_kv4_decode", small)).toThrowError(ShapeError);
    expect(() => runReference("attention_kv4_decode", small)).toThrowError(/S = 32.*expected 64/);
    // HQ not a multiple of HKV.
    const c3 = genCase(4, false, [5]);
    const hkv2 = { ...c3, hkv: 2, hq: 3, q: new Array(3 * c3.d).fill(0), k: new Array(2 * c3.d).fill(0), v: new Array(2 * c3.d).fill(0) };
    const rows = c3.p * 2 * S;
    Object.assign(hkv2, { kCodes: new Uint8Array(rows * c3.d), vCodes: new Uint8Array(rows * c3.d), kScale: new Array(rows).fill(0), kMin: new Array(rows).fill(0), vScale: new Array(rows).fill(0), vMin: new Array(rows).fill(0) });
    expect(() => runDecode(hkv2)).toThrowError(ShapeError);
    expect(() => runDecode(hkv2)).toThrowError(/HQ = 3.*HKV = 2/);
  });
});
