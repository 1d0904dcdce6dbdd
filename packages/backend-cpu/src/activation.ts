/**
 * The element-wise and row-wise float ops on typed arrays: `quant_act_int8`, `rmsnorm_quant`,
 * `silu_mul_quant`, `residual_add`, `rope`. Every rounding is the reference's (same operations,
 * same order; the R32 sum of `rmsnorm_quant` with strided lanes and the butterfly); binary16
 * results through {@link f32ToF16Bits}; SiLU from a table filled lazily with the reference's own
 * `siluF16` (it depends only on the 16 bits of the gate). Validation is the reference's, in its order.
 * @module
 */
import { assertFinite, OverflowError, ParamError, RangeViolationError, ShapeError, zeros, type Dims, type NamedTensors, type ResolvedParams, type Tensor } from "@qoq/core";
import { siluF16 } from "@qoq/reference";
import { butterfly, F16_TABLE, f32ToF16Bits, rneSmall } from "./numerics.js";

/**
 * Quantize row `x[o … o+k)` of binary16 values (as numbers, `amax` their largest magnitude) into
 * `q` at the same offset, exactly as the reference's `quantizeActRow`; writes the scale bits and
 * code sum to `scaleOut[row]`, `qsumOut[row]`.
 */
function quantRow(x: Float64Array, o: number, k: number, amax: number, q: Int8Array, scaleOut: Uint16Array, qsumOut: Int32Array, row: number): void {
  if (amax === 0) {
    q.fill(0, o, o + k);
    scaleOut[row] = 0;
    qsumOut[row] = 0;
    return;
  }
  scaleOut[row] = f32ToF16Bits(amax / 127); // f16(f32(amax / 127)): the store rounds to binary32 first
  const r = Math.fround(127 / amax);
  let qsum = 0;
  for (let i = o; i < o + k; i++) {
    let c = rneSmall(Math.fround(x[i]! * r));
    if (c > 127) c = 127;
    else if (c < -127) c = -127;
    q[i] = c;
    qsum += c;
  }
  qsumOut[row] = qsum;
}

/** Quantize M rows of K binary16 values (as numbers) into new `q`, `scale`, `qsum` tensors. */
function quantRows(x: Float64Array, m: number, k: number): { q: Tensor<"i8">; scale: Tensor<"f16">; qsum: Tensor<"i32"> } {
  const q = zeros("i8", [m, k]);
  const scale = zeros("f16", [m]);
  const qsum = zeros("i32", [m]);
  for (let row = 0; row < m; row++) {
    const o = row * k;
    let amax = 0;
    for (let i = o; i < o + k; i++) {
      const a = Math.abs(x[i]!);
      if (a > amax) amax = a;
    }
    quantRow(x, o, k, amax, q.data, scale.data, qsum.data, row);
  }
  return { q, scale, qsum };
}

/** Decode binary16 bits. */
function values(t: Tensor): Float64Array {
  const bits = t.data as Uint16Array;
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = F16_TABLE[bits[i]!]!;
  return out;
}

/** `quant_act_int8`. */
export function quantActInt8(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const x = inputs.x!;
  assertFinite("x", x);
  return quantRows(values(x), dims.M!, dims.K!);
}

const LANES = new Float64Array(32);

/** `rmsnorm_quant`. */
export function rmsnormQuant(inputs: NamedTensors, params: ResolvedParams, dims: Dims): NamedTensors {
  const f = Math.fround;
  assertFinite("x", inputs.x!);
  assertFinite("gamma", inputs.gamma!);
  const [m, k] = [dims.M!, dims.K!];
  const eps = params.eps as number;
  const eps32 = f(eps);
  if (!Number.isFinite(eps32) || eps32 < 0) throw new ParamError(`rmsnorm_quant: eps = ${eps} is not a finite non-negative binary32 value`);
  const x = values(inputs.x!);
  const gamma = values(inputs.gamma!);
  const y = zeros("f16", [m, k]);
  const yb = y.data;
  const yv = new Float64Array(m * k);
  const lanes = LANES;
  for (let row = 0; row < m; row++) {
    const o = row * k;
    // ss = Σ_R32 f32(x·x): lane l adds terms l, l+32, … from +0, then the butterfly.
    const active = Math.min(k, 32);
    lanes.fill(0, 0, active);
    for (let i = 0; i < k; i++) {
      const l = i & 31;
      lanes[l] = f(lanes[l]! + f(x[o + i]! * x[o + i]!));
    }
    const ss = butterfly(lanes, 0, active);
    const den = f(f(ss / k) + eps32);
    if (den === 0) continue; // all-zero row with eps = 0: y stays +0 (bits 0)
    const r = f(1 / f(Math.sqrt(den)));
    for (let i = 0; i < k; i++) {
      const bits = f32ToF16Bits(f(x[o + i]! * r) * gamma[i]!);
      if ((bits & 0x7c00) === 0x7c00) {
        const v = F16_TABLE[bits]!;
        throw new OverflowError(`rmsnorm_quant: output 'y' at flat index ${o + i} overflows binary16 (${v}); γ is too large for this row`);
      }
      yb[o + i] = bits;
      yv[o + i] = F16_TABLE[bits]!;
    }
  }
  return { y, ...quantRows(yv, m, k) };
}

/** SiLU rounded to binary16, by gate bits; NaN = not computed yet. */
const SILU = new Float64Array(65536).fill(NaN);

/** `silu_mul_quant`. */
export function siluMulQuant(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const gate = inputs.gate!;
  const up = inputs.up!;
  assertFinite("gate", gate);
  assertFinite("up", up);
  const [m, k] = [dims.M!, dims.K!];
  const gb = gate.data as Uint16Array;
  const ub = up.data as Uint16Array;
  const y = zeros("f16", [m, k]);
  const yb = y.data;
  const yv = new Float64Array(m * k);
  const table = SILU;
  for (let i = 0; i < m * k; i++) {
    const g = gb[i]!;
    let s = table[g]!;
    if (s !== s) s = table[g] = siluF16(F16_TABLE[g]!);
    // silu·u of two binary16 values is exact in binary32; the store in f32ToF16Bits is then a no-op rounding.
    const bits = f32ToF16Bits(s * F16_TABLE[ub[i]!]!);
    if ((bits & 0x7c00) === 0x7c00) throw new OverflowError(`silu_mul_quant: output 'y' at flat index ${i} overflows binary16 (${F16_TABLE[bits]!})`);
    yb[i] = bits;
    yv[i] = F16_TABLE[bits]!;
  }
  return { y, ...quantRows(yv, m, k) };
}

/** `residual_add`. */
export function residualAdd(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const a = inputs.a!;
  const b = inputs.b!;
  assertFinite("a", a);
  assertFinite("b", b);
  const ab = a.data as Uint16Array;
  const bb = b.data as Uint16Array;
  const y = zeros("f16", [dims.M!, dims.K!]);
  const out = y.data;
  const t = F16_TABLE;
  // The double sum of two binary16 values is exact; the store rounds it to binary32, then to binary16.
  for (let i = 0; i < ab.length; i++) out[i] = f32ToF16Bits(t[ab[i]!]! + t[bb[i]!]!);
  return { y };
}

/** `rope`. */
export function rope(inputs: NamedTensors, params: ResolvedParams, dims: Dims): NamedTensors {
  const f = Math.fround;
  const x = inputs.x!;
  const pos = inputs.pos!.data as Int32Array;
  const [t, h, d, nPos, r] = [dims.T!, dims.H!, dims.D!, dims.P!, dims.R!];
  if (d % 2 !== 0) throw new ShapeError(`rope: head dimension D = ${d} of 'x' must be even`);
  if (r !== d / 2) throw new ShapeError(`rope: tables 'cos'/'sin' have R = ${r} frequencies, expected D/2 = ${d / 2} for 'x' with D = ${d}`);
  assertFinite("x", x);
  assertFinite("cos", inputs.cos!);
  assertFinite("sin", inputs.sin!);
  for (let i = 0; i < t; i++) {
    if (pos[i]! < 0 || pos[i]! >= nPos) throw new RangeViolationError("pos", i, `position ${pos[i]} is outside the table's rows [0, ${nPos})`);
  }
  const interleaved = params.style !== "rotate_half";
  const half = d / 2;
  const xb = x.data as Uint16Array;
  const cs = inputs.cos!.data as Float32Array;
  const sn = inputs.sin!.data as Float32Array;
  const y = zeros("f16", [t, h, d]);
  const out = y.data;
  const tb = F16_TABLE;
  const sa = interleaved ? 2 : 1;
  const ob = interleaved ? 1 : half;
  for (let tok = 0; tok < t; tok++) {
    const row = pos[tok]! * half;
    for (let head = 0; head < h; head++) {
      const base = (tok * h + head) * d;
      for (let i = 0; i < half; i++) {
        const ia = base + sa * i;
        const ib = ia + ob;
        const a = tb[xb[ia]!]!;
        const b = tb[xb[ib]!]!;
        const c = cs[row + i]!;
        const s = sn[row + i]!;
        out[ia] = f32ToF16Bits(f(a * c) - f(b * s));
        out[ib] = f32ToF16Bits(f(a * s) + f(b * c));
      }
    }
  }
  return { y };
}
