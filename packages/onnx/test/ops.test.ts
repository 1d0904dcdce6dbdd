/**
 * Per-op ONNX graphs against the reference on seeded cases, held to per-element bounds tighter
 * than the oracle's contracts (which must also cover binary16 extremes), plus typed errors.
 */
import { describe, expect, it, afterAll } from "vitest";
import { fromF16Bits, fromNumbers, NonFiniteError, ParamError, QoqError, Rng, UnsupportedError, RangeViolationError, type NamedTensors, type Tensor } from "@qoq/core";
import { ropeTable, runReference } from "@qoq/reference";
import { createOnnxFp16Backend, GraphBuilder, OnnxDataType, OnnxModel, OnnxRuntimeError } from "../src/index.js";

const be = createOnnxFp16Backend();
afterAll(() => be.dispose());

/** Spacing of binary16 values at |v| (subnormal spacing below 2^-14). */
function ulp16(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -14) return 2 ** -24;
  return 2 ** (Math.floor(Math.log2(a)) - 10);
}

function gauss(rng: Rng, shape: number[], sigma = 1, outlierCols = 0): Tensor<"f16"> {
  const cols = shape[shape.length - 1]!;
  const n = shape.reduce((a, b) => a * b, 1);
  return fromNumbers("f16", shape, Array.from({ length: n }, (_, i) => sigma * rng.normal() * (i % cols < outlierCols ? 40 : 1)));
}

const vals = (t: Tensor): number[] => (t.dtype === "f16" ? Array.from(t.data as Uint16Array, fromF16Bits) : Array.from(t.data as ArrayLike<number>, Number));

async function both(op: Parameters<typeof runReference>[0] & string, inputs: NamedTensors, params = {}): Promise<[NamedTensors, NamedTensors]> {
  return [runReference(op, inputs, params), await be.run(op as never, inputs, params)];
}

const SEEDS = [1, 2, 3, 4, 5, 6];

describe("onnx-fp16 per-op graphs vs the reference", () => {
  it("residual_add is bit-exact", async () => {
    for (const seed of SEEDS) {
      const rng = new Rng(seed);
      const [want, got] = await both("residual_add", { a: gauss(rng, [3, 70], 100), b: gauss(rng, [3, 70], 100) });
      expect(Array.from(got.y!.data)).toEqual(Array.from(want.y!.data));
    }
  });

  it("rmsnorm_quant: y within 1 binary16 ULP, codes within 1, scale within 1 ULP", async () => {
    let flips = 0;
    for (const seed of SEEDS) {
      const rng = new Rng(100 + seed);
      const m = 1 + rng.int(0, 6);
      const k = [33, 256, 1000][seed % 3]!;
      const [want, got] = await both("rmsnorm_quant", { x: gauss(rng, [m, k], 2, 3), gamma: gauss(rng, [k]) }, { eps: 1e-5 });
      const [wy, gy] = [vals(want.y!), vals(got.y!)];
      wy.forEach((w, i) => expect(Math.abs(gy[i]! - w)).toBeLessThanOrEqual(ulp16(w)));
      flips += wy.filter((w, i) => w !== gy[i]).length;
      const [wq, gq] = [vals(want.q!), vals(got.q!)];
      wq.forEach((w, i) => expect(Math.abs(gq[i]! - w)).toBeLessThanOrEqual(1));
      vals(want.scale!).forEach((w, i) => expect(Math.abs(vals(got.scale!)[i]! - w)).toBeLessThanOrEqual(ulp16(w)));
    }
    expect(flips).toBeLessThan(200); // rare 1-ULP flips from another sum order, not a systematic bias
  });

  it("silu_mul_quant: y within 2 binary16 ULPs plus MLAS's logistic error, codes within 1", async () => {
    for (const seed of SEEDS) {
      const rng = new Rng(200 + seed);
      const [m, k] = [1 + rng.int(0, 4), [17, 172, 512][seed % 3]!];
      const gate = gauss(rng, [m, k], 4);
      const up = gauss(rng, [m, k], 1, 2);
      const [want, got] = await both("silu_mul_quant", { gate, up });
      const [wy, gy, gv, uv] = [vals(want.y!), vals(got.y!), vals(gate), vals(up)];
      // MLAS's logistic has an absolute (not relative) error ≤ 1.7e-7 (measured on [−20, 20]), so silu = g·σ(g)
      // carries |g|·1.7e-7 besides its binary16 rounding; the product with up scales both.
      wy.forEach((w, i) => {
        const silu = gv[i]! / (1 + Math.exp(-gv[i]!));
        expect(Math.abs(gy[i]! - w)).toBeLessThanOrEqual(2 * ulp16(w) + Math.abs(uv[i]!) * (ulp16(silu) + 2.5e-7 * Math.abs(gv[i]!)));
      });
      vals(want.q!).forEach((w, i) => expect(Math.abs(vals(got.q!)[i]! - w)).toBeLessThanOrEqual(1));
    }
  });

  it("rope (both styles): within 3 binary16 ULPs of the pair's larger input, and the binary16 rounding points are real", async () => {
    let differs = 0;
    for (const seed of SEEDS) {
      for (const style of ["rotate_half", "interleaved"] as const) {
        const rng = new Rng(300 + seed);
        const [t, h, d] = [1 + rng.int(0, 8), 1 + rng.int(0, 3), [8, 64, 128][seed % 3]!];
        const { cos, sin } = ropeTable(256, d, 10000);
        const pos = fromNumbers("i32", [t], Array.from({ length: t }, () => rng.int(0, 255)));
        const x = gauss(rng, [t, h, d], 3);
        const [want, got] = await both("rope", { x, pos, cos, sin }, { style });
        const [xv, wy, gy] = [vals(x), vals(want.y!), vals(got.y!)];
        for (let i = 0; i < xv.length; i += d) {
          for (let j = 0; j < d / 2; j++) {
            const [ia, ib] = style === "rotate_half" ? [i + j, i + j + d / 2] : [i + 2 * j, i + 2 * j + 1];
            const bound = 3 * ulp16(Math.max(Math.abs(xv[ia]!), Math.abs(xv[ib]!)));
            expect(Math.abs(gy[ia]! - wy[ia]!)).toBeLessThanOrEqual(bound);
            expect(Math.abs(gy[ib]! - wy[ib]!)).toBeLessThanOrEqual(bound);
          }
        }
        differs += wy.filter((w, i) => w !== gy[i]).length;
      }
    }
    // FP16-eager rounding (3 roundings per output) must make some outputs differ from the single-rounding reference.
    expect(differs).toBeGreaterThan(0);
  });

  it("attention_prefill (GQA, causal): within 1 binary16 ULP of the output plus 1e-5·max|v|", async () => {
    for (const seed of SEEDS) {
      const rng = new Rng(400 + seed);
      const hkv = 1 + rng.int(0, 1);
      const hq = hkv * [1, 2, 4][seed % 3]!;
      const [t, d] = [[1, 7, 40][seed % 3]!, [8, 16, 64][(seed + 1) % 3]!];
      const inputs = { q: gauss(rng, [t, hq, d], 2, seed % 2), k: gauss(rng, [t, hkv, d], 2), v: gauss(rng, [t, hkv, d], 1, 1) };
      const [want, got] = await both("attention_prefill", inputs);
      const vmax = Math.max(...vals(inputs.v).map(Math.abs));
      const [wo, go] = [vals(want.o!), vals(got.o!)];
      wo.forEach((w, i) => expect(Math.abs(go[i]! - w)).toBeLessThanOrEqual(ulp16(w) + 1e-5 * vmax));
    }
  });

  it("attention_kv4_decode (paged, GQA, contexts 0 / 1 / 64 / 130): within 1 binary16 ULP plus 1e-5·max|v|", async () => {
    for (const seed of SEEDS.slice(0, 3)) {
      const rng = new Rng(450 + seed);
      const [hkv, d] = [1 + (seed % 2), [8, 16, 64][seed % 3]!];
      const hq = hkv * 2;
      const ctx = [0, 1, 64, 130];
      const nb = 3;
      const pages = 1 + ctx.length * nb;
      // Pages assigned in reverse order, so a wrong page mapping shows up.
      const table = Array.from({ length: ctx.length * nb }, (_, i) => pages - 1 - i);
      const caches: NamedTensors = {};
      for (const kind of ["k", "v"]) {
        const codes = new Uint8Array(pages * hkv * 64 * d).map(() => rng.int(0, 15));
        const scale = fromNumbers("f16", [pages, hkv, 64], Array.from({ length: pages * hkv * 64 }, () => 0.05 + 0.1 * rng.float()));
        const min = fromNumbers("f16", [pages, hkv, 64], Array.from({ length: pages * hkv * 64 }, () => -1 - rng.float()));
        Object.assign(caches, { [`${kind}_cache`]: { dtype: "u8", shape: [pages, hkv, 64, d], data: codes }, [`${kind}_scale`]: scale, [`${kind}_min`]: min });
      }
      const inputs: NamedTensors = {
        ...caches,
        q: gauss(rng, [ctx.length, hq, d], 2),
        k: gauss(rng, [ctx.length, hkv, d], 2),
        v: gauss(rng, [ctx.length, hkv, d]),
        block_table: fromNumbers("i32", [ctx.length, nb], table),
        ctx_len: fromNumbers("i32", [ctx.length], ctx),
      };
      const [want, got] = await both("attention_kv4_decode", inputs);
      const [wo, go] = [vals(want.o!), vals(got.o!)];
      const vmax = Math.max(2.5, ...vals(inputs.v!).map(Math.abs)); // cached values lie in [−2, 0.5]
      wo.forEach((w, i) => expect(Math.abs(go[i]! - w)).toBeLessThanOrEqual(ulp16(w) + 1e-5 * vmax));
    }
  });

  it("dequant_kv4, dequant_weight_g128, dequant_weight_chn are bit-exact", async () => {
    for (const seed of SEEDS) {
      const rng = new Rng(500 + seed);
      const kv = runReference("quant_kv4", { v: gauss(rng, [5, 2, 16], 3) });
      const [w1, g1] = await both("dequant_kv4", { q: kv.q!, scale: kv.scale!, min: kv.min! });
      expect(Array.from(g1.v!.data)).toEqual(Array.from(w1.v!.data));
      const w = fromNumbers("f32", [3, 64], Array.from({ length: 192 }, () => rng.normal()));
      const g128 = runReference("quant_weight_g128", { w }, { group: 32 });
      const [w2, g2] = await both("dequant_weight_g128", g128);
      expect(Array.from(g2.w8!.data)).toEqual(Array.from(w2.w8!.data));
      expect(Array.from(g2.w!.data)).toEqual(Array.from(w2.w!.data));
      const chn = runReference("quant_weight_chn", { w });
      const [w3, g3] = await both("dequant_weight_chn", chn);
      expect(Array.from(g3.w!.data)).toEqual(Array.from(w3.w!.data));
    }
  });
});

describe("onnx-fp16 errors are typed", () => {
  it("bad inputs and unsupported ops", async () => {
    const x = fromNumbers("f16", [1, 2], [1, NaN]);
    await expect(be.run("residual_add", { a: x, b: x })).rejects.toBeInstanceOf(NonFiniteError);
    const q = fromNumbers("u8", [1, 1, 2], [3, 16]);
    const s = fromNumbers("f16", [1, 1], [1]);
    await expect(be.run("dequant_kv4", { q, scale: s, min: s })).rejects.toBeInstanceOf(RangeViolationError);
    expect(be.supports("quant_act_int8", {})).toHaveProperty("unsupported");
    expect(be.supports("rope", {})).toBe("supported");
    await expect(be.run("gemm_w8a8", {})).rejects.toBeInstanceOf(UnsupportedError);
    // eps = 0: onnxruntime's SimplifiedLayerNormalization gives NaN for an all-zero row (the reference gives zeros).
    const z = fromNumbers("f16", [1, 4], [0, 0, 0, 0]);
    await expect(be.run("rmsnorm_quant", { x: z, gamma: fromNumbers("f16", [4], [1, 1, 1, 1]) }, { eps: 0 })).rejects.toBeInstanceOf(ParamError);
  });

  it("a graph onnxruntime rejects, and a run it refuses, are OnnxRuntimeErrors", async () => {
    const g = new GraphBuilder("bad");
    g.input("a", OnnxDataType.FLOAT, [2, 3]);
    g.input("b", OnnxDataType.FLOAT, [2, 3]);
    g.op("MatMul", ["a", "b"], {}, "c"); // inner dimensions 3 and 2 disagree
    g.output("c", OnnxDataType.FLOAT, [2, 3]);
    const err = await OnnxModel.create("bad", g.build()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxRuntimeError);
    expect(err).toBeInstanceOf(QoqError);
    expect((err as OnnxRuntimeError).stage).toBe("load");

    const ok = new GraphBuilder("ok");
    ok.input("a", OnnxDataType.FLOAT, [2]);
    ok.op("Neg", ["a"], {}, "b");
    ok.output("b", OnnxDataType.FLOAT, [2]);
    const m = await OnnxModel.create("ok", ok.build());
    const runErr = await m.run({ a: { type: "float32", dims: [3], data: new Float32Array(3) } }).catch((e: unknown) => e);
    expect(runErr).toBeInstanceOf(OnnxRuntimeError);
    expect((runErr as OnnxRuntimeError).stage).toBe("run");
    await m.dispose();
  });
});
