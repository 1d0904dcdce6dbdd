import { describe, expect, it } from "vitest";
import type { Backend, Tensor } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { syntheticWeights, SYNTHETIC_DEFAULT_CONFIG } from "@qoq/model";
import { compareLogits, layerNmse, PER_LAYER_METRIC, runModelChecks } from "../src/model_checks.js";

const weights = syntheticWeights({ ...SYNTHETIC_DEFAULT_CONFIG, nLayers: 1 }, { seed: 3 });

const weights3 = syntheticWeights({ ...SYNTHETIC_DEFAULT_CONFIG, nLayers: 3 }, { seed: 5 });

/**
 * The reference with a planted bug in decoder layer 1 only: the first `residual_add` of that layer
 * negates its output. A prefill makes two `residual_add` calls per layer (attention, then FFN), in
 * layer order, so call index 2 is layer 1's first; weight quantization calls no `residual_add`.
 */
function corruptLayer1(): Backend {
  const ref = createReferenceBackend();
  let calls = 0;
  return {
    ...ref,
    name: "bug-layer1",
    run: async (op, inputs, params) => {
      const out = await ref.run(op, inputs, params);
      if (op !== "residual_add" || calls++ !== 2) return out;
      const d = (out.y!.data as Uint16Array).map((b) => b ^ 0x8000);
      return { ...out, y: { ...out.y!, data: d } as Tensor };
    },
  };
}

/** The reference with one planted bug: the last element of every rmsnorm output is one binary16 step off. */
function offByOneUlp(): Backend {
  const ref = createReferenceBackend();
  return {
    ...ref,
    name: "bug-model",
    run: async (op, inputs, params) => {
      const out = await ref.run(op, inputs, params);
      if (op !== "rmsnorm_quant") return out;
      const y = { ...out.y!, data: (out.y!.data as Uint16Array).slice() } as Tensor;
      const d = y.data as Uint16Array;
      d[d.length - 1] = d[d.length - 1]! ^ 1;
      return { ...out, y };
    },
  };
}

describe("model-level checks", () => {
  it("FP32 agrees with FP16 ONNX, the W4A8KV4 rows are reported, a bit-exact backend passes", async () => {
    const { results, failures } = await runModelChecks([{ name: "synthetic", weights }], [createReferenceBackend(), createReferenceBackend()], 24);
    expect(failures).toEqual([]);
    const fp32 = results.find((r) => r.precision === "fp32")!;
    expect(fp32.logitCosine!).toBeGreaterThan(0.999);
    expect(results.filter((r) => r.precision === "w4a8kv4-g128-rtn")).toHaveLength(2);
    for (const r of results) expect(Number.isFinite(r.ppl!)).toBe(true);
  });

  it("a backend whose ops differ by one binary16 step somewhere is caught at the model level", async () => {
    const { failures } = await runModelChecks([{ name: "synthetic", weights, tokens: [1, 70, 71, 72, 73, 74, 75, 76] }], [createReferenceBackend(), offByOneUlp()], 8);
    expect(failures.join("\n")).toMatch(/bug-model: logits differ from the reference backend's/);
  });

  it("the W4A8KV4 rows carry a per-layer NMSE vs FP32: one finite, non-negative value per layer", async () => {
    const { results } = await runModelChecks([{ name: "synthetic3", weights: weights3, tokens: [1, 70, 71, 72, 73, 74, 75, 76] }], [createReferenceBackend()], 8);
    const fp32 = results.find((r) => r.precision === "fp32")!;
    expect(fp32.perLayerError).toBeUndefined();
    const q = results.find((r) => r.precision === "w4a8kv4-g128-rtn")!;
    expect(q.perLayerMetric).toBe(PER_LAYER_METRIC);
    expect(q.perLayerError).toHaveLength(3);
    for (const e of q.perLayerError!) {
      expect(Number.isFinite(e)).toBe(true);
      expect(e).toBeGreaterThanOrEqual(0);
    }
    // RTN W4A8KV4 is not FP32: some error, below the NMSE of an unrelated stream (≈ 2).
    expect(q.perLayerError![0]!).toBeGreaterThan(0);
    expect(Math.max(...q.perLayerError!)).toBeLessThan(0.5);
  });

  it("a backend corrupting layer 1 only leaves layer 0's error unchanged and jumps at layer 1", async () => {
    const { results } = await runModelChecks([{ name: "synthetic3", weights: weights3, tokens: [1, 70, 71, 72, 73, 74, 75, 76] }], [createReferenceBackend(), corruptLayer1()], 8);
    const good = results.find((r) => r.backend === "reference" && r.precision === "w4a8kv4-g128-rtn")!.perLayerError!;
    const bad = results.find((r) => r.backend === "bug-layer1")!.perLayerError!;
    expect(bad).toHaveLength(3);
    expect(bad[0]).toBe(good[0]);
    // Negating a residual sum gives an NMSE near (1 + 1)² = 4 at that layer, far above RTN's own error.
    expect(bad[1]!).toBeGreaterThan(10 * good[1]!);
    expect(bad[1]!).toBeGreaterThan(1);
  });

  it("layerNmse: identical streams give 0 per layer; a scaled layer gives the expected ratio", () => {
    const a = [Float32Array.from([1, -2, 3]), Float32Array.from([0.5, 0.25, -4])];
    expect(layerNmse(a, a)).toEqual([0, 0]);
    const b = [a[0]!, a[1]!.map((v) => 2 * v)];
    const e = layerNmse(a, b);
    expect(e[0]).toBe(0);
    expect(e[1]).toBeCloseTo(1, 12);
    expect(layerNmse(a, [a[0]!])[1]).toBeNaN();
  });

  it("compareLogits: identical logits give cosine 1, KL 0, full top-1; a swapped argmax lowers top-1", () => {
    const a = [Float32Array.from([1, 2, 3]), Float32Array.from([3, 2, 1])];
    const same = compareLogits(a, a, [0, 2]);
    expect(same.cosine).toBeCloseTo(1, 12);
    expect(same.kl).toBeCloseTo(0, 12);
    expect(same.top1).toBe(1);
    const b = [Float32Array.from([3, 2, 1]), Float32Array.from([3, 2, 1])];
    const diff = compareLogits(a, b, [0, 2]);
    expect(diff.top1).toBe(0.5);
    expect(diff.kl).toBeGreaterThan(0);
  });
});
