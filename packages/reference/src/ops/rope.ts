/**
 * `rope` — rotary position embedding with a host-built cos/sin table.
 *
 * For token t (table row `p = pos[t]`), head h and frequency i (0 ≤ i < D/2), the pair (a, b) is
 * channels (i, i + D/2) for style `rotate_half` (Hugging Face LLaMA, QServe) or (2i, 2i+1) for
 * style `interleaved` (llama2.c). With `c = cos[p, i]`, `s = sin[p, i]`:
 * `a' = f16(f32(f32(a·c) − f32(b·s)))`, `b' = f16(f32(f32(a·s) + f32(b·c)))`.
 *
 * The table is an input (built once by {@link ropeTable} on the host), so the host's libm never
 * affects the op's bits. Outputs beyond the binary16 range become ±∞ (IEEE overflow, as in
 * `residual_add`); with |cos|, |sin| ≤ 1 the binary32 intermediates stay below 2·65504.
 * @module
 */
import {
  assertFinite,
  fromF16Bits,
  ParamError,
  RangeViolationError,
  ShapeError,
  toF16Bits,
  zeros,
  type NamedTensors,
  type Tensor,
} from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/** RoPE pairing styles. */
export type RopeStyle = "rotate_half" | "interleaved";

/**
 * The cos/sin table of RoPE for positions 0 … positions−1 and head dimension `headDim`, shape
 * [positions, headDim/2]: `inv_freq_i = theta^(−2i/D)` and `angle = p · inv_freq_i` in float64,
 * `cos = f32(Math.cos(angle))`, `sin = f32(Math.sin(angle))`. Host-side: its bits may depend on
 * the platform's libm, but the op consumes the table as data, so every backend agrees given it.
 */
export function ropeTable(positions: number, headDim: number, theta: number): { cos: Tensor<"f32">; sin: Tensor<"f32"> } {
  if (!Number.isSafeInteger(positions) || positions < 0) throw new ParamError(`ropeTable: positions must be a non-negative integer, got ${positions}`);
  if (!Number.isSafeInteger(headDim) || headDim < 2 || headDim % 2 !== 0) throw new ParamError(`ropeTable: headDim must be an even integer ≥ 2, got ${headDim}`);
  if (!Number.isFinite(theta) || theta <= 0) throw new ParamError(`ropeTable: theta must be a finite positive number, got ${theta}`);
  const half = headDim / 2;
  const cos = zeros("f32", [positions, half]);
  const sin = zeros("f32", [positions, half]);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const invFreq = Math.pow(theta, (-2 * i) / headDim);
      const angle = p * invFreq;
      cos.data[p * half + i] = Math.fround(Math.cos(angle));
      sin.data[p * half + i] = Math.fround(Math.sin(angle));
    }
  }
  return { cos, sin };
}

/** Reference `rope`: inputs `x`, `pos`, `cos`, `sin`, param `style`; output `y`. */
export const rope: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const x = inputs.x!;
  const pos = inputs.pos!.data as Int32Array;
  const cosT = inputs.cos!;
  const sinT = inputs.sin!;
  const [t, h, d, nPos, r] = [dims.T!, dims.H!, dims.D!, dims.P!, dims.R!];
  if (d % 2 !== 0) throw new ShapeError(`rope: head dimension D = ${d} of 'x' must be even`);
  if (r !== d / 2) throw new ShapeError(`rope: tables 'cos'/'sin' have R = ${r} frequencies, expected D/2 = ${d / 2} for 'x' with D = ${d}`);
  assertFinite("x", x);
  assertFinite("cos", cosT);
  assertFinite("sin", sinT);
  for (let i = 0; i < t; i++) {
    if (pos[i]! < 0 || pos[i]! >= nPos) throw new RangeViolationError("pos", i, `position ${pos[i]} is outside the table's rows [0, ${nPos})`);
  }
  const style = params.style as RopeStyle;
  const half = d / 2;
  const xb = x.data as Uint16Array;
  const cs = cosT.data as Float32Array;
  const sn = sinT.data as Float32Array;
  const y = zeros("f16", [t, h, d]);
  for (let tok = 0; tok < t; tok++) {
    const row = pos[tok]! * half;
    for (let head = 0; head < h; head++) {
      const base = (tok * h + head) * d;
      for (let i = 0; i < half; i++) {
        const ia = base + (style === "rotate_half" ? i : 2 * i);
        const ib = base + (style === "rotate_half" ? i + half : 2 * i + 1);
        const a = fromF16Bits(xb[ia]!);
        const b = fromF16Bits(xb[ib]!);
        const c = cs[row + i]!;
        const s = sn[row + i]!;
        // Each product is rounded before the add (no FMA), so a CUDA kernel must use __fmul_rn/__fadd_rn;
        // toF16Bits is the final f16() rounding (nearest even).
        y.data[ia] = toF16Bits(Math.fround(Math.fround(a * c) - Math.fround(b * s)));
        y.data[ib] = toF16Bits(Math.fround(Math.fround(a * s) + Math.fround(b * c)));
      }
    }
  }
  return { y };
};
