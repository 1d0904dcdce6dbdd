/**
 * KV4 quantization and the two attention ops on typed arrays. The attention of one query row is
 * the reference's `attendRow` written for speed without changing a rounding: scores as R32 dot
 * products (for D ≤ 32 each lane holds one product, so the sum is the butterfly alone), the
 * canonical exponential {@link expFast}, `l = Σ_R32 e_j`, and per channel the weighted value sum,
 * each R32 sum as 32 scalar lane chains and one butterfly, then one division per channel. Buffers
 * are reused across rows and calls.
 * @module
 */
import { assertFinite, NonFiniteError, RangeViolationError, ShapeError, zeros, type Dims, type NamedTensors, type ResolvedParams, type Tensor } from "@qoq/core";
import { checkAttentionHeads, KV4_PAGE_SIZE, scoreScale } from "@qoq/reference";
import { butterfly, expFast, F16_TABLE, f32ToF16Bits, rneSmall } from "./numerics.js";

/** Decode binary16 bits. */
function values(t: Tensor): Float64Array {
  const bits = t.data as Uint16Array;
  const out = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = F16_TABLE[bits[i]!]!;
  return out;
}

/** `quant_kv4`. */
export function quantKv4(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const f = Math.fround;
  const v = inputs.v!;
  assertFinite("v", v);
  const [t, h, d] = [dims.T!, dims.H!, dims.D!];
  const vb = v.data as Uint16Array;
  const tb = F16_TABLE;
  const scale = zeros("f16", [t, h]);
  const min = zeros("f16", [t, h]);
  const q = zeros("u8", [t, h, d]);
  const qd = q.data;
  if (d === 0) return { q, scale, min };
  for (let row = 0; row < t * h; row++) {
    const o = row * d;
    let mx = -Infinity;
    let mn = Infinity;
    for (let i = o; i < o + d; i++) {
      const x = tb[vb[i]!]! + 0; // −0 + 0 = +0, as the reference
      if (x > mx) mx = x;
      if (x < mn) mn = x;
    }
    const sBits = f32ToF16Bits(f(mx - mn) / 15); // f16(f32(f32(mx − mn) / 15))
    scale.data[row] = sBits;
    min.data[row] = f32ToF16Bits(mn); // mn is a binary16 value: exact
    if (sBits === 0) continue; // codes stay 0
    const inv = f(1 / tb[sBits]!);
    for (let i = o; i < o + d; i++) {
      const c = rneSmall(f(f(tb[vb[i]!]! - mn) * inv));
      qd[i] = c > 15 ? 15 : c < 0 ? 0 : c;
    }
  }
  return { q, scale, min };
}

/** `dequant_kv4`. */
export function dequantKv4(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const f = Math.fround;
  const scale = inputs.scale!;
  const min = inputs.min!;
  assertFinite("scale", scale);
  assertFinite("min", min);
  const codes = inputs.q!.data as Uint8Array;
  for (let i = 0; i < codes.length; i++) {
    if (codes[i]! > 15) throw new RangeViolationError("q", i, `code ${codes[i]} is not a UINT4 code (0..15)`);
  }
  const [t, h, d] = [dims.T!, dims.H!, dims.D!];
  const v = zeros("f32", [t, h, d]);
  const out = v.data;
  const sBits = scale.data as Uint16Array;
  const mBits = min.data as Uint16Array;
  for (let r = 0; r < t * h; r++) {
    const s = F16_TABLE[sBits[r]!]!;
    const m = F16_TABLE[mBits[r]!]!;
    for (let i = r * d; i < (r + 1) * d; i++) out[i] = f(f(codes[i]! * s) + m);
  }
  return { v };
}

/** Reusable scratch space of the attention rows. */
class Scratch {
  scores = new Float64Array(64);
  lanes = new Float64Array(32);
  vlanes = new Float64Array(8 * 32);

  /** Make room for `n` keys. */
  ensure(n: number): void {
    if (this.scores.length < n) this.scores = new Float64Array(Math.max(n, 2 * this.scores.length));
  }
}

const SCRATCH = new Scratch();

/**
 * The reference's `attendRow`: query `q[qOff … qOff+d)` against keys and values j = 0 … n−1
 * (key j channel c at `keys[kOff + j·kStride + c]`, value likewise), binary16 bits of the output
 * to `out[outOff … outOff+d)`. `n ≥ 1`. Every R32 sum is computed lane by lane (lane l: a scalar
 * chain from +0 over its terms l, l+32, … in order), then {@link butterfly}: the same binary32
 * operations as core's `sumR32`/`dotR32`, in the same order.
 */
function attendRow(
  q: Float64Array,
  qOff: number,
  keys: Float64Array,
  kOff: number,
  kStride: number,
  vals: Float64Array,
  vOff: number,
  vStride: number,
  n: number,
  d: number,
  sc: number,
  out: Uint16Array,
  outOff: number,
): void {
  const f = Math.fround;
  SCRATCH.ensure(n);
  const scores = SCRATCH.scores;
  const lanes = SCRATCH.lanes;
  // Scores s_j = f32(Σ_R32 f32(q_c · k_jc) · sc).
  if (d === 8) {
    // One product per lane (f32(+0 + p) is p with −0 made +0), lanes 8… are +0, so the butterfly is offsets 4, 2, 1.
    const [q0, q1, q2, q3, q4, q5, q6, q7] = [q[qOff]!, q[qOff + 1]!, q[qOff + 2]!, q[qOff + 3]!, q[qOff + 4]!, q[qOff + 5]!, q[qOff + 6]!, q[qOff + 7]!];
    for (let j = 0; j < n; j++) {
      const ko = kOff + j * kStride;
      const p0 = f(q0 * keys[ko]!) + 0;
      const p1 = f(q1 * keys[ko + 1]!) + 0;
      const p2 = f(q2 * keys[ko + 2]!) + 0;
      const p3 = f(q3 * keys[ko + 3]!) + 0;
      const p4 = f(q4 * keys[ko + 4]!) + 0;
      const p5 = f(q5 * keys[ko + 5]!) + 0;
      const p6 = f(q6 * keys[ko + 6]!) + 0;
      const p7 = f(q7 * keys[ko + 7]!) + 0;
      const dot = f(f(f(p0 + p4) + f(p2 + p6)) + f(f(p1 + p5) + f(p3 + p7)));
      scores[j] = f(dot * sc);
    }
  } else {
    const active = d < 32 ? d : 32;
    for (let j = 0; j < n; j++) {
      const ko = kOff + j * kStride;
      for (let l = 0; l < active; l++) {
        let acc = 0;
        for (let c = l; c < d; c += 32) acc = f(acc + f(q[qOff + c]! * keys[ko + c]!));
        lanes[l] = acc;
      }
      scores[j] = f(butterfly(lanes, 0, active) * sc);
    }
  }
  let m = -Infinity;
  for (let j = 0; j < n; j++) if (scores[j]! > m) m = scores[j]!;
  // e_j = expCanon(f32(s_j − m)) overwrites s_j; l = Σ_R32 e_j.
  for (let j = 0; j < n; j++) scores[j] = expFast(f(scores[j]! - m));
  const nActive = n < 32 ? n : 32;
  for (let l = 0; l < nActive; l++) {
    let acc = 0;
    for (let j = l; j < n; j += 32) acc = f(acc + scores[j]!);
    lanes[l] = acc;
  }
  const sum = butterfly(lanes, 0, nActive);
  // o_c = f16(f32(Σ_R32 f32(e_j · v_jc) / l)).
  if (d === 8) {
    // Lane l of all 8 channels at once (8 scalar chains over j = l, l+32, …), into vl[c·32 + l].
    const vl = SCRATCH.vlanes;
    for (let l = 0; l < nActive; l++) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let a4 = 0;
      let a5 = 0;
      let a6 = 0;
      let a7 = 0;
      for (let j = l; j < n; j += 32) {
        const e = scores[j]!;
        const vo = vOff + j * vStride;
        a0 = f(a0 + f(e * vals[vo]!));
        a1 = f(a1 + f(e * vals[vo + 1]!));
        a2 = f(a2 + f(e * vals[vo + 2]!));
        a3 = f(a3 + f(e * vals[vo + 3]!));
        a4 = f(a4 + f(e * vals[vo + 4]!));
        a5 = f(a5 + f(e * vals[vo + 5]!));
        a6 = f(a6 + f(e * vals[vo + 6]!));
        a7 = f(a7 + f(e * vals[vo + 7]!));
      }
      vl[l] = a0;
      vl[32 + l] = a1;
      vl[64 + l] = a2;
      vl[96 + l] = a3;
      vl[128 + l] = a4;
      vl[160 + l] = a5;
      vl[192 + l] = a6;
      vl[224 + l] = a7;
    }
    for (let c = 0; c < 8; c++) out[outOff + c] = f32ToF16Bits(butterfly(vl, c * 32, nActive) / sum);
    return;
  }
  for (let c = 0; c < d; c++) {
    const vo = vOff + c;
    for (let l = 0; l < nActive; l++) {
      let acc = 0;
      for (let j = l; j < n; j += 32) acc = f(acc + f(scores[j]! * vals[vo + j * vStride]!));
      lanes[l] = acc;
    }
    out[outOff + c] = f32ToF16Bits(butterfly(lanes, 0, nActive) / sum);
  }
}

/** `attention_prefill`. */
export function attentionPrefill(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const [t, hq, hkv, d] = [dims.T!, dims.HQ!, dims.HKV!, dims.D!];
  const group = checkAttentionHeads("attention_prefill", hq, hkv, d);
  assertFinite("q", inputs.q!);
  assertFinite("k", inputs.k!);
  assertFinite("v", inputs.v!);
  const qv = values(inputs.q!);
  const kv = values(inputs.k!);
  const vv = values(inputs.v!);
  const sc = scoreScale(d);
  const o = zeros("f16", [t, hq, d]);
  for (let tok = 0; tok < t; tok++) {
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / group);
      const qo = (tok * hq + h) * d;
      attendRow(qv, qo, kv, g * d, hkv * d, vv, g * d, hkv * d, tok + 1, d, sc, o.data, qo);
    }
  }
  return { o };
}

/** `attention_kv4_decode`. */
export function attentionKv4Decode(inputs: NamedTensors, _params: ResolvedParams, dims: Dims): NamedTensors {
  const f = Math.fround;
  const [nSeq, hq, hkv, d, nPages, s, nb] = [dims.B!, dims.HQ!, dims.HKV!, dims.D!, dims.P!, dims.S!, dims.NB!];
  if (s !== KV4_PAGE_SIZE) throw new ShapeError(`attention_kv4_decode: 'k_cache'/'v_cache' have S = ${s} slots per page, expected ${KV4_PAGE_SIZE}`);
  const group = checkAttentionHeads("attention_kv4_decode", hq, hkv, d);
  for (const name of ["q", "k", "v"]) assertFinite(name, inputs[name]!);
  const kb = inputs.k!.data as Uint16Array;
  const vb = inputs.v!.data as Uint16Array;
  const table = inputs.block_table!.data as Int32Array;
  const ctxLen = inputs.ctx_len!.data as Int32Array;
  const caches = [
    { kind: "k", codes: inputs.k_cache!.data as Uint8Array, scale: inputs.k_scale!.data as Uint16Array, min: inputs.k_min!.data as Uint16Array },
    { kind: "v", codes: inputs.v_cache!.data as Uint8Array, scale: inputs.v_scale!.data as Uint16Array, min: inputs.v_min!.data as Uint16Array },
  ] as const;
  const rowOf = (page: number, g: number, slot: number): number => (page * hkv + g) * s + slot;

  // Validation, in the reference's order (the same first error).
  for (let b = 0; b < nSeq; b++) {
    const len = ctxLen[b]!;
    if (len < 0 || len > nb * s) throw new RangeViolationError("ctx_len", b, `context length ${len} is outside [0, NB·64 = ${nb * s}]`);
    for (let blk = 0; blk * s < len; blk++) {
      const p = table[b * nb + blk]!;
      if (p < 0 || p >= nPages) throw new RangeViolationError("block_table", b * nb + blk, `page ${p} is outside the cache's pages [0, ${nPages})`);
    }
    for (let j = 0; j < len; j++) {
      const page = table[b * nb + (j >> 6)]!;
      for (let g = 0; g < hkv; g++) {
        const row = rowOf(page, g, j & 63);
        for (const c of caches) {
          const sb = c.scale[row]!;
          const mb = c.min[row]!;
          if ((sb & 0x7c00) === 0x7c00) throw new NonFiniteError(`${c.kind}_scale`, row, F16_TABLE[sb]!);
          if ((mb & 0x7c00) === 0x7c00) throw new NonFiniteError(`${c.kind}_min`, row, F16_TABLE[mb]!);
          const codes = c.codes;
          for (let ch = row * d; ch < (row + 1) * d; ch++) {
            if (codes[ch]! > 15) throw new RangeViolationError(`${c.kind}_cache`, ch, `code ${codes[ch]} is not a UINT4 code (0..15)`);
          }
        }
      }
    }
  }

  const sc = scoreScale(d);
  const o = zeros("f16", [nSeq, hq, d]);
  const qv = values(inputs.q!);
  for (let b = 0; b < nSeq; b++) {
    const len = ctxLen[b]!;
    const keys = new Float64Array((len + 1) * d);
    const vals = new Float64Array((len + 1) * d);
    for (let g = 0; g < hkv; g++) {
      // Past token j < L dequantized with dequant_kv4's formula, then the new token unquantized.
      for (let j = 0; j < len; j++) {
        const row = rowOf(table[b * nb + (j >> 6)]!, g, j & 63);
        for (let ci = 0; ci < 2; ci++) {
          const c = caches[ci]!;
          const dst = ci === 0 ? keys : vals;
          const sv = F16_TABLE[c.scale[row]!]!;
          const mv = F16_TABLE[c.min[row]!]!;
          const codes = c.codes;
          for (let ch = 0; ch < d; ch++) dst[j * d + ch] = f(f(codes[row * d + ch]! * sv) + mv);
        }
      }
      const newKv = (b * hkv + g) * d;
      for (let ch = 0; ch < d; ch++) {
        keys[len * d + ch] = F16_TABLE[kb[newKv + ch]!]!;
        vals[len * d + ch] = F16_TABLE[vb[newKv + ch]!]!;
      }
      for (let h = g * group; h < (g + 1) * group; h++) {
        const qo = (b * hq + h) * d;
        attendRow(qv, qo, keys, 0, d, vals, 0, d, len + 1, d, sc, o.data, qo);
      }
    }
  }
  return { o };
}
