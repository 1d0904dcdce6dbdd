/**
 * The three quantized GEMMs on typed arrays: exact integer accumulation in doubles with two
 * output channels packed per weight double ({@link swarGemm}), four activation rows per pass, and
 * the shared epilogue `y = f16(f32(f32(acc) · f32(s_w · s_x)))` with the bit-level binary16
 * rounding of {@link f32ToF16Bits}. Integer sums are exact in any order, so the order of the
 * accumulation is free; only the epilogue rounds.
 *
 * Validation is the reference's, in the reference's order (the same typed error for the same
 * input). Progressive-group weights are expanded and validated once per weight tensor by the
 * reference's own `expandW8`, packed, and cached by the identity of the code array (with the
 * identity of the zero-point and scale arrays and the shapes); per-channel codes are validated and
 * packed once per code array, INT8 weights packed once per array. A weight's arrays must therefore not be mutated after they have been used (pass new
 * arrays instead, or call {@link WeightCache.clear}).
 * @module
 */
import { assertFinite, RangeViolationError, zeros, type Dims, type NamedTensors, type ResolvedParams, type Tensor } from "@qoq/core";
import { assertAccumulatorK, checkUint4, expandW8, MAX_K_GEMM_W4A8_CHN, MAX_K_GEMM_W4A8_G128, MAX_K_GEMM_W8A8 } from "@qoq/reference";
import { F16_TABLE, f32ToF16Bits } from "./numerics.js";

/**
 * Weights packed two output channels per double for {@link swarGemm}: element `(c, i)` of a pair
 * `c` is `w[2c, i] + w[2c+1, i] · 2^25` (the second channel of an odd last pair is 0). Exact: both
 * parts are integers of magnitude at most 128, so the double holds at most 2^33.
 */
export interface PackedWeight {
  /** Output channels N. */
  readonly n: number;
  /** Input channels K. */
  readonly k: number;
  /** ⌈N/2⌉ × K packed pairs. */
  readonly pairs: Float64Array;
  /**
   * One past the last input channel where some weight is nonzero: the products of the columns
   * after it are all 0 and are skipped (exact: they add 0 to integer sums). Zero padding to the
   * group (e.g. K = 64 padded to 128) is all such columns.
   */
  readonly kUsed: number;
}

/** Field width of the SWAR packing: 2^25. */
const FIELD = 33554432;
/** Inputs per SWAR block: a block's partial sum per channel has magnitude ≤ 512 · 128 · 128 = 2^23 < FIELD/2. */
const SWAR_BLOCK = 512;

/** Pack integer weights [N × K] (see {@link PackedWeight}). */
export function packWeight(w: Int8Array | Uint8Array, n: number, k: number): PackedWeight {
  const np = (n + 1) >> 1;
  const pairs = new Float64Array(np * k);
  let kUsed = 0;
  for (let c = 0; c < np; c++) {
    const a = 2 * c * k;
    const hasB = 2 * c + 1 < n;
    for (let i = 0; i < k; i++) {
      const p = w[a + i]! + (hasB ? w[a + k + i]! * FIELD : 0);
      pairs[c * k + i] = p;
      if (p !== 0 && i >= kUsed) kUsed = i + 1;
    }
  }
  return { n, k, pairs, kUsed };
}

interface ExpandedG128 {
  readonly zero: Uint8Array;
  readonly s2: Uint8Array;
  readonly n: number;
  readonly k: number;
  readonly g: number;
  readonly packed: PackedWeight;
}

/**
 * Per-backend caches of validated, expanded and packed weights, keyed by the identity of their
 * code arrays (and, for progressive-group weights, of the zero-point and scale arrays and the shapes).
 */
export class WeightCache {
  private g128 = new WeakMap<Uint8Array, ExpandedG128>();
  private chn = new WeakMap<Uint8Array, PackedWeight>();
  private int8 = new WeakMap<Int8Array, PackedWeight>();

  /**
   * The validated INT8 expansion `(q − zero)·s2` of a progressive-group weight (the reference's
   * `expandW8`, which throws its typed errors), packed; computed once per (q, zero, s2, N, K, G).
   */
  expandG128(op: string, q: Uint8Array, zero: Uint8Array, s2: Uint8Array, n: number, k: number, g: number): PackedWeight {
    const hit = this.g128.get(q);
    if (hit !== undefined && hit.zero === zero && hit.s2 === s2 && hit.n === n && hit.k === k && hit.g === g) return hit.packed;
    const packed = packWeight(expandW8(op, q, zero, s2, n, k, g), n, k);
    this.g128.set(q, { zero, s2, n, k, g, packed });
    return packed;
  }

  /** Per-channel UINT4 codes after the reference's `checkUint4("q", q)`, packed; checked once per code array. */
  chnCodes(q: Uint8Array, n: number, k: number): PackedWeight {
    const hit = this.chn.get(q);
    if (hit !== undefined && hit.n === n && hit.k === k) return hit;
    checkUint4("q", q);
    const packed = packWeight(q, n, k);
    this.chn.set(q, packed);
    return packed;
  }

  /** INT8 weights packed, once per array. */
  int8Codes(q: Int8Array, n: number, k: number): PackedWeight {
    const hit = this.int8.get(q);
    if (hit !== undefined && hit.n === n && hit.k === k) return hit;
    const packed = packWeight(q, n, k);
    this.int8.set(q, packed);
    return packed;
  }

  /** Forget every cached weight. */
  clear(): void {
    this.g128 = new WeakMap();
    this.chn = new WeakMap();
    this.int8 = new WeakMap();
  }
}

/**
 * Exact integer products `acc[m·N + n] = Σ_k x[m,k] · w[n,k]` (|x|, |w| ≤ 128) from packed
 * weights: one double multiply-add serves two output channels. Over a block of at most 512 inputs
 * a packed sum is `lo + hi · 2^25` with |lo|, |hi| ≤ 2^23, so `hi = round(s / 2^25)` and
 * `lo = s − hi · 2^25` recover both exactly (every value is an integer below 2^49, exact in a
 * double); blocks add into `acc`. Four activation rows per pass over a packed row; columns from
 * `kUsed` on (all-zero weights) are skipped.
 */
export function swarGemm(x: Float64Array, w: PackedWeight, m: number, acc: Float64Array): void {
  const { n, k, pairs, kUsed } = w;
  const np = (n + 1) >> 1;
  acc.fill(0, 0, m * n);
  for (let k0 = 0; k0 < kUsed; k0 += SWAR_BLOCK) {
    const k1 = Math.min(kUsed, k0 + SWAR_BLOCK);
    let row = 0;
    for (; row + 4 <= m; row += 4) {
      const o0 = row * k;
      const o1 = o0 + k;
      const o2 = o1 + k;
      const o3 = o2 + k;
      let c = 0;
      for (; c + 2 <= np; c += 2) {
        // Two packed pairs (four output channels) × four rows: each loaded x serves two multiply-adds.
        const wo = c * k;
        const wp = wo + k;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let t0 = 0;
        let t1 = 0;
        let t2 = 0;
        let t3 = 0;
        for (let i = k0; i < k1; i++) {
          const p = pairs[wo + i]!;
          const r = pairs[wp + i]!;
          const x0 = x[o0 + i]!;
          const x1 = x[o1 + i]!;
          const x2 = x[o2 + i]!;
          const x3 = x[o3 + i]!;
          s0 += x0 * p;
          s1 += x1 * p;
          s2 += x2 * p;
          s3 += x3 * p;
          t0 += x0 * r;
          t1 += x1 * r;
          t2 += x2 * r;
          t3 += x3 * r;
        }
        split(s0, acc, row * n + 2 * c, true);
        split(s1, acc, (row + 1) * n + 2 * c, true);
        split(s2, acc, (row + 2) * n + 2 * c, true);
        split(s3, acc, (row + 3) * n + 2 * c, true);
        const both = 2 * c + 3 < n;
        split(t0, acc, row * n + 2 * c + 2, both);
        split(t1, acc, (row + 1) * n + 2 * c + 2, both);
        split(t2, acc, (row + 2) * n + 2 * c + 2, both);
        split(t3, acc, (row + 3) * n + 2 * c + 2, both);
      }
      for (; c < np; c++) {
        const wo = c * k;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let i = k0; i < k1; i++) {
          const p = pairs[wo + i]!;
          s0 += x[o0 + i]! * p;
          s1 += x[o1 + i]! * p;
          s2 += x[o2 + i]! * p;
          s3 += x[o3 + i]! * p;
        }
        split(s0, acc, row * n + 2 * c, 2 * c + 1 < n);
        split(s1, acc, (row + 1) * n + 2 * c, 2 * c + 1 < n);
        split(s2, acc, (row + 2) * n + 2 * c, 2 * c + 1 < n);
        split(s3, acc, (row + 3) * n + 2 * c, 2 * c + 1 < n);
      }
    }
    for (; row < m; row++) {
      const o = row * k;
      for (let c = 0; c < np; c++) {
        const wo = c * k;
        let s = 0;
        for (let i = k0; i < k1; i++) s += x[o + i]! * pairs[wo + i]!;
        split(s, acc, row * n + 2 * c, 2 * c + 1 < n);
      }
    }
  }
}

/** Add the two fields of a packed block sum `s = lo + hi · 2^25` to `acc[at]` and (if `both`) `acc[at + 1]`. */
function split(s: number, acc: Float64Array, at: number, both: boolean): void {
  const hi = Math.round(s / FIELD); // |lo / 2^25| ≤ 1/4: never a tie
  acc[at] = acc[at]! + (s - hi * FIELD);
  if (both) acc[at + 1] = acc[at + 1]! + hi;
}

/** Binary16 scale bits → values. */
function scales(t: Tensor): Float64Array {
  const bits = t.data as Uint16Array;
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = F16_TABLE[bits[i]!]!;
  return out;
}

/** Activation codes as doubles. */
function codes(t: Tensor): Float64Array {
  const d = t.data as Int8Array;
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = d[i]!;
  return out;
}

/** The integer products, then the shared epilogue (with `acc − zero[n]·xqsum[m]` when given), into a new f16 [M×N] tensor. */
function gemmWithEpilogue(xq: Tensor, w: PackedWeight, m: number, sw: Float64Array, sx: Float64Array, zero?: Uint8Array, xqsum?: Int32Array): Tensor<"f16"> {
  const n = w.n;
  const acc = new Float64Array(m * n);
  swarGemm(codes(xq), w, m, acc);
  const y = zeros("f16", [m, n]);
  const out = y.data;
  const f = Math.fround;
  for (let row = 0; row < m; row++) {
    const sxr = sx[row]!;
    const corr = xqsum === undefined ? 0 : xqsum[row]!;
    for (let col = 0; col < n; col++) {
      const a = zero === undefined ? acc[row * n + col]! : acc[row * n + col]! - zero[col]! * corr;
      // f32ToF16Bits stores to binary32 first, so this is f16(f32(f32(acc) · s)); s = sw·sx is exact in binary32.
      out[row * n + col] = f32ToF16Bits(f(a) * f(sw[col]! * sxr));
    }
  }
  return y;
}

/** `gemm_w4a8_g128` with the weight expansion cached in `cache`. */
export function gemmW4a8G128(cache: WeightCache): (inputs: NamedTensors, params: ResolvedParams, dims: Dims) => NamedTensors {
  return (inputs, _params, dims) => {
    const [m, n, k] = [dims.M!, dims.N!, dims.K!];
    assertAccumulatorK("gemm_w4a8_g128", k, MAX_K_GEMM_W4A8_G128, "128·128");
    assertFinite("xscale", inputs.xscale!);
    assertFinite("s1", inputs.s1!);
    const w = cache.expandG128("gemm_w4a8_g128", inputs.q!.data as Uint8Array, inputs.zero!.data as Uint8Array, inputs.s2!.data as Uint8Array, n, k, dims.G!);
    return { y: gemmWithEpilogue(inputs.xq!, w, m, scales(inputs.s1!), scales(inputs.xscale!)) };
  };
}

/** `gemm_w4a8_chn`, the code check cached in `cache`: `acc = Σ xq·q − zero·xqsum`. */
export function gemmW4a8Chn(cache: WeightCache): (inputs: NamedTensors, params: ResolvedParams, dims: Dims) => NamedTensors {
  return (inputs, _params, dims) => {
    const [m, n, k] = [dims.M!, dims.N!, dims.K!];
    assertAccumulatorK("gemm_w4a8_chn", k, MAX_K_GEMM_W4A8_CHN, "128·15");
    const xq = inputs.xq!.data as Int8Array;
    const xqsum = inputs.xqsum!.data as Int32Array;
    const zero = inputs.zero!.data as Uint8Array;
    const w = cache.chnCodes(inputs.q!.data as Uint8Array, n, k);
    checkUint4("zero", zero);
    assertFinite("xscale", inputs.xscale!);
    assertFinite("scale", inputs.scale!);
    for (let row = 0; row < m; row++) {
      let s = 0;
      for (let i = row * k; i < (row + 1) * k; i++) s += xq[i]!;
      if (s !== xqsum[row]) throw new RangeViolationError("xqsum", row, `${xqsum[row]} is not the sum of row ${row} of 'xq' (${s})`);
    }
    return { y: gemmWithEpilogue(inputs.xq!, w, m, scales(inputs.scale!), scales(inputs.xscale!), zero, xqsum) };
  };
}

/** `gemm_w8a8`, the packed weight cached in `cache`. */
export function gemmW8a8(cache: WeightCache): (inputs: NamedTensors, params: ResolvedParams, dims: Dims) => NamedTensors {
  return (inputs, _params, dims) => {
    const [m, n, k] = [dims.M!, dims.N!, dims.K!];
    assertAccumulatorK("gemm_w8a8", k, MAX_K_GEMM_W8A8, "128·128");
    assertFinite("xscale", inputs.xscale!);
    assertFinite("scale", inputs.scale!);
    const w = cache.int8Codes(inputs.q!.data as Int8Array, n, k);
    return { y: gemmWithEpilogue(inputs.xq!, w, m, scales(inputs.scale!), scales(inputs.xscale!)) };
  };
}
