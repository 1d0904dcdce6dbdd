/**
 * Input validation before any dispatch: the same checks, in the same order and with the same
 * typed errors, as the reference ops (`packages/reference/src/ops/*.ts`), so bad input is rejected
 * identically on both backends. Checks that depend on computed values (a scale or output that
 * overflows binary16) are done on the read-back outputs by {@link postCheck}.
 * @module
 */
import {
  assertFinite,
  fromF16Bits,
  NonFiniteError,
  OverflowError,
  ParamError,
  RangeViolationError,
  ShapeError,
  type Dims,
  type NamedTensors,
  type OpName,
  type ResolvedParams,
  type Tensor,
} from "@qoq/core";
import { hadamardBlockSize, smoothAttentionHeadDim } from "@qoq/reference";

/** Largest K of the int32 accumulators of `gemm_w4a8_g128` and `gemm_w8a8`: ⌊(2^31 − 1)/(128·128)⌋. */
export const MAX_K_128x128 = Math.floor(2147483647 / (128 * 128));
/** Largest K of the two int32 accumulators of `gemm_w4a8_chn`: ⌊(2^31 − 1)/(128·15)⌋. */
export const MAX_K_128x15 = Math.floor(2147483647 / (128 * 15));

function accK(op: string, k: number, maxK: number, term: string): void {
  if (k > maxK) throw new OverflowError(`${op}: K = ${k} exceeds ${maxK}, the largest K for which the int32 accumulator cannot overflow (K·${term} ≤ 2^31 − 1)`);
}

function checkUint4(name: string, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) if (data[i]! > 15) throw new RangeViolationError(name, i, `code ${data[i]} is not a UINT4 code 0..15`);
}

/** Group size K / G of a progressive-group weight; `ShapeError` when G does not divide K. */
export function groupSize(op: string, k: number, g: number): number {
  if (g === 0) {
    if (k === 0) return 0;
    throw new ShapeError(`${op}: 'zero' and 's2' have G = 0 groups per row but K = ${k}; G must divide K`);
  }
  if (k % g !== 0) throw new ShapeError(`${op}: K = ${k} is not a multiple of the G = ${g} groups of 'zero' and 's2'`);
  return k / g;
}

/** The reference's `expandW8` checks: zero points, s2 ∈ 1..16, codes, and w8 = (q − z)·s2 ∈ [−128, 127]. */
function checkG128(op: string, inputs: NamedTensors, n: number, k: number, g: number): void {
  const gs = groupSize(op, k, g);
  const q = inputs.q!.data as Uint8Array;
  const zero = inputs.zero!.data as Uint8Array;
  const s2 = inputs.s2!.data as Uint8Array;
  checkUint4("zero", zero);
  for (let i = 0; i < s2.length; i++) if (s2[i]! < 1 || s2[i]! > 16) throw new RangeViolationError("s2", i, `level-2 scale ${s2[i]} is outside 1..16`);
  checkUint4("q", q);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const i = row * k + col;
      const gi = row * g + Math.floor(col / gs);
      const v = (q[i]! - zero[gi]!) * s2[gi]!;
      if (v < -128 || v > 127) {
        throw new RangeViolationError("q", i, `(q − zero)·s2 = (${q[i]} − ${zero[gi]})·${s2[gi]} = ${v} leaves the INT8 range [-128, 127] (zero/s2 flat index ${gi})`);
      }
    }
  }
}

/** Op-specific input checks, as the reference does them (signature and params are checked before). */
export function validateInputs(op: OpName, inputs: NamedTensors, params: ResolvedParams, dims: Dims): void {
  switch (op) {
    case "quant_act_int8":
      assertFinite("x", inputs.x!);
      return;
    case "quant_weight_g128":
    case "quant_weight_int8":
      assertFinite("w", inputs.w!);
      if (op === "quant_weight_g128" && dims.K! % (params.group as number) !== 0) {
        throw new ShapeError(`quant_weight_g128: K = ${dims.K} of 'w' is not a multiple of the group size ${params.group}`);
      }
      return;
    case "quant_weight_chn": {
      assertFinite("w", inputs.w!);
      const ratio = inputs.ratio;
      if (ratio !== undefined) {
        const rd = ratio.data as Float32Array;
        for (let i = 0; i < rd.length; i++) if (!(rd[i]! > 0 && rd[i]! <= 1)) throw new RangeViolationError("ratio", i, `clipping ratio ${rd[i]} is not a finite value in (0, 1]`);
      }
      return;
    }
    case "dequant_weight_g128":
      assertFinite("s1", inputs.s1!);
      checkG128(op, inputs, dims.N!, dims.K!, dims.G!);
      return;
    case "dequant_weight_chn":
      checkUint4("q", inputs.q!.data as Uint8Array);
      checkUint4("zero", inputs.zero!.data as Uint8Array);
      assertFinite("scale", inputs.scale!);
      return;
    case "gemm_w4a8_g128":
      accK(op, dims.K!, MAX_K_128x128, "128·128");
      assertFinite("xscale", inputs.xscale!);
      assertFinite("s1", inputs.s1!);
      checkG128(op, inputs, dims.N!, dims.K!, dims.G!);
      return;
    case "gemm_w4a8_chn": {
      accK(op, dims.K!, MAX_K_128x15, "128·15");
      checkUint4("q", inputs.q!.data as Uint8Array);
      checkUint4("zero", inputs.zero!.data as Uint8Array);
      assertFinite("xscale", inputs.xscale!);
      assertFinite("scale", inputs.scale!);
      const xq = inputs.xq!.data as Int8Array;
      const xqsum = inputs.xqsum!.data as Int32Array;
      const [m, k] = [dims.M!, dims.K!];
      for (let row = 0; row < m; row++) {
        let s = 0;
        for (let i = 0; i < k; i++) s += xq[row * k + i]!;
        if (s !== xqsum[row]) throw new RangeViolationError("xqsum", row, `${xqsum[row]} is not the sum of row ${row} of 'xq' (${s})`);
      }
      return;
    }
    case "gemm_w8a8":
      accK(op, dims.K!, MAX_K_128x128, "128·128");
      assertFinite("xscale", inputs.xscale!);
      assertFinite("scale", inputs.scale!);
      return;
    case "quant_kv4":
      assertFinite("v", inputs.v!);
      return;
    case "dequant_kv4": {
      assertFinite("scale", inputs.scale!);
      assertFinite("min", inputs.min!);
      const codes = inputs.q!.data as Uint8Array;
      for (let i = 0; i < codes.length; i++) if (codes[i]! > 15) throw new RangeViolationError("q", i, `code ${codes[i]} is not a UINT4 code (0..15)`);
      return;
    }
    case "rmsnorm_quant": {
      assertFinite("x", inputs.x!);
      assertFinite("gamma", inputs.gamma!);
      const eps32 = Math.fround(params.eps as number);
      if (!Number.isFinite(eps32) || eps32 < 0) throw new ParamError(`rmsnorm_quant: eps = ${params.eps} is not a finite non-negative binary32 value`);
      return;
    }
    case "rope": {
      const [t, d, nPos, r] = [dims.T!, dims.D!, dims.P!, dims.R!];
      if (d % 2 !== 0) throw new ShapeError(`rope: head dimension D = ${d} of 'x' must be even`);
      if (r !== d / 2) throw new ShapeError(`rope: tables 'cos'/'sin' have R = ${r} frequencies, expected D/2 = ${d / 2} for 'x' with D = ${d}`);
      assertFinite("x", inputs.x!);
      assertFinite("cos", inputs.cos!);
      assertFinite("sin", inputs.sin!);
      const pos = inputs.pos!.data as Int32Array;
      for (let i = 0; i < t; i++) if (pos[i]! < 0 || pos[i]! >= nPos) throw new RangeViolationError("pos", i, `position ${pos[i]} is outside the table's rows [0, ${nPos})`);
      return;
    }
    case "silu_mul_quant":
      assertFinite("gate", inputs.gate!);
      assertFinite("up", inputs.up!);
      return;
    case "residual_add":
      assertFinite("a", inputs.a!);
      assertFinite("b", inputs.b!);
      return;
    case "attention_prefill":
      checkHeads(op, dims.HQ!, dims.HKV!, dims.D!);
      for (const name of ["q", "k", "v"]) assertFinite(name, inputs[name]!);
      return;
    case "attention_kv4_decode":
      checkDecode(inputs, dims);
      return;
    case "hadamard_rotate":
      // The reference checks the rotated size (ParamError for an odd size > 1) before the values.
      if (params.side === "input") hadamardBlockSize(dims.C!, `the C = ${dims.C} columns of 'w' (side=input, W·H)`);
      else hadamardBlockSize(dims.R!, `the R = ${dims.R} rows of 'w' (side=output, Hᵀ·W)`);
      assertFinite("w", inputs.w!);
      return;
    case "smooth_attention":
      // The reference's order: the head arithmetic, then floatValues(wq), floatValues(wk), maximaValues(kmax), maximaValues(qmax).
      smoothAttentionHeadDim(params.heads as number, params.kv_heads as number, dims.NQ!, dims.NK!, params.beta as number, inputs.qmax !== undefined);
      assertFinite("wq", inputs.wq!);
      assertFinite("wk", inputs.wk!);
      checkMaxima("kmax", inputs.kmax!);
      if (inputs.qmax !== undefined) checkMaxima("qmax", inputs.qmax);
      return;
    case "smooth_linear":
      // The reference's order: floatValues(w), floatValues(prev), maximaValues(xmax).
      assertFinite("w", inputs.w!);
      assertFinite("prev", inputs.prev!);
      checkMaxima("xmax", inputs.xmax!);
      return;
    case "clip_search":
      if (dims.T! < 1) throw new ShapeError(`clip_search: 'x' has T = 0 calibration tokens; at least one is needed`);
      assertFinite("w", inputs.w!);
      assertFinite("x", inputs.x!);
      return;
    case "reorder_channels":
      // The reference's order: floatValues(w), maximaValues(xmax), then floatValues(prev).
      assertFinite("w", inputs.w!);
      checkMaxima("xmax", inputs.xmax!);
      if (inputs.prev !== undefined) assertFinite("prev", inputs.prev);
      return;
    default:
      return;
  }
}


/** The reference's `maximaValues`: finite ({@link NonFiniteError}) and not negative ({@link RangeViolationError}; −0 is accepted). */
function checkMaxima(name: string, t: Tensor): void {
  assertFinite(name, t);
  const v = t.data as Float32Array;
  for (let i = 0; i < v.length; i++) {
    if (v[i]! < 0) throw new RangeViolationError(name, i, `${v[i]} is negative; a maximum of absolute values must be ≥ 0`);
  }
}

function checkHeads(op: string, hq: number, hkv: number, d: number): void {
  if (hkv < 1 || hq % hkv !== 0) throw new ShapeError(`${op}: 'q' has HQ = ${hq} heads, which is not a multiple of the HKV = ${hkv} heads of 'k'/'v'`);
  if (d < 1) throw new ShapeError(`${op}: head dimension D of 'q' must be at least 1, got ${d}`);
}

/** The reference's checks of `attention_kv4_decode`: page size, heads, finite new K/V, and everything of the cache that will be read. */
function checkDecode(inputs: NamedTensors, dims: Dims): void {
  const [nSeq, hq, hkv, d, nPages, s, nb] = [dims.B!, dims.HQ!, dims.HKV!, dims.D!, dims.P!, dims.S!, dims.NB!];
  if (s !== 64) throw new ShapeError(`attention_kv4_decode: 'k_cache'/'v_cache' have S = ${s} slots per page, expected 64`);
  checkHeads("attention_kv4_decode", hq, hkv, d);
  for (const name of ["q", "k", "v"]) assertFinite(name, inputs[name]!);
  const table = inputs.block_table!.data as Int32Array;
  const ctxLen = inputs.ctx_len!.data as Int32Array;
  const caches = [
    ["k", inputs.k_cache!.data as Uint8Array, inputs.k_scale!.data as Uint16Array, inputs.k_min!.data as Uint16Array],
    ["v", inputs.v_cache!.data as Uint8Array, inputs.v_scale!.data as Uint16Array, inputs.v_min!.data as Uint16Array],
  ] as const;
  for (let b = 0; b < nSeq; b++) {
    const len = ctxLen[b]!;
    if (len < 0 || len > nb * s) throw new RangeViolationError("ctx_len", b, `context length ${len} is outside [0, NB·64 = ${nb * s}]`);
    for (let blk = 0; blk * s < len; blk++) {
      const p = table[b * nb + blk]!;
      if (p < 0 || p >= nPages) throw new RangeViolationError("block_table", b * nb + blk, `page ${p} is outside the cache's pages [0, ${nPages})`);
    }
    for (let j = 0; j < len; j++) {
      for (let g = 0; g < hkv; g++) {
        const row = (table[b * nb + (j >> 6)]! * hkv + g) * s + (j & 63);
        for (const [kind, codes, scaleBits, minBits] of caches) {
          const scale = fromF16Bits(scaleBits[row]!);
          const min = fromF16Bits(minBits[row]!);
          if (!Number.isFinite(scale)) throw new NonFiniteError(`${kind}_scale`, row, scale);
          if (!Number.isFinite(min)) throw new NonFiniteError(`${kind}_min`, row, min);
          for (let ch = 0; ch < d; ch++) {
            const code = codes[row * d + ch]!;
            if (code > 15) throw new RangeViolationError(`${kind}_cache`, row * d + ch, `code ${code} is not a UINT4 code (0..15)`);
          }
        }
      }
    }
  }
}

function firstInfF16(bits: Uint16Array): number {
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7fff) === 0x7c00) return i;
  return -1;
}

/**
 * Checks on the outputs that the reference makes while computing: a weight scale that overflows
 * binary16 and a fused-op output `y` past the binary16 range are `OverflowError`s.
 */
export function postCheck(op: OpName, inputs: NamedTensors, out: NamedTensors, dims: Dims): void {
  const rowAmax = (row: number): number => {
    const w = inputs.w!.data as Float32Array;
    let a = 0;
    for (let i = row * dims.K!; i < (row + 1) * dims.K!; i++) a = Math.max(a, Math.abs(w[i]!));
    return a;
  };
  switch (op) {
    case "quant_weight_g128": {
      const row = firstInfF16(out.s1!.data as Uint16Array);
      if (row >= 0) throw new OverflowError(`quant_weight_g128: row ${row} of 'w' has max|w| = ${rowAmax(row)}; its level-1 scale max|w|/119 overflows binary16 (largest finite 65504)`);
      return;
    }
    case "quant_weight_int8": {
      const row = firstInfF16(out.scale!.data as Uint16Array);
      if (row >= 0) throw new OverflowError(`quant_weight_int8: row ${row} of 'w' has max|w| = ${rowAmax(row)}; its scale max|w|/127 overflows binary16 (largest finite 65504)`);
      return;
    }
    case "quant_weight_chn": {
      const row = firstInfF16(out.scale!.data as Uint16Array);
      if (row >= 0) {
        const k = dims.K!;
        throw new OverflowError(`quant_weight_chn: the row at w[${row * k} … ${(row + 1) * k}) (row ${row}) has a scale (vmax − vmin)/15 that overflows binary16 (largest finite 65504)`);
      }
      return;
    }
    case "rmsnorm_quant":
    case "silu_mul_quant": {
      const y = out.y!.data as Uint16Array;
      const i = firstInfF16(y);
      if (i >= 0) throw new OverflowError(`${op}: output 'y' at flat index ${i} overflows binary16 (${fromF16Bits(y[i]!)})`);
      return;
    }
    case "clip_search": {
      // The kernel marks a row whose scale overflows binary16 or whose output error is not finite with a NaN err.
      const err = out.err!.data as Float64Array;
      for (let row = 0; row < err.length; row++) {
        if (!Number.isFinite(err[row]!)) throw new OverflowError(`clip_search: row ${row}: a scale overflows binary16 or the output error overflows float64 (inputs too large)`);
      }
      return;
    }
    case "hadamard_rotate":
      // The reference's weightTensor: an output that is (or rounds to) ±∞ is an OverflowError.
      firstNonFinite("w", out.w!);
      return;
    case "smooth_linear":
      firstNonFinite("w", out.w!);
      firstNonFinite("prev", out.prev!);
      return;
    case "smooth_attention":
      firstNonFinite("wq", out.wq!);
      firstNonFinite("wk", out.wk!);
      return;
    default:
      return;
  }
}

/** The reference's `weightTensor` check: a non-finite output value (overflow of binary32/binary64) is an {@link OverflowError}. */
function firstNonFinite(name: string, t: Tensor): void {
  const v = t.data as Float32Array | Float64Array;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw new OverflowError(`output '${name}' at flat index ${i}: ${v[i]} overflows ${t.dtype === "f32" ? "binary32" : "binary64"}`);
  }
}

