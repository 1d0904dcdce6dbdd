import { describe, expect, it } from "vitest";
import { bindInputs, getSignature, type OpName } from "@qoq/core";
import { createReferenceBackend, runReference } from "@qoq/reference";
import { BENCH_CASES, benchCasesOf, benchTable, runBench } from "../src/index.js";

describe("bench cases", () => {
  it("llama-shaped cases have the LLaMA dims and bind to their op's signature", () => {
    const dims = (op: OpName) => benchCasesOf(op, "llama").map((c) => bindInputs(getSignature(op), c.inputs));
    expect(dims("gemm_w4a8_g128")).toEqual([
      { M: 1, K: 4096, N: 4096, G: 32 },
      { M: 16, K: 4096, N: 4096, G: 32 },
    ]);
    expect(dims("gemm_w8a8").map((d) => [d.M, d.N, d.K])).toEqual([
      [1, 4096, 4096],
      [16, 4096, 4096],
    ]);
    expect(dims("attention_kv4_decode").map((d) => [d.B, d.HQ, d.HKV, d.D, d.NB])).toEqual([
      [1, 32, 8, 128, 2],
      [1, 32, 8, 128, 16],
      [1, 32, 8, 128, 64],
    ]);
    expect(Object.keys(BENCH_CASES).sort()).toEqual(["attention_kv4_decode", "gemm_w4a8_chn", "gemm_w4a8_g128", "gemm_w8a8", "quant_act_int8"]);
    expect(benchCasesOf("rope", "llama")).toEqual([]);
    expect(benchCasesOf("rope", "small").length).toBe(1);
  });

  it("llama-shaped cases are valid inputs: the reference accepts them", () => {
    for (const c of [...benchCasesOf("gemm_w4a8_chn", "llama").slice(0, 1), ...benchCasesOf("attention_kv4_decode", "llama").slice(0, 1)]) {
      expect(() => runReference(c.op, c.inputs, c.params)).not.toThrow();
    }
  });

  it("runBench gives one well-formed record per case and backend; unsupported is a record too", async () => {
    const none = { name: "none", supports: () => ({ unsupported: "nothing here" }), run: () => Promise.reject(new Error("unreachable")), dispose: () => Promise.resolve() };
    const recs = await runBench({ backends: [createReferenceBackend(), none], filter: "residual_add", repeat: 2 });
    expect(recs.map((r) => [r.backend, r.status])).toEqual([
      ["reference", "ok"],
      ["none", "unsupported"],
    ]);
    const ok = recs[0]!;
    expect(ok.us! > 0 && ok.usMin! <= ok.us! && ok.gbps! > 0 && ok.gops! > 0).toBe(true);
    expect(benchTable(recs)).toMatch(/residual_add\(.*\)\s+none\s+unsupported/);
  });
});
