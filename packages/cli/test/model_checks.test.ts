import { describe, expect, it } from "vitest";
import type { Backend, Tensor } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { syntheticWeights, SYNTHETIC_DEFAULT_CONFIG } from "@qoq/model";
import { compareLogits, runModelChecks } from "../src/model_checks.js";

const weights = syntheticWeights({ ...SYNTHETIC_DEFAULT_CONFIG, nLayers: 1 }, { seed: 3 });

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
