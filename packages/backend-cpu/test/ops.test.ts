/**
 * Differential property tests of the cpu backend's own kernels against `runReference`, on shapes
 * and values the oracle's specs do not reach: GEMMs with odd N, M not a multiple of 4 and K past
 * the 512-input SWAR block, INT8 codes of −128, epilogues that overflow binary16; attention with
 * head dimensions 1, 3, 8, 20, 40 and more than 32 keys; inputs the reference rejects (the cpu
 * backend must throw the same error class with the same message). Also the weight cache, and a
 * check that the comparison itself sees a one-bit difference.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { bytesEqual, QoqError, tensor, type NamedTensors, type OpName, type ParamValues } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { createCpuBackend } from "../src/index.js";
import { SEED } from "./setup.js";

const cpu = createCpuBackend();

/** Per op: [accepted, rejected] cases, so that neither kind goes missing unnoticed (a tripwire). */
const tally = new Map<string, [number, number]>();
afterAll(() => {
  console.log([...tally].map(([op, [ok, bad]]) => `${op}: ${ok} accepted, ${bad} rejected`).join("\n"));
  for (const [op, [ok]] of tally) expect(ok, `${op}: no accepted case`).toBeGreaterThanOrEqual(5);
  for (const op of ["gemm_w4a8_g128", "gemm_w4a8_chn", "attention_kv4_decode", "rmsnorm_quant", "silu_mul_quant", "rope"]) if (tally.has(op)) expect(tally.get(op)![1], `${op}: no rejected case`).toBeGreaterThan(0);
});

/** Run both; both throw the same typed error, or give byte-identical outputs. Returns whether the reference accepted. */
async function agree(op: OpName, inputs: NamedTensors, params: ParamValues = {}): Promise<boolean> {
  const t = tally.get(op) ?? [0, 0];
  tally.set(op, t);
  let want: NamedTensors | undefined;
  let wantErr: unknown;
  try {
    want = runReference(op, inputs, params);
  } catch (e) {
    wantErr = e;
  }
  let got: NamedTensors | undefined;
  let gotErr: unknown;
  try {
    got = await cpu.run(op, inputs, params);
  } catch (e) {
    gotErr = e;
  }
  if (wantErr !== undefined) {
    expect(wantErr).toBeInstanceOf(QoqError);
    expect(gotErr, `${op}: the reference threw ${String(wantErr)}`).toBeInstanceOf((wantErr as object).constructor as new () => unknown);
    expect((gotErr as Error).message).toBe((wantErr as Error).message);
    t[1]++;
    return false;
  }
  expect(gotErr, `${op} threw ${String(gotErr)}`).toBeUndefined();
  t[0]++;
  expect(Object.keys(got!).sort()).toEqual(Object.keys(want!).sort());
  for (const name of Object.keys(want!)) {
    expect(got![name]!.shape, `${op}.${name} shape`).toEqual(want![name]!.shape);
    expect(got![name]!.dtype).toBe(want![name]!.dtype);
    expect(bytesEqual(got![name]!, want![name]!), `${op}.${name} differs`).toBe(true);
  }
  return true;
}

/** Binary16 bits of a finite value: mostly moderate, sometimes tiny, huge, zero of either sign. */
const f16Bits = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x2c00, max: 0x4a00 }).chain((b) => fc.constantFrom(b, b | 0x8000)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7bff }).chain((b) => fc.constantFrom(b, b | 0x8000)) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0x8000, 0x7bff, 0xfbff, 0x0001, 0x8001, 0x0400) },
);
const f16Array = (n: number) => fc.array(f16Bits, { minLength: n, maxLength: n }).map((a) => Uint16Array.from(a));
const scaleBits = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0x1000, max: 0x2c00 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x7bff }) });
const bytes = (n: number, min: number, max: number) => fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n });
const opts = (numRuns: number) => ({ numRuns, seed: SEED, endOnFailure: true });

describe("GEMMs: odd shapes, long K, extreme codes", () => {
  const shape = fc.record({ m: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }), groups: fc.integer({ min: 1, max: 3 }), gs: fc.constantFrom(1, 8, 32, 128, 600) });

  it("gemm_w4a8_g128", async () => {
    await fc.assert(
      fc.asyncProperty(
        shape.chain(({ m, n, groups, gs }) =>
          fc.record({
            m: fc.constant(m), n: fc.constant(n), g: fc.constant(groups), k: fc.constant(groups * gs),
            xq: bytes(m * groups * gs, -128, 127), xscale: fc.array(scaleBits, { minLength: m, maxLength: m }),
            q: bytes(n * groups * gs, 0, 15), zero: bytes(n * groups, 0, 15),
            s2: fc.array(fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 9, 16, 17) }), { minLength: n * groups, maxLength: n * groups }),
            s1: fc.array(scaleBits, { minLength: n, maxLength: n }),
          }),
        ),
        async (c) => {
          await agree("gemm_w4a8_g128", {
            xq: tensor("i8", [c.m, c.k], Int8Array.from(c.xq)), xscale: tensor("f16", [c.m], Uint16Array.from(c.xscale)),
            q: tensor("u8", [c.n, c.k], Uint8Array.from(c.q)), zero: tensor("u8", [c.n, c.g], Uint8Array.from(c.zero)),
            s2: tensor("u8", [c.n, c.g], Uint8Array.from(c.s2)), s1: tensor("f16", [c.n], Uint16Array.from(c.s1)),
          });
        },
      ),
      opts(150),
    );
  });

  it("gemm_w4a8_chn and gemm_w8a8", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ m: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }), k: fc.constantFrom(1, 5, 64, 513, 1100) }).chain(({ m, n, k }) =>
          fc.record({
            m: fc.constant(m), n: fc.constant(n), k: fc.constant(k), xq: bytes(m * k, -128, 127), xscale: fc.array(scaleBits, { minLength: m, maxLength: m }),
            q4: bytes(n * k, 0, 15), q8: bytes(n * k, -128, 127), zero: bytes(n, 0, 15), scale: fc.array(scaleBits, { minLength: n, maxLength: n }), sumOff: fc.constantFrom(0, 0, 0, 0, 1),
          }),
        ),
        async (c) => {
          const xq = tensor("i8", [c.m, c.k], Int8Array.from(c.xq));
          const xscale = tensor("f16", [c.m], Uint16Array.from(c.xscale));
          const scale = tensor("f16", [c.n], Uint16Array.from(c.scale));
          const xqsum = Int32Array.from({ length: c.m }, (_, r) => c.xq.slice(r * c.k, (r + 1) * c.k).reduce((a, b) => a + b, 0));
          xqsum[0] = xqsum[0]! + c.sumOff;
          await agree("gemm_w4a8_chn", { xq, xscale, xqsum: tensor("i32", [c.m], xqsum), q: tensor("u8", [c.n, c.k], Uint8Array.from(c.q4)), zero: tensor("u8", [c.n], Uint8Array.from(c.zero)), scale });
          await agree("gemm_w8a8", { xq, xscale, q: tensor("i8", [c.n, c.k], Int8Array.from(c.q8)), scale });
        },
      ),
      opts(120),
    );
  });

  it("caches an expanded weight per array identity, and a new zero array or shape is not served from the cache", async () => {
    const [m, n, k, g] = [3, 5, 64, 2];
    const xq = tensor("i8", [m, k], Int8Array.from({ length: m * k }, (_, i) => ((i * 37) % 255) - 127));
    const xscale = tensor("f16", [m], new Uint16Array(m).fill(0x2000));
    const q = tensor("u8", [n, k], Uint8Array.from({ length: n * k }, (_, i) => (i * 7) % 16));
    const s2 = tensor("u8", [n, g], new Uint8Array(n * g).fill(3));
    const s1 = tensor("f16", [n], new Uint16Array(n).fill(0x1c00));
    const zeroA = tensor("u8", [n, g], new Uint8Array(n * g).fill(8));
    const zeroB = tensor("u8", [n, g], new Uint8Array(n * g).fill(2));
    for (const zero of [zeroA, zeroA, zeroB, zeroA]) await agree("gemm_w4a8_g128", { xq, xscale, q, zero, s2, s1 });
    // Same codes with a zero point that breaks the INT8 range: rejected although the codes were cached.
    const bad = tensor("u8", [n, g], new Uint8Array(n * g).fill(15));
    await agree("gemm_w4a8_g128", { xq, xscale, q, zero: bad, s2: tensor("u8", [n, g], new Uint8Array(n * g).fill(16)), s1 });
    // The same code array reshaped (fewer groups) is a different weight.
    await agree("gemm_w4a8_g128", { xq, xscale, q, zero: tensor("u8", [n, 1], zeroA.data.subarray(0, n)), s2: tensor("u8", [n, 1], s2.data.subarray(0, n)), s1 });
  });

  it("the comparison sees a one-bit difference (the tests are not vacuous)", async () => {
    const inputs = { xq: tensor("i8", [1, 4], Int8Array.of(1, 2, 3, 4)), xscale: tensor("f16", [1], Uint16Array.of(0x3c00)), q: tensor("i8", [1, 4], Int8Array.of(1, 1, 1, 1)), scale: tensor("f16", [1], Uint16Array.of(0x3c00)) };
    const got = await cpu.run("gemm_w8a8", inputs);
    const want = runReference("gemm_w8a8", inputs);
    expect(bytesEqual(got.y!, want.y!)).toBe(true);
    (got.y!.data as Uint16Array)[0]! ^= 1;
    expect(bytesEqual(got.y!, want.y!)).toBe(false);
  });
});

describe("attention: head dimensions off the specs' grid, many keys", () => {
  const dims = fc.record({ t: fc.integer({ min: 1, max: 70 }), hkv: fc.constantFrom(1, 2), grp: fc.constantFrom(1, 2, 3), d: fc.constantFrom(1, 3, 8, 20, 33, 40) });

  it("attention_prefill", async () => {
    await fc.assert(
      fc.asyncProperty(
        dims.chain(({ t, hkv, grp, d }) => fc.record({ t: fc.constant(t), hkv: fc.constant(hkv), hq: fc.constant(hkv * grp), d: fc.constant(d), q: f16Array(t * hkv * grp * d), k: f16Array(t * hkv * d), v: f16Array(t * hkv * d) })),
        async (c) => {
          await agree("attention_prefill", { q: tensor("f16", [c.t, c.hq, c.d], c.q), k: tensor("f16", [c.t, c.hkv, c.d], c.k), v: tensor("f16", [c.t, c.hkv, c.d], c.v) });
        },
      ),
      opts(40),
    );
  });

  it("attention_kv4_decode", async () => {
    const S = 64;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ b: fc.integer({ min: 1, max: 2 }), hkv: fc.constantFrom(1, 2), grp: fc.constantFrom(1, 2), d: fc.constantFrom(3, 8, 40), nb: fc.integer({ min: 1, max: 3 }), pages: fc.integer({ min: 1, max: 4 }) }).chain((s) =>
          fc.record({
            s: fc.constant(s),
            q: f16Array(s.b * s.hkv * s.grp * s.d), k: f16Array(s.b * s.hkv * s.d), v: f16Array(s.b * s.hkv * s.d),
            kc: bytes(s.pages * s.hkv * S * s.d, 0, 15), vc: bytes(s.pages * s.hkv * S * s.d, 0, 15),
            ks: fc.array(scaleBits, { minLength: s.pages * s.hkv * S, maxLength: s.pages * s.hkv * S }), km: f16Array(s.pages * s.hkv * S),
            vs: fc.array(scaleBits, { minLength: s.pages * s.hkv * S, maxLength: s.pages * s.hkv * S }), vm: f16Array(s.pages * s.hkv * S),
            table: fc.oneof({ weight: 4, arbitrary: bytes(s.b * s.nb, 0, s.pages - 1) }, { weight: 1, arbitrary: bytes(s.b * s.nb, -1, s.pages) }), ctx: bytes(s.b, 0, s.nb * S),
            poison: fc.constantFrom("none", "none", "none", "code", "scale"),
          }),
        ),
        async ({ s, ...c }) => {
          const kc = Uint8Array.from(c.kc);
          const ks = Uint16Array.from(c.ks);
          if (c.poison === "code") kc[kc.length >> 1] = 16;
          if (c.poison === "scale") ks[ks.length >> 2] = 0x7c00;
          const pageShape = [s.pages, s.hkv, S];
          await agree("attention_kv4_decode", {
            q: tensor("f16", [s.b, s.hkv * s.grp, s.d], c.q), k: tensor("f16", [s.b, s.hkv, s.d], c.k), v: tensor("f16", [s.b, s.hkv, s.d], c.v),
            k_cache: tensor("u8", [...pageShape, s.d], kc), k_scale: tensor("f16", pageShape, ks), k_min: tensor("f16", pageShape, c.km),
            v_cache: tensor("u8", [...pageShape, s.d], Uint8Array.from(c.vc)), v_scale: tensor("f16", pageShape, Uint16Array.from(c.vs)), v_min: tensor("f16", pageShape, c.vm),
            block_table: tensor("i32", [s.b, s.nb], Int32Array.from(c.table)), ctx_len: tensor("i32", [s.b], Int32Array.from(c.ctx)),
          });
        },
      ),
      opts(60),
    );
  });
});

describe("row ops on random shapes and extreme values", () => {
  const mk = fc.record({ m: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 1, max: 100 }) });

  it("quant_act_int8, rmsnorm_quant, silu_mul_quant, residual_add, quant_kv4, dequant_kv4", async () => {
    await fc.assert(
      fc.asyncProperty(
        mk.chain(({ m, k }) => fc.record({ m: fc.constant(m), k: fc.constant(k), a: f16Array(m * k), b: f16Array(m * k), gamma: f16Array(k), eps: fc.constantFrom(0, 1e-5, 1e-6, 0.5), codes: fc.oneof({ weight: 4, arbitrary: bytes(m * k, 0, 15) }, { weight: 1, arbitrary: bytes(m * k, 0, 16) }) })),
        async (c) => {
          const a = tensor("f16", [c.m, c.k], c.a);
          const b = tensor("f16", [c.m, c.k], c.b);
          await agree("quant_act_int8", { x: a });
          await agree("rmsnorm_quant", { x: a, gamma: tensor("f16", [c.k], c.gamma) }, { eps: c.eps });
          await agree("silu_mul_quant", { gate: a, up: b });
          await agree("residual_add", { a, b });
          await agree("quant_kv4", { v: tensor("f16", [c.m, 1, c.k], c.a) });
          await agree("dequant_kv4", { q: tensor("u8", [c.m, 1, c.k], Uint8Array.from(c.codes)), scale: tensor("f16", [c.m, 1], c.b.subarray(0, c.m)), min: tensor("f16", [c.m, 1], c.a.subarray(0, c.m)) });
        },
      ),
      opts(150),
    );
  });

  it("rope, both styles, with positions past the table", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ t: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 1, max: 3 }), half: fc.integer({ min: 1, max: 9 }), p: fc.integer({ min: 1, max: 8 }) }).chain((s) =>
          fc.record({ s: fc.constant(s), x: f16Array(s.t * s.h * 2 * s.half), pos: bytes(s.t, 0, s.p), style: fc.constantFrom("rotate_half", "interleaved") }),
        ),
        async ({ s, x, pos, style }) => {
          const table = Float32Array.from({ length: s.p * s.half }, (_, i) => Math.fround(Math.cos(i * 0.37)));
          const sin = Float32Array.from({ length: s.p * s.half }, (_, i) => Math.fround(Math.sin(i * 0.37)));
          await agree("rope", { x: tensor("f16", [s.t, s.h, 2 * s.half], x), pos: tensor("i32", [s.t], Int32Array.from(pos)), cos: tensor("f32", [s.p, s.half], table), sin: tensor("f32", [s.p, s.half], sin) }, { style });
        },
      ),
      opts(100),
    );
  });
});
