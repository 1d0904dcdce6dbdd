/**
 * The subgroup path must be what runs, and must be able to fail: a copy of `kernels/wgsl/` with
 * a bug planted in `subgroup_on.wgsl` only (a wrong shuffle partner for the float and the integer
 * xor-butterflies, subgroupMin for subgroupMax) must make the ops that use each helper fail with
 * subgroups on (option "all", so the kernels that opt out by default use them too), while the same
 * copy passes with subgroups off (which never reads that file).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConformance } from "@qoq/oracle";
import { wgslDir, type WebGpuBackend } from "../src/index.js";
import { SEED, startBackend } from "./setup.js";

let dir: string;
let planted: WebGpuBackend;
let plantedOff: WebGpuBackend;

/** Replace `from` (which must occur exactly once) by `to` in `text`. */
function plant(text: string, from: string, to: string): string {
  expect(text.split(from).length, `'${from}' must occur once in subgroup_on.wgsl`).toBe(2);
  return text.replace(from, to);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "qoq-wgsl-planted-"));
  cpSync(wgslDir(), dir, { recursive: true });
  let on = readFileSync(join(dir, "subgroup_on.wgsl"), "utf8");
  // off ^ 1 pairs lane l with l ^ off ^ 1: at off = 1 a lane adds itself.
  on = plant(on, "fn sg_xor_f32(v: f32, off: u32) -> f32 { return subgroupShuffleXor(v, off); }", "fn sg_xor_f32(v: f32, off: u32) -> f32 { return subgroupShuffleXor(v, off ^ 1u); }");
  on = plant(on, "fn sg_xor_i32(v: i32, off: u32) -> i32 { return subgroupShuffleXor(v, off); }", "fn sg_xor_i32(v: i32, off: u32) -> i32 { return subgroupShuffleXor(v, off ^ 1u); }");
  on = plant(on, "fn sg_max_u32(v: u32) -> u32 { return subgroupMax(v); }", "fn sg_max_u32(v: u32) -> u32 { return subgroupMin(v); }");
  writeFileSync(join(dir, "subgroup_on.wgsl"), on);
  planted = await startBackend({ wgslDir: dir, subgroups: "all" });
  plantedOff = await startBackend({ wgslDir: dir, subgroups: "off" });
});
afterAll(async () => {
  await planted?.dispose();
  await plantedOff?.dispose();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("planted bugs in the subgroup path", () => {
  // rmsnorm_quant: the float R32 butterfly; quant_act_int8: the integer maximum; gemm: the integer
  // xor-butterfly of the GEMV reduction; attention_kv4_decode: the R32 butterfly of its scores.
  for (const op of ["rmsnorm_quant", "quant_act_int8", "gemm_w4a8_g128", "attention_kv4_decode"]) {
    it(`${op} fails with the planted subgroup bug and passes without subgroups`, async () => {
      expect(planted.info.subgroupsEverywhere).toBe(true);
      const [bad] = await runConformance({ backends: [planted], filter: op, runs: 3, seed: SEED + 5 });
      expect(bad!.status).toBe("fail");
      const [good] = await runConformance({ backends: [plantedOff], filter: op, runs: 3, seed: SEED + 5 });
      expect(good!.status).toBe("pass");
    });
  }
});
