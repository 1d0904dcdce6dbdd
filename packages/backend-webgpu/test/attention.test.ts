/**
 * `attention_kv4_decode` on shapes the conformance spec does not reach, against the reference bit
 * for bit, with subgroups in every kernel and off: query-head groups of 6 (two head batches of the value
 * kernel, the second partial), head dims that are not multiples of 8 or 32 (20, 136), contexts
 * from 0 to 1000 keys in one batch (several 64-key blocks, lanes with unequal key counts), scores
 * large enough that most e_j underflow, and D = 1040 (past the split kernels' limit: the
 * one-dispatch kernel).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bindInputs, getSignature, Rng, type NamedTensors, type Tensor } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { kv4DecodePlan, KV4_SPLIT_MAX_D, type WebGpuBackend } from "../src/index.js";
import { startBackend } from "./setup.js";

let on: WebGpuBackend;
let off: WebGpuBackend;
beforeAll(async () => {
  on = await startBackend({ subgroups: "all" });
  off = await startBackend({ subgroups: "off" });
});
afterAll(async () => {
  await on?.dispose();
  await off?.dispose();
});

/** binary16 bits of values spread over ±2^(lo…hi) with random mantissas and signs. */
function f16(rng: Rng, shape: number[], lo: number, hi: number, signed = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const e = 15 + lo + Math.floor(rng.float() * (hi - lo + 1));
    d[i] = (signed && rng.float() < 0.5 ? 0x8000 : 0) | (e << 10) | Math.floor(rng.float() * 1024);
  }
  return { dtype: "f16", shape, data: d };
}

function decodeInputs(rng: Rng, ctx: number[], hq: number, hkv: number, d: number, qHi: number): NamedTensors {
  const b = ctx.length;
  const nb = Math.max(1, ...ctx.map((c) => Math.ceil(c / 64)));
  const pages = b * nb;
  // Pages shuffled so neighbouring blocks of a sequence are not neighbouring pages.
  const order = Array.from({ length: pages }, (_, i) => i);
  for (let i = pages - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const codes = (): Tensor => ({ dtype: "u8", shape: [pages, hkv, 64, d], data: Uint8Array.from({ length: pages * hkv * 64 * d }, () => Math.floor(rng.float() * 16)) });
  return {
    q: f16(rng, [b, hq, d], -3, qHi),
    k: f16(rng, [b, hkv, d], -3, 1),
    v: f16(rng, [b, hkv, d], -3, 1),
    k_cache: codes(),
    k_scale: f16(rng, [pages, hkv, 64], -6, -3, false),
    k_min: f16(rng, [pages, hkv, 64], -2, 0),
    v_cache: codes(),
    v_scale: f16(rng, [pages, hkv, 64], -6, -3, false),
    v_min: f16(rng, [pages, hkv, 64], -2, 0),
    block_table: { dtype: "i32", shape: [b, nb], data: Int32Array.from(order) },
    ctx_len: { dtype: "i32", shape: [b], data: Int32Array.from(ctx) },
  };
}

const same = (a: Tensor, b: Tensor) => a.data.length === b.data.length && (a.data as Uint16Array).every((v, i) => v === (b.data as Uint16Array)[i]);

describe("attention_kv4_decode beyond the spec's shapes", () => {
  const cases: [string, number[], number, number, number, number][] = [
    ["G = 6, D = 20, mixed contexts", [0, 31, 300], 12, 2, 20, 1],
    ["G = 1, D = 136, 1000 keys, large scores", [1000], 3, 3, 136, 6],
    ["G = 3, D = 8, 65 and 129 keys", [65, 129], 3, 1, 8, 2],
    ["D = 1040: the one-dispatch kernel", [70], 2, 1, 1040, 0],
  ];
  for (const [name, ctx, hq, hkv, d, qHi] of cases) {
    it(`${name} matches the reference (subgroups on and off)`, async () => {
      const inputs = decodeInputs(new Rng(ctx.length * 1000 + d * 7 + hq), ctx, hq, hkv, d, qHi);
      const plan = kv4DecodePlan(inputs, bindInputs(getSignature("attention_kv4_decode"), inputs));
      expect(plan.passes !== undefined).toBe(d <= KV4_SPLIT_MAX_D);
      const want = runReference("attention_kv4_decode", inputs).o!;
      for (const b of [on, off]) expect(same((await b.run("attention_kv4_decode", inputs)).o!, want), `subgroups ${b.info.subgroups}`).toBe(true);
    });
  }
});
