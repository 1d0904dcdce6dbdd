/**
 * The conformance suite of `@qoq/oracle` on the cpu backend, beside the reference: every op must
 * match the reference bit for bit (contract `exact`, worst ULP 0) and error inputs must be rejected
 * with typed errors.
 */
import { describe, expect, it } from "vitest";
import { OP_NAMES } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { runConformance, type OpSummary } from "@qoq/oracle";
import { CPU_FAST_OPS, createCpuBackend } from "../src/index.js";
import { RUNS, SEED } from "./setup.js";

const reference = createReferenceBackend();
const cpu = createCpuBackend();

function explain(s: OpSummary): string {
  return [s.note ?? "", ...s.failures.map((f) => `${f.id}: ${f.message}\n  replay: ${f.replay}`)].join("\n");
}

describe("cpu conformance (exact)", () => {
  for (const op of OP_NAMES) {
    const runs = CPU_FAST_OPS.includes(op) ? RUNS : 3; // delegated ops run the reference's own code
    it(`${op} matches the reference bit for bit`, async () => {
      const res = await runConformance({ backends: [reference, cpu], filter: op, runs, seed: SEED });
      const mine = res.filter((s) => s.op === op);
      expect(mine.map((s) => s.backend)).toEqual(["reference", "cpu"]);
      for (const s of mine) {
        expect(s.status, explain(s)).toBe("pass");
        expect(s.executed).toBeGreaterThanOrEqual(runs);
        expect(s.worstUlp).toBe(0);
        expect(s.worstAbs).toBe(0);
      }
    });
  }

  it("supports every op", () => {
    for (const op of OP_NAMES) expect(cpu.supports(op, {})).toBe("supported");
  });
});
