/**
 * The packed fast path of `gemm_w4a8_g128` and `gemm_w4a8_chn` (`kernels/wgsl/gemv_w4a8.wgsl`):
 * UINT4 weights eight per word, INT8 activations four per word, one 16-bit zero/s2 entry per
 * group, K zero-padded to a multiple of 32. These are the backend's own layouts; the logical
 * tensors stay the reference's and the results are bit-identical.
 * @module
 */
import type { Dims, NamedTensors } from "@qoq/core";
import type { KernelPlan } from "./plans.js";

/** Largest workgroup count per grid dimension (WebGPU's default limit). */
const MAX_GROUPS = 65535;

/** A tile of the packed kernel: `mt` tokens per workgroup, `r` weight rows per invocation. */
export interface GemvTile {
  /** Tokens (rows of the activations) per workgroup. */
  readonly mt: number;
  /** Weight rows per invocation (a workgroup covers `8·r` rows). */
  readonly r: number;
}

/** The tiles with a `gemv_tile_m{mt}r{r}.wgsl` include. */
export const GEMV_TILES: readonly GemvTile[] = [
  { mt: 1, r: 1 },
  { mt: 1, r: 2 },
  { mt: 1, r: 4 },
  { mt: 4, r: 2 },
  { mt: 8, r: 2 },
  { mt: 16, r: 1 },
  { mt: 16, r: 2 },
  { mt: 16, r: 4 },
];

/** The tile the backend uses for `m` tokens. */
export function gemvTileFor(m: number): GemvTile {
  if (m <= 1) return { mt: 1, r: 1 };
  if (m <= 4) return { mt: 4, r: 2 };
  if (m <= 8) return { mt: 8, r: 2 };
  return { mt: 16, r: 2 };
}

/** Number of 32-wide K chunks of a row of `k` elements. */
export function chunksOf(k: number): number {
  return Math.ceil(k / 32);
}

/** INT8 activation rows `[m, k]` as `m · 8·⌈k/32⌉` words (four codes per word, k order, zero-padded). */
export function packActivations(xq: Int8Array, m: number, k: number): Uint32Array {
  const kw = chunksOf(k) * 8;
  const out = new Uint32Array(Math.max(4, m * kw));
  const bytes = new Uint8Array(out.buffer);
  const src = new Uint8Array(xq.buffer, xq.byteOffset, m * k);
  for (let r = 0; r < m; r++) bytes.set(src.subarray(r * k, (r + 1) * k), r * kw * 4);
  return out;
}

/**
 * UINT4 codes `[n, k]` (one per byte) as `n · 4·⌈k/32⌉` words: word `w` of a row holds
 * k = 8w + j in the low nibble of byte j and k = 8w + 4 + j in its high nibble (zero-padded).
 */
export function packWeights(q: Uint8Array, n: number, k: number): Uint32Array {
  const rw = chunksOf(k) * 4;
  const out = new Uint32Array(Math.max(4, n * rw));
  for (let row = 0; row < n; row++) {
    const base = row * k;
    for (let w = 0; w < rw; w++) {
      const k0 = 8 * w;
      let word = 0;
      for (let j = 0; j < 4; j++) {
        const lo = k0 + j < k ? q[base + k0 + j]! : 0;
        const hi = k0 + 4 + j < k ? q[base + k0 + 4 + j]! : 0;
        word |= ((lo & 15) | ((hi & 15) << 4)) << (8 * j);
      }
      out[row * rw + w] = word >>> 0;
    }
  }
  return out;
}

/** 16-bit entries `zero | s2 << 8`, two per word (`s2` absent: 1, the per-channel case). */
export function packZeroScale(zero: Uint8Array, s2: Uint8Array | undefined, count: number): Uint32Array {
  const out = new Uint16Array(Math.max(2, count + (count & 1)));
  for (let i = 0; i < count; i++) out[i] = zero[i]! | ((s2 === undefined ? 1 : s2[i]!) << 8);
  return new Uint32Array(out.buffer);
}

/** The raw bytes of a binary16 vector as words (two per word, zero-padded). */
function halfWords(t: { readonly data: ArrayBufferView }): Uint32Array {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint32Array(Math.max(1, Math.ceil(bytes.length / 4)));
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * The packed plan of `gemm_w4a8_g128` / `gemm_w4a8_chn` for validated inputs, or `undefined`
 * where the packed kernel does not apply (a g128 group size that is not a multiple of 32, or a
 * grid beyond WebGPU's default limits): the caller then uses the byte-per-code kernel.
 */
export function gemvPlan(op: "gemm_w4a8_g128" | "gemm_w4a8_chn", inputs: NamedTensors, dims: Dims, tile: GemvTile = gemvTileFor(dims.M!)): KernelPlan | undefined {
  const [m, n, k] = [dims.M!, dims.N!, dims.K!];
  const kc = chunksOf(k);
  let cpg: number;
  let g: number;
  let zs: Uint32Array;
  if (op === "gemm_w4a8_g128") {
    g = dims.G!;
    if (g === 0 || k % g !== 0) return undefined;
    const gs = k / g;
    if (gs % 32 !== 0) return undefined;
    cpg = gs / 32;
    zs = packZeroScale(inputs.zero!.data as Uint8Array, inputs.s2!.data as Uint8Array, n * g);
  } else {
    g = 1;
    cpg = Math.max(1, kc);
    zs = packZeroScale(inputs.zero!.data as Uint8Array, undefined, n);
  }
  const gx = Math.ceil(n / (8 * tile.r));
  const gy = Math.ceil(m / tile.mt);
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) return undefined;
  const scale = op === "gemm_w4a8_g128" ? inputs.s1! : inputs.scale!;
  return {
    kernel: "gemv_w4a8.wgsl",
    includes: ["epilogue.wgsl", `gemv_tile_m${tile.mt}r${tile.r}.wgsl`],
    inputs: [packActivations(inputs.xq!.data as Int8Array, m, k), halfWords(inputs.xscale!), packWeights(inputs.q!.data as Uint8Array, n, k), zs, halfWords(scale)],
    outputs: [{ name: "y", dtype: "f16", shape: [m, n] }],
    params: [m, n, kc, cpg, g],
    grid: m === 0 || n === 0 ? [0, 0] : [gx, gy],
  };
}
