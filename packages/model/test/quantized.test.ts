/**
 * Tests of the W4A8KV4 forward pass (packages/model/src/quantized). Helpers first: a seeded
 * synthetic LlamaWeights built here (not the package's generator), an independent float64
 * forward pass, the dequantized weights of a QuantizedModel, a recording backend, cosine.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  bindInputs,
  fromF16Bits,
  getSignature,
  OP_NAMES,
  ParamError,
  RangeViolationError,
  Rng,
  sumR32,
  tensor,
  toF16Bits,
  type Backend,
  type NamedTensors,
  type OpName,
  type ParamValues,
  type Tensor,
} from "@qoq/core";
import { KV4_PAGE_SIZE, runReference } from "@qoq/reference";
import { loadLlama2cBin } from "../src/llama2c.js";
import {
  createQuantizedModel,
  createW4A8KV4Model,
  lmHeadR32,
  padColumns,
  quantizeLinear,
  type QuantizedLinear,
  type QuantizedModel,
  type W4A8KV4Model,
  type W4A8KV4Session,
} from "../src/quantized/index.js";
import type { LlamaConfig } from "../src/config.js";
import type { LayerWeights, LlamaWeights } from "../src/weights.js";

/** Small test config: dim 48 and hidden 80 are not multiples of 32, so group 32 pads both. */
export const TEST_CONFIG: LlamaConfig = {
  dim: 48,
  hiddenDim: 80,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 64,
  seqLen: 128,
  ropeTheta: 10000,
  ropeStyle: "rotate_half",
  normEps: 1e-5,
  tiedEmbeddings: false,
};

/** Gaussian weights N(0, 1/fanIn), norms γ = 1 + 0.1·N(0,1), embeddings N(0,1); no outliers. */
export function testWeights(config: LlamaConfig = TEST_CONFIG, seed = 1234): LlamaWeights {
  const rng = new Rng(seed);
  const mat = (rows: number, cols: number) => Float32Array.from({ length: rows * cols }, () => rng.normal() / Math.sqrt(cols));
  const norm = (n: number) => Float32Array.from({ length: n }, () => 1 + 0.1 * rng.normal());
  const c = config;
  const hd = c.dim / c.nHeads;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    layers.push({
      attnNorm: norm(c.dim),
      wq: mat(c.nHeads * hd, c.dim),
      wk: mat(c.nKvHeads * hd, c.dim),
      wv: mat(c.nKvHeads * hd, c.dim),
      wo: mat(c.dim, c.nHeads * hd),
      ffnNorm: norm(c.dim),
      w1: mat(c.hiddenDim, c.dim),
      w2: mat(c.dim, c.hiddenDim),
      w3: mat(c.hiddenDim, c.dim),
    });
  }
  const tokenEmbedding = Float32Array.from({ length: c.vocabSize * c.dim }, () => rng.normal());
  const classifier = c.tiedEmbeddings ? tokenEmbedding : mat(c.vocabSize, c.dim);
  return { config: c, tokenEmbedding, layers, finalNorm: norm(c.dim), classifier };
}

/** Seeded random token ids. */
export function randomTokens(n: number, vocab: number, seed = 7): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(0, vocab - 1));
}

/** The unquantized model in float64 (textbook LLaMA), logits of every position of `tokens`. */
export function forwardF64(w: LlamaWeights, tokens: readonly number[]): Float64Array[] {
  const c = w.config;
  const hd = c.dim / c.nHeads;
  const group = c.nHeads / c.nKvHeads;
  const kvDim = c.nKvHeads * hd;
  const matvec = (m: Float32Array, x: Float64Array, rows: number, cols: number) => {
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += m[r * cols + j]! * x[j]!;
      y[r] = s;
    }
    return y;
  };
  const rms = (x: Float64Array, g: Float32Array) => {
    let ss = 0;
    for (const v of x) ss += v * v;
    const r = 1 / Math.sqrt(ss / x.length + c.normEps);
    return x.map((v, i) => v * r * g[i]!);
  };
  const rope = (x: Float64Array, heads: number, pos: number) => {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const a = h * hd + (c.ropeStyle === "rotate_half" ? i : 2 * i);
        const b = h * hd + (c.ropeStyle === "rotate_half" ? i + hd / 2 : 2 * i + 1);
        const ang = pos * Math.pow(c.ropeTheta, (-2 * i) / hd);
        const [xa, xb] = [x[a]!, x[b]!];
        x[a] = xa * Math.cos(ang) - xb * Math.sin(ang);
        x[b] = xa * Math.sin(ang) + xb * Math.cos(ang);
      }
    }
  };
  const keys: Float64Array[][] = w.layers.map(() => []);
  const vals: Float64Array[][] = w.layers.map(() => []);
  const out: Float64Array[] = [];
  tokens.forEach((tok, pos) => {
    let x: Float64Array = Float64Array.from(w.tokenEmbedding.subarray(tok * c.dim, (tok + 1) * c.dim));
    w.layers.forEach((L, l) => {
      const xb = rms(x, L.attnNorm);
      const q = matvec(L.wq, xb, c.dim, c.dim);
      const k = matvec(L.wk, xb, kvDim, c.dim);
      const v = matvec(L.wv, xb, kvDim, c.dim);
      rope(q, c.nHeads, pos);
      rope(k, c.nKvHeads, pos);
      keys[l]!.push(k);
      vals[l]!.push(v);
      const att = new Float64Array(c.dim);
      for (let h = 0; h < c.nHeads; h++) {
        const g = Math.floor(h / group);
        const s = keys[l]!.map((kk) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[h * hd + i]! * kk[g * hd + i]!;
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) {
          let acc = 0;
          e.forEach((ej, j) => (acc += ej * vals[l]![j]![g * hd + i]!));
          att[h * hd + i] = acc / sum;
        }
      }
      const ao = matvec(L.wo, att, c.dim, c.dim);
      x = x.map((xv, i) => xv + ao[i]!);
      const xb2 = rms(x, L.ffnNorm);
      const gg = matvec(L.w1, xb2, c.hiddenDim, c.dim);
      const uu = matvec(L.w3, xb2, c.hiddenDim, c.dim);
      const hb = gg.map((gv, i) => (gv / (1 + Math.exp(-gv))) * uu[i]!);
      const dn = matvec(L.w2, hb, c.dim, c.hiddenDim);
      x = x.map((xv, i) => xv + dn[i]!);
    });
    out.push(matvec(w.classifier, rms(x, w.finalNorm), c.vocabSize, c.dim));
  });
  return out;
}

/** Cosine similarity of two vectors. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Index of the largest element. */
export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** One recorded op call: the op and the shapes of its inputs. */
export interface RecordedCall {
  op: OpName;
  shapes: Record<string, readonly number[]>;
  params: ParamValues;
}

/**
 * A backend that records every call and runs it through `runReference` (which checks the
 * inputs against the op's signature, resolves the parameters and checks the outputs); it also
 * binds the inputs itself, so a call the signature rejects fails here even if a future
 * reference forgot a check.
 */
export function recordingBackend(): Backend & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  return {
    name: "recording",
    calls,
    supports: () => "supported",
    run: (op: OpName, inputs: NamedTensors, params: ParamValues = {}) => {
      bindInputs(getSignature(op), inputs);
      const shapes: Record<string, readonly number[]> = {};
      for (const [k, t] of Object.entries(inputs)) shapes[k] = [...t.shape];
      calls.push({ op, shapes, params });
      return Promise.resolve(runReference(op, inputs, params));
    },
    dispose: () => Promise.resolve(),
  };
}

function dequantLinear(l: QuantizedLinear): Float32Array {
  let w: Float32Array; let kk: number;
  if (l.variant === "g128") { w = runReference("dequant_weight_g128", { q: l.q, zero: l.zero, s2: l.s2, s1: l.s1 }).w!.data as Float32Array; kk = l.kPadded; }
  else if (l.variant === "chn") { w = runReference("dequant_weight_chn", { q: l.q, zero: l.zero, scale: l.scale }).w!.data as Float32Array; kk = l.k; }
  else { const q = l.q.data as Int8Array; const out = new Float32Array(q.length); const sc = l.scale.data as Uint16Array; for (let i = 0; i < q.length; i++) out[i] = Math.fround(fromF16Bits(sc[Math.floor(i / l.k)]!) * q[i]!); w = out; kk = l.k; }
  const out = new Float32Array(l.n * l.k);
  for (let r = 0; r < l.n; r++) out.set(w.subarray(r * kk, r * kk + l.k), r * l.k);
  return out;
}
function f16arr(t: Tensor): Float32Array { return Float32Array.from(t.data as Uint16Array, (b) => fromF16Bits(b)); }
function dequantModel(q: QuantizedModel): LlamaWeights {
  const c = q.config; const hd = c.dim / c.nHeads; const qd = c.nHeads * hd; const kv = c.nKvHeads * hd;
  return { config: c, tokenEmbedding: f16arr(q.tokenEmbedding), classifier: f16arr(q.lmHead), finalNorm: f16arr(q.finalNorm), layers: q.layers.map((L) => {
    const qkv = dequantLinear(L.qkv); const gu = dequantLinear(L.gateUp);
    return { attnNorm: f16arr(L.attnNorm), ffnNorm: f16arr(L.ffnNorm), wq: qkv.slice(0, qd * c.dim), wk: qkv.slice(qd * c.dim, (qd + kv) * c.dim), wv: qkv.slice((qd + kv) * c.dim), wo: dequantLinear(L.o), w1: gu.slice(0, c.hiddenDim * c.dim), w3: gu.slice(c.hiddenDim * c.dim), w2: dequantLinear(L.down) };
  }) };
}

/** True when two logits vectors hold the same binary32 bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

/** The cached KV4 row (codes, scale bits, min bits) of one token and KV head of a session. */
function cacheRow(m: W4A8KV4Model, s: W4A8KV4Session, layer: number, kind: "k" | "v", pos: number, head: number): number[] {
  const pool = m.cache.pool(layer, kind);
  const page = s.pages[Math.floor(pos / KV4_PAGE_SIZE)]!;
  const row = (page * m.config.nKvHeads + head) * KV4_PAGE_SIZE + (pos % KV4_PAGE_SIZE);
  const d = m.config.dim / m.config.nHeads;
  return [...pool.codes.subarray(row * d, (row + 1) * d), pool.scale[row]!, pool.min[row]!];
}

const G = 32; // divides neither dim 48 nor hidden 80: every GEMM of the test model is zero-padded
const g32 = (w: LlamaWeights, backend?: Backend) => createW4A8KV4Model(w, backend ? { variant: "g128", group: G, backend } : { variant: "g128", group: G });

describe("prefill vs decode", () => {
  it("prefix logits and cache rows are bit-identical; decode tokens read the KV4 past", async () => {
    const w = testWeights();
    const toks = randomTokens(12, TEST_CONFIG.vocabSize, 11);
    const A = g32(w);
    const sa = A.newSession();
    const full = await sa.forward(toks); // one prefill of all 12 tokens
    const B = g32(w);
    const sb = B.newSession();
    const pre = await sb.forward(toks.slice(0, 7)); // prefill of 7 ...
    const dec = await sb.forward(toks.slice(7)); // ... then 5 decode steps
    expect(pre.length + dec.length).toBe(12);
    // Must be equal: a prefill row depends only on tokens 0..t (row-wise GEMMs/norms, causal
    // attention over fp16 k/v), so the 7 prefix logits of both are the same bits.
    for (let i = 0; i < 7; i++) expect(sameBits(pre[i]!, full[i]!), `position ${i}`).toBe(true);
    // Must be equal: every cache row of the 7 prefix tokens (all layers), and the layer-0 rows of
    // all 12 tokens (layer-0 k/v depend only on the token and its position, not on attention).
    for (let l = 0; l < TEST_CONFIG.nLayers; l++) {
      for (let pos = 0; pos < (l === 0 ? 12 : 7); pos++) {
        for (let g = 0; g < TEST_CONFIG.nKvHeads; g++) {
          for (const kind of ["k", "v"] as const) expect(cacheRow(B, sb, l, kind, pos, g)).toEqual(cacheRow(A, sa, l, kind, pos, g));
        }
      }
    }
    // Not equal in general: decode reads the past from KV4 codes where prefill used fp16 k/v.
    // They differ, but only by the KV4 rounding of the past.
    expect(dec.some((d, i) => !sameBits(d, full[7 + i]!))).toBe(true);
    const cs = dec.map((d, i) => cosine(d, full[7 + i]!)); // measured min 0.9982
    for (const x of cs) expect(x).toBeGreaterThan(0.995);
    // Feeding the decode tokens in one call or in separate calls is the same computation.
    const sc = g32(w).newSession();
    await sc.forward(toks.slice(0, 7));
    for (let i = 7; i < 12; i++) expect(sameBits((await sc.forward([toks[i]!]))[0]!, dec[i - 7]!)).toBe(true);
  });

  it("prefillKv 'kv4': a prefill gives the bits of feeding the tokens one by one (the past read from KV4)", async () => {
    const w = testWeights();
    const toks = randomTokens(70, TEST_CONFIG.vocabSize, 13); // crosses a 64-token page
    const kv4 = createW4A8KV4Model(w, { variant: "g128", group: G, prefillKv: "kv4" });
    const batched = await kv4.newSession().forward(toks);
    const stepper = g32(w).newSession();
    await stepper.forward([toks[0]!]); // a 1-token prefill attends only to itself: same in both modes
    for (let i = 1; i < toks.length; i++) {
      const one = (await stepper.forward([toks[i]!]))[0]!;
      expect(sameBits(one, batched[i]!), `position ${i}`).toBe(true);
    }
    // And it is not the fp16 prefill: past keys/values differ by their KV4 rounding.
    const fp16 = await g32(w).newSession().forward(toks);
    expect(batched.some((d, i) => !sameBits(d, fp16[i]!))).toBe(true);
    expect(() => createW4A8KV4Model(w, { prefillKv: "kv8" as "kv4" })).toThrow(ParamError);
  });

  it("decodes across a page boundary; non-contiguous pages give the same bits as contiguous ones", async () => {
    const w = testWeights();
    const [n, p0] = [70, 61]; // prefill 61 tokens, then decode positions 61 … 69 across the page boundary at 64
    const toks = randomTokens(n, TEST_CONFIG.vocabSize, 5);
    const other = randomTokens(n, TEST_CONFIG.vocabSize, 6);
    // Alone: pages 0, 1.
    const C = g32(w);
    const sc = C.newSession();
    const alone = [...(await sc.forward(toks.slice(0, p0)))];
    for (let i = p0; i < n; i++) alone.push(...(await sc.forward([toks[i]!])));
    expect(sc.pages).toEqual([0, 1]);
    // Interleaved with a second session: s1 gets pages 0 and 2, s2 pages 1 and 3.
    const D = g32(w);
    const s1 = D.newSession();
    const s2 = D.newSession();
    const inter = [...(await s1.forward(toks.slice(0, p0)))];
    await s2.forward(other.slice(0, p0));
    for (let i = p0; i < n; i++) {
      inter.push(...(await s1.forward([toks[i]!])));
      await s2.forward([other[i]!]);
    }
    expect(s1.pages).toEqual([0, 2]);
    expect(s2.pages).toEqual([1, 3]);
    for (let i = 0; i < n; i++) expect(sameBits(inter[i]!, alone[i]!), `position ${i}`).toBe(true);
    // Positions past 64 read block 0 from page 0 and their own block from page 2 through the block
    // table: still as close to a full prefill (which never reads KV4) as any decode step.
    const prefill = await g32(w).newSession().forward(toks);
    const cs = alone.slice(p0).map((l, i) => cosine(l, prefill[p0 + i]!)); // measured min 0.9996
    for (const x of cs) expect(x).toBeGreaterThan(0.995);
  });
});

describe("KV4 pages", () => {
  it("allocates disjoint pages, grows, frees on dispose, and reuses freed pages", async () => {
    const w = testWeights();
    const m = g32(w);
    expect(m.cache.capacity).toBe(4);
    const s1 = m.newSession();
    const s2 = m.newSession();
    const s3 = m.newSession();
    await s1.forward(randomTokens(70, 64, 1)); // 2 pages
    await s2.forward(randomTokens(10, 64, 2)); // 1 page
    await s3.forward(randomTokens(63, 64, 3)); // 1 page: all 4 in use
    expect(m.cache.capacity).toBe(4);
    await s3.forward([5]); // position 63: still page 3
    expect(m.cache.capacity).toBe(4);
    await s3.forward([6]); // position 64: a 5th page, so the pools grow
    expect([s1.pages, s2.pages, s3.pages]).toEqual([[0, 1], [2], [3, 4]]);
    expect(m.cache.capacity).toBe(8);
    expect(m.cache.pagesInUse).toBe(5);
    const live = (ss: W4A8KV4Session[]) => {
      const all = ss.flatMap((s) => [...s.pages]);
      expect(new Set(all).size).toBe(all.length); // no page shared by two live sessions
      for (const s of ss) for (const p of s.pages) expect(m.cache.ownerOf(p)).toBe(s.id);
    };
    live([s1, s2, s3]);
    // s2's history, replayed alone on a fresh model: the reference for "nobody overwrote s2".
    const twin = g32(w).newSession();
    await twin.forward(randomTokens(10, 64, 2));
    s1.dispose();
    expect(m.cache.pagesInUse).toBe(3);
    expect(m.cache.ownerOf(0)).toBe(-1);
    expect(m.cache.ownerOf(1)).toBe(-1);
    s1.dispose(); // idempotent
    expect(m.cache.pagesInUse).toBe(3);
    await expect(s1.forward([1])).rejects.toBeInstanceOf(ParamError);
    const s4 = m.newSession();
    await s4.forward(randomTokens(66, 64, 4)); // reuses s1's freed pages, lowest first
    expect(s4.pages).toEqual([0, 1]);
    live([s2, s3, s4]);
    const next = randomTokens(3, 64, 9);
    for (const t of next) expect(sameBits((await s2.forward([t]))[0]!, (await twin.forward([t]))[0]!)).toBe(true);
    for (const s of [s2, s3, s4]) s.dispose();
    expect(m.cache.pagesInUse).toBe(0);
    // Releasing pages one does not own is a typed error.
    const p = m.cache.allocate(99);
    expect(() => m.cache.release(98, [p])).toThrow(RangeViolationError);
  });
});

describe("zero padding", () => {
  it("g128 with K not a multiple of the group: padded columns are w8 = 0 and the GEMM equals the unpadded integer product", async () => {
    const rng = new Rng(42);
    const backend = { name: "reference", supports: () => "supported" as const, run: (op: OpName, i: NamedTensors, p?: ParamValues) => Promise.resolve(runReference(op, i, p)), dispose: () => Promise.resolve() };
    const [n, k, group, m] = [6, 40, 16, 3];
    const w = Float32Array.from({ length: n * k }, () => rng.normal() * (rng.float() < 0.1 ? 4 : 1));
    const lin = await quantizeLinear(backend, w, n, k, "g128", group);
    if (lin.variant !== "g128") throw new Error("variant");
    expect(lin.kPadded).toBe(48);
    const q = lin.q.data as Uint8Array;
    const z = lin.zero.data as Uint8Array;
    const s2 = lin.s2.data as Uint8Array;
    const groups = lin.kPadded / group;
    for (let r = 0; r < n; r++) for (let c = k; c < lin.kPadded; c++) expect(q[r * lin.kPadded + c]).toBe(z[r * groups + 2]); // code = zero point
    // Level 1 is the unpadded row's: s1 equals the s1 of quantizing the unpadded weight (group 8 divides 40).
    const unpadded = runReference("quant_weight_g128", { w: tensor("f32", [n, k], w) }, { group: 8 });
    expect([...lin.s1.data]).toEqual([...unpadded.s1!.data]);
    // Activation codes quantized from unpadded rows, then padded with zero codes as the model does.
    const xq = Int8Array.from({ length: m * k }, () => rng.int(-127, 127));
    const xscale = tensor("f16", [m], Uint16Array.from({ length: m }, () => toF16Bits(Math.fround(0.01 + rng.float() / 10))));
    const y = runReference("gemm_w4a8_g128", { xq: tensor("i8", [m, lin.kPadded], padColumns(xq, m, k, lin.kPadded)), xscale, q: lin.q, zero: lin.zero, s2: lin.s2, s1: lin.s1 }).y!;
    // Unpadded computation of the same integer product, written out here.
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let acc = 0;
        for (let i = 0; i < k; i++) {
          const gi = c * groups + Math.floor(i / group);
          acc += xq[r * k + i]! * (q[c * lin.kPadded + i]! - z[gi]!) * s2[gi]!;
        }
        const s = Math.fround(fromF16Bits(lin.s1.data[c]!) * fromF16Bits(xscale.data[r]!));
        expect(y.data[r * n + c]).toBe(toF16Bits(Math.fround(Math.fround(acc) * s)));
      }
    }
  });
});

describe("accuracy against an unquantized float64 forward pass", () => {
  // Measured on this model (24 tokens: 16 prefill + 8 decode), min / mean cosine of the logits:
  //   vs float64 of the *dequantized* weights: ≥ 0.9980 for every variant — what remains is A8,
  //     KV4 and fp16 rounding of activations;
  //   vs float64 of the original weights: w8a8 0.9990 / 0.9997; g128 (g32) 0.9795 / 0.9901;
  //     g128 (g128) 0.9732 / 0.9881; chn 0.9734 / 0.9861 — the W4 RTN weight error itself
  //     (≈ 9% relative per Gaussian row at 4 bits), which the dequantized comparison isolates.
  // Bounds sit a margin below the measurements; a wrong op order, head mapping, RoPE style or
  // padding drops the cosine far below them.
  const cases = [
    { variant: "g128", group: 32, minDq: 0.995, min: 0.96, mean: 0.98 },
    { variant: "g128", group: 128, minDq: 0.995, min: 0.96, mean: 0.98 },
    { variant: "chn", minDq: 0.995, min: 0.96, mean: 0.975 },
    { variant: "w8a8", minDq: 0.995, min: 0.995, mean: 0.998 },
  ] as const;
  for (const cs of cases) {
    it(`${cs.variant}${"group" in cs ? ` group ${cs.group}` : ""}`, async () => {
      const w = testWeights();
      const toks = randomTokens(24, TEST_CONFIG.vocabSize);
      const m = createW4A8KV4Model(w, "group" in cs ? { variant: cs.variant, group: cs.group } : { variant: cs.variant });
      const s = m.newSession();
      const got = [...(await s.forward(toks.slice(0, 16))), ...(await s.forward(toks.slice(16)))];
      const dq = forwardF64(dequantModel(await m.quantized()), toks);
      const ref = forwardF64(w, toks);
      const cd = got.map((l, i) => cosine(l, dq[i]!));
      const cr = got.map((l, i) => cosine(l, ref[i]!));
      expect(Math.min(...cd)).toBeGreaterThan(cs.minDq);
      expect(Math.min(...cr)).toBeGreaterThan(cs.min);
      expect(cr.reduce((a, b) => a + b) / cr.length).toBeGreaterThan(cs.mean);
    });
  }
});

describe("ops through the Backend", () => {
  it("calls only registered ops, signature-valid, with the counts the dataflow gives per step", async () => {
    const c = TEST_CONFIG;
    const hd = c.dim / c.nHeads;
    const rec = recordingBackend();
    const m = g32(testWeights(), rec);
    expect(m.label).toBe("w4a8kv4-g32 (rtn) on recording");
    const s = m.newSession();
    const count = (from: number) => {
      const out: Record<string, number> = {};
      for (const call of rec.calls.slice(from)) out[call.op] = (out[call.op] ?? 0) + 1;
      return out;
    };
    await s.forward([1, 2, 3, 4, 5]); // quantization (first use) + one prefill step
    expect(count(0)).toEqual({
      quant_weight_g128: 4 * c.nLayers, // qkv, o, gate_up, down
      rmsnorm_quant: 2 * c.nLayers + 1,
      gemm_w4a8_g128: 4 * c.nLayers,
      rope: 2 * c.nLayers,
      quant_kv4: 2 * c.nLayers,
      attention_prefill: c.nLayers,
      quant_act_int8: c.nLayers,
      residual_add: 2 * c.nLayers,
      silu_mul_quant: c.nLayers,
    });
    for (const call of rec.calls) expect(OP_NAMES).toContain(call.op);
    // Every activation op of the prefill sees all 5 tokens at once; GEMM inputs are padded to 32·k.
    const pre = rec.calls.filter((x) => !x.op.startsWith("quant_weight"));
    for (const call of pre) {
      const rows = call.shapes.x?.[0] ?? call.shapes.xq?.[0] ?? call.shapes.q?.[0] ?? call.shapes.v?.[0] ?? call.shapes.a?.[0] ?? call.shapes.gate?.[0];
      expect(rows, call.op).toBe(5);
      if (call.op === "gemm_w4a8_g128") expect(call.shapes.xq![1]! % G).toBe(0);
    }
    expect(pre.find((x) => x.op === "attention_prefill")!.shapes).toEqual({ q: [5, c.nHeads, hd], k: [5, c.nKvHeads, hd], v: [5, c.nKvHeads, hd] });
    const before = rec.calls.length;
    await s.forward([6, 7]); // two decode steps
    expect(count(before)).toEqual({
      rmsnorm_quant: 2 * (2 * c.nLayers + 1),
      gemm_w4a8_g128: 2 * 4 * c.nLayers,
      rope: 2 * 2 * c.nLayers,
      quant_kv4: 2 * 2 * c.nLayers,
      attention_kv4_decode: 2 * c.nLayers,
      quant_act_int8: 2 * c.nLayers,
      residual_add: 2 * 2 * c.nLayers,
      silu_mul_quant: 2 * c.nLayers,
    });
    const dec = rec.calls.slice(before).filter((x) => x.op === "attention_kv4_decode");
    expect(dec.map((x) => x.shapes.block_table)).toEqual(Array(2 * c.nLayers).fill([1, 1]));
    expect(dec[0]!.shapes.k_cache!.slice(1)).toEqual([c.nKvHeads, KV4_PAGE_SIZE, hd]);
  });

  it("chn and w8a8 use their GEMM and weight quantizer and no padding", async () => {
    for (const [variant, wop, gop] of [["chn", "quant_weight_chn", "gemm_w4a8_chn"], ["w8a8", "quant_weight_int8", "gemm_w8a8"]] as const) {
      const rec = recordingBackend();
      const m = createW4A8KV4Model(testWeights(), { variant, backend: rec });
      await m.newSession().forward([3, 4]);
      const ops = new Set(rec.calls.map((x) => x.op));
      expect(ops.has(wop) && ops.has(gop)).toBe(true);
      expect([...ops].filter((o) => o.startsWith("gemm_") || o.startsWith("quant_weight"))).toEqual([wop, gop]);
      for (const call of rec.calls.filter((x) => x.op === gop)) expect([TEST_CONFIG.dim, TEST_CONFIG.hiddenDim]).toContain(call.shapes.xq![1]);
    }
  });
});

describe("lm_head and errors", () => {
  it("lmHeadR32 gives the bits of sumR32", () => {
    const rng = new Rng(3);
    for (const dim of [1, 5, 31, 32, 33, 63, 64, 65, 100, 128, 200]) {
      const vocab = 7;
      // Binary16 values as in the model, plus binary32 values, zeros of both signs, and cancelling pairs (exact-zero lane sums).
      const value = (i: number): number => {
        const r = rng.float();
        if (r < 0.1) return r < 0.05 ? -0 : 0;
        if (r < 0.15) return i % 2 === 0 ? 1.5 : -1.5;
        return r < 0.6 ? fromF16Bits(toF16Bits(Math.fround(rng.normal()))) : Math.fround(rng.normal() * 1e3);
      };
      const w = Float32Array.from({ length: vocab * dim }, (_, i) => value(i));
      const y = Float32Array.from({ length: dim }, (_, i) => value(i));
      const out = new Float32Array(vocab + 3).fill(NaN);
      lmHeadR32(w, y, vocab, dim, out, 2);
      expect(Object.is(out[0], NaN) && Object.is(out[1], NaN) && Object.is(out[vocab + 2], NaN)).toBe(true);
      for (let v = 0; v < vocab; v++) expect(Object.is(out[2 + v], Math.fround(sumR32(dim, (d) => Math.fround(w[v * dim + d]! * y[d]!))))).toBe(true);
    }
  });

  it("createQuantizedModel over the same QuantizedModel computes the same bits", async () => {
    const m = g32(testWeights());
    const q = await m.quantized();
    expect([q.variant, q.group, q.method, q.layers.length]).toEqual(["g128", G, "rtn", TEST_CONFIG.nLayers]);
    const other = createQuantizedModel(q);
    expect(other.label).toBe("w4a8kv4-g32 (rtn) on reference");
    const toks = [3, 1, 4, 1, 5];
    const a = await m.newSession().forward(toks);
    const b = await other.newSession().forward(toks);
    for (let i = 0; i < toks.length; i++) expect(sameBits(a[i]!, b[i]!)).toBe(true);
  });

  it("rejects bad options and tokens with typed errors", async () => {
    const w = testWeights();
    expect(() => createW4A8KV4Model(w, { variant: "w3" as never })).toThrow(ParamError);
    expect(() => createW4A8KV4Model(w, { variant: "chn", group: 64 })).toThrow(ParamError);
    expect(() => createW4A8KV4Model(w, { group: 0 })).toThrow(ParamError);
    const s = g32(w).newSession();
    await expect(s.forward([TEST_CONFIG.vocabSize])).rejects.toBeInstanceOf(RangeViolationError);
    expect(await s.forward([])).toEqual([]);
    const a = s.forward([1, 2]);
    await expect(s.forward([3])).rejects.toBeInstanceOf(ParamError);
    expect((await a).length).toBe(2);
  });
});

const STORIES = new URL("../../../../shared/data/stories260K.bin", import.meta.url).pathname;

describe("stories260K", () => {
  if (!existsSync(STORIES)) throw new Error(`test data file missing: ${STORIES} (tests read ../shared/data relative to the repo root)`);
  it("prefill + decode logits agree with float64 and prefix logits are exact", async () => {
    const w = loadLlama2cBin(STORIES);
    expect(w.config.ropeStyle).toBe("interleaved");
    const toks = [1, ...randomTokens(23, w.config.vocabSize, 8)];
    const ref = forwardF64(w, toks);
    // Measured (20 prefill + 4 decode tokens): g128 min 0.9965 / mean 0.9988, top-1 18/24;
    // w8a8 min 0.9983 / mean 0.99986, top-1 24/24.
    for (const [variant, minCos, meanCos] of [["g128", 0.99, 0.995], ["w8a8", 0.995, 0.999]] as const) {
      const m = createW4A8KV4Model(w, { variant });
      const s = m.newSession();
      const got = [...(await s.forward(toks.slice(0, 20))), ...(await s.forward(toks.slice(20)))];
      const cs = got.map((l, i) => cosine(l, ref[i]!));
      expect(Math.min(...cs), variant).toBeGreaterThan(minCos);
      expect(cs.reduce((a, b) => a + b) / cs.length, variant).toBeGreaterThan(meanCos);
      const again = await m.newSession().forward(toks.slice(0, 20));
      for (let i = 0; i < 20; i++) expect(sameBits(again[i]!, got[i]!)).toBe(true);
    }
  });
});
