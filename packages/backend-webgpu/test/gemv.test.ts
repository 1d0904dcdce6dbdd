/**
 * The packed W4A8 kernel (`gemv_w4a8.wgsl`) against the reference, bit for bit, on shapes chosen
 * to hit every tile (M = 1, 3, 8, 16, 17, 40), ragged N, K padding (per channel) and both the
 * packed path and the byte-per-code fallback (a g128 group size that is not a multiple of 32).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng, type NamedTensors, type Tensor } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { gemvPlan, gemvTileFor, gemvTileName, gemvTileWgsl, packWeights, GEMV_TILES } from "../src/gemv.js";
import { readWgsl } from "../src/kernels.js";
import type { WebGpuBackend } from "../src/index.js";
import { startBackend } from "./setup.js";

let backend: WebGpuBackend;
let fallback: WebGpuBackend;
beforeAll(async () => {
  backend = await startBackend();
  fallback = await startBackend({ dot4: false });
});
afterAll(async () => {
  await backend?.dispose();
  await fallback?.dispose();
});

const f16 = (rng: Rng, n: number): Tensor => {
  // Positive normal binary16 scales in [2^-12, 2^-6).
  const d = new Uint16Array(n);
  for (let i = 0; i < n; i++) d[i] = ((3 + Math.floor(rng.float() * 6)) << 10) | Math.floor(rng.float() * 1024);
  return { dtype: "f16", shape: [n], data: d };
};
const ints = (rng: Rng, n: number, lo: number, hi: number): number[] => Array.from({ length: n }, () => lo + Math.floor(rng.float() * (hi - lo + 1)));

function act(rng: Rng, m: number, k: number): NamedTensors {
  const xq = new Int8Array(ints(rng, m * k, -128, 127));
  const xqsum = new Int32Array(m);
  for (let r = 0; r < m; r++) for (let i = 0; i < k; i++) xqsum[r]! += xq[r * k + i]!;
  return { xq: { dtype: "i8", shape: [m, k], data: xq }, xscale: f16(rng, m), xqsum: { dtype: "i32", shape: [m], data: xqsum } };
}

function g128(rng: Rng, m: number, n: number, k: number, gs: number): NamedTensors {
  const g = k / gs;
  const zero = new Uint8Array(n * g);
  const s2 = new Uint8Array(n * g);
  const q = new Uint8Array(n * k);
  for (let i = 0; i < n * g; i++) {
    zero[i] = Math.floor(rng.float() * 16);
    // Largest s2 that keeps (q − z)·s2 inside INT8 for every code.
    const span = Math.max(zero[i]!, 15 - zero[i]!);
    s2[i] = 1 + Math.floor(rng.float() * Math.min(16, Math.floor(127 / Math.max(span, 1))));
  }
  for (let i = 0; i < n * k; i++) q[i] = Math.floor(rng.float() * 16);
  const { xq, xscale } = act(rng, m, k);
  return { xq: xq!, xscale: xscale!, q: { dtype: "u8", shape: [n, k], data: q }, zero: { dtype: "u8", shape: [n, g], data: zero }, s2: { dtype: "u8", shape: [n, g], data: s2 }, s1: f16(rng, n) };
}

function chn(rng: Rng, m: number, n: number, k: number): NamedTensors {
  return { ...act(rng, m, k), q: { dtype: "u8", shape: [n, k], data: new Uint8Array(ints(rng, n * k, 0, 15)) }, zero: { dtype: "u8", shape: [n], data: new Uint8Array(ints(rng, n, 0, 15)) }, scale: f16(rng, n) };
}

function same(a: Tensor, b: Tensor): boolean {
  const x = a.data as Uint16Array;
  const y = b.data as Uint16Array;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

describe("packed W4A8 kernel (gemv_w4a8.wgsl)", () => {
  it("packs eight codes per word, low nibbles first, zero-padded", () => {
    const q = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const w = packWeights(q, 1, 9);
    expect(w.length).toBe(4);
    expect(w[0]).toBe((0x51 | (0x62 << 8) | (0x73 << 16) | (0x84 << 24)) >>> 0);
    expect(w[1]).toBe(9);
  });

  it("has a tile include for every tile it selects", () => {
    for (const m of [1, 2, 4, 5, 8, 9, 16, 1000]) expect(GEMV_TILES).toContainEqual(gemvTileFor(m));
  });

  const cases: [string, number, number, number, number][] = [
    ["g128", 1, 37, 256, 128],
    ["g128", 3, 70, 384, 128],
    ["g128", 8, 16, 128, 32],
    ["g128", 16, 45, 512, 64],
    ["g128", 17, 33, 256, 128],
    ["g128", 40, 9, 128, 128],
    ["g128", 2, 19, 96, 48], // group of 48: the byte-per-code kernel
    ["g128", 1, 5, 80, 16], // group of 16: the byte-per-code kernel
    ["chn", 1, 41, 100, 0],
    ["chn", 5, 24, 7, 0],
    ["chn", 16, 50, 512, 0],
    ["chn", 33, 17, 65, 0],
  ];
  for (const [kind, m, n, k, gs] of cases) {
    it(`${kind} m=${m} n=${n} k=${k}${gs ? ` group ${gs}` : ""} matches the reference (dot4 on and off)`, async () => {
      const rng = new Rng(1000 * m + n + k);
      const op = kind === "g128" ? "gemm_w4a8_g128" : "gemm_w4a8_chn";
      const inputs = kind === "g128" ? g128(rng, m, n, k, gs) : chn(rng, m, n, k);
      const packed = gemvPlan(op, inputs, { M: m, N: n, K: k, G: gs ? k / gs : 1 });
      expect(packed !== undefined).toBe(kind === "chn" || gs % 32 === 0);
      const want = runReference(op, inputs).y!;
      for (const b of [backend, fallback]) {
        const got = (await b.run(op, inputs)).y!;
        expect(same(got, want), `${b.info.dot4 ? "dot4" : "fallback"}`).toBe(true);
      }
    });
  }

});

describe("generated tile entry points", () => {
  it("kernels/wgsl/gemv_tile_*.wgsl are exactly what gemvTileWgsl generates", () => {
    for (const tile of GEMV_TILES) expect(readWgsl(`gemv_tile_${gemvTileName(tile)}.wgsl`), gemvTileName(tile)).toBe(gemvTileWgsl(tile));
  });
});
