/**
 * The exact numerics of `kernels/wgsl/common.wgsl` on Dawn: every probe group of
 * `numerics_cases.ts` (the browser page runs the same groups on Chromium's WebGPU).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebGpuBackend } from "../src/index.js";
import { PROBE_GROUPS, runProbe } from "./numerics_cases.js";
import { SEED, startBackend } from "./setup.js";

let gpu: WebGpuBackend;
beforeAll(async () => {
  gpu = await startBackend();
});
afterAll(async () => {
  await gpu?.dispose();
});

describe("exact WGSL numerics on the device", () => {
  for (const group of PROBE_GROUPS) {
    it(group.title, async () => {
      for (const check of group.checks(SEED)) {
        const r = await runProbe(gpu, check);
        expect(r.misses.join("\n"), `${r.differ} of ${r.total} differ`).toBe("");
      }
    });
  }
});
