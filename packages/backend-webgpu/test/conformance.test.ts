/**
 * The conformance suite of `@qoq/oracle` on the WebGPU backend: every supported op must match
 * the reference bit for bit (contract `exact`), error inputs must be rejected with typed errors,
 * and the runner re-checks the guard bytes of every output buffer. The ops whose kernels use
 * subgroup operations run again with `subgroups: "off"` (the workgroup-memory path) and with
 * `subgroups: "all"` (the subgroup path also in the kernels whose plans opt out of it by default).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OP_NAMES } from "@qoq/core";
import { runConformance, verifyGoldensOn, type OpSummary } from "@qoq/oracle";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { readWgsl, SUBGROUP_OPS, wgslDir, type WebGpuBackend } from "../src/index.js";
import { RUNS, SEED, startBackend } from "./setup.js";

let backend: WebGpuBackend;
let fallback: WebGpuBackend;
let noSubgroups: WebGpuBackend;
let allSubgroups: WebGpuBackend;

beforeAll(async () => {
  backend = await startBackend();
  fallback = await startBackend({ dot4: false });
  noSubgroups = await startBackend({ subgroups: "off" });
  allSubgroups = await startBackend({ subgroups: "all" });
});
afterAll(async () => {
  await backend?.dispose();
  await fallback?.dispose();
  await noSubgroups?.dispose();
  await allSubgroups?.dispose();
});

function explain(s: OpSummary): string {
  return [s.note ?? "", ...s.failures.map((f) => `${f.id}: ${f.message}\n  replay: ${f.replay}`)].join("\n");
}

describe("webgpu conformance (exact)", () => {
  it("reproduces every one of the repository's golden vectors byte for byte (qoq golden verify --backend webgpu)", async () => {
    const dir = join(import.meta.dirname, "..", "..", "..", "golden");
    const { checked, problems, skipped } = await verifyGoldensOn(dir, backend);
    expect(problems).toEqual([]);
    expect(skipped).toEqual([]);
    const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".safetensors"));
    expect(checked).toBe(files.length);
  });

  it("reports the adapter and the features the kernels use", () => {
    expect(backend.info.adapter.description.length).toBeGreaterThan(0);
    // The kernels never need shader-f16; dot4I8Packed is used when the language feature exists.
    expect(backend.info.dot4).toBe(backend.info.wgslLanguageFeatures.includes("packed_4x8_integer_dot_product"));
    expect(fallback.info.dot4).toBe(false);
  });

  it("uses subgroups where the adapter has them, and not when told not to", () => {
    // lavapipe (CI) offers the feature (DESIGN.md §7), so both paths run here; say so if it stops.
    expect(backend.info.adapterSubgroups, "the adapter no longer offers 'subgroups': the subgroup path is untested").toBe(true);
    expect(backend.info.subgroups).toBe(true);
    expect(noSubgroups.info.subgroups).toBe(false);
    expect(noSubgroups.info.adapterSubgroups).toBe(true);
    expect(backend.info.subgroupsEverywhere).toBe(false);
    expect(allSubgroups.info.subgroupsEverywhere).toBe(true);
  });

  for (const op of OP_NAMES) {
    it(`${op} matches the reference bit for bit`, async () => {
      const res = await runConformance({ backends: [backend], filter: op, runs: RUNS, seed: SEED });
      const mine = res.filter((s) => s.op === op);
      expect(mine).toHaveLength(1);
      const s = mine[0]!;
      expect(s.status, explain(s)).toBe("pass");
      expect(s.executed).toBeGreaterThanOrEqual(RUNS);
      expect(s.worstUlp).toBe(0);
    });
  }

  for (const op of ["gemm_w4a8_g128", "gemm_w4a8_chn", "gemm_w8a8"] as const) {
    it(`${op} without dot4I8Packed (portable fallback) matches too`, async () => {
      const [s] = await runConformance({ backends: [fallback], filter: op, runs: RUNS, seed: SEED + 1 });
      expect(s!.status, explain(s!)).toBe("pass");
    });
  }

  for (const op of SUBGROUP_OPS) {
    it(`${op} without subgroups (workgroup-memory path) and with subgroups in every kernel matches too`, async () => {
      for (const b of [noSubgroups, allSubgroups]) {
        const [s] = await runConformance({ backends: [b], filter: op, runs: RUNS, seed: SEED + 2 });
        expect(s!.status, `subgroups ${b.info.subgroupsEverywhere ? "all" : "off"}: ${explain(s!)}`).toBe("pass");
        expect(s!.executed).toBeGreaterThanOrEqual(RUNS);
      }
    });
  }

  it("binds at most 8 storage buffers in every kernel (WebGPU's default limit; SwiftShader in Chromium allows 10)", () => {
    const files = readdirSync(wgslDir()).filter((f) => f.endsWith(".wgsl"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readWgsl(f).match(/var<storage/g)?.length ?? 0, f).toBeLessThanOrEqual(8);
  });

  it("supports every op of the reference", () => {
    for (const op of OP_NAMES) expect(backend.supports(op, {}), op).toBe("supported");
  });
});
