import { describe, expect, it } from "vitest";
import { allocGuarded, checkGuards, GUARD_BYTES, type Backend, type OpSpec } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { MIN_CASES_PER_OP, OP_SPECS, plantedBugs, runConformance, runSelfTest, summaryTable, ULP_BUCKETS } from "../src/index.js";

describe("the runner catches planted bugs, each with a replay command that fails again alone", () => {
  it.each(plantedBugs().map((b) => [b.description, b.op, b] as const))("%s (%s)", async (_label, op, bug) => {
    const [summary] = await runConformance({ backends: [bug.backend], filter: op, runs: 4, seed: 7 });
    expect(summary!.status).toBe("fail");
    expect(summary!.failures.length).toBeGreaterThan(0);
    const first = summary!.failures[0]!;
    expect(first.replay).toContain(`--backend ${bug.name}`);
    // Replaying the failing case id alone reproduces the failure.
    const [again] = await runConformance({ backends: [bug.backend], filter: first.id, runs: 0, seed: 0 });
    expect(again!.executed).toBe(1);
    expect(again!.status).toBe("fail");
  });

  it("the write-past-the-output bugs are caught by the structural checks, not by luck in the values", async () => {
    const bugs = plantedBugs();
    const [tensor] = await runConformance({ backends: [bugs.find((b) => b.name === "bug-write-past-tensor")!.backend], filter: "silu_mul_quant", runs: 1, seed: 1 });
    expect(tensor!.failures[0]!.message).toMatch(/write past the output: 'y' holds \d+ element/);
    const [guard] = await runConformance({ backends: [bugs.find((b) => b.name === "bug-guard-bytes")!.backend], filter: "quant_kv4", runs: 1, seed: 1 });
    expect(guard!.failures[0]!.message).toMatch(/guard byte\(s\) overwritten after/);
  });

  it("guard bytes: intact guards pass, one byte before or after the payload is caught", () => {
    const b = allocGuarded("y", 10);
    expect(checkGuards(b)).toBeUndefined();
    b.bytes[GUARD_BYTES + 13] = b.bytes[GUARD_BYTES + 13]! ^ 1;
    expect(checkGuards(b)).toMatch(/1 guard byte\(s\) overwritten after 'y', first at \+3/);
    const c = allocGuarded("z", 4);
    c.bytes[GUARD_BYTES - 1] = 0;
    expect(checkGuards(c)).toMatch(/before 'z'/);
  });

  it("runSelfTest catches every planted bug on the fixed edge and error cases alone (no luck in random draws)", async () => {
    const results = await runSelfTest({ runs: 0 });
    expect(results.map((r) => r.name)).toEqual(plantedBugs().map((b) => b.name));
    for (const r of results) {
      expect(r.caught).toBe(true);
      expect(r.replay).toMatch(new RegExp(`^pnpm qoq conform --self-test --op .* --backend ${r.name}$`));
    }
  });

  it("the reference passes against itself, and the table shows every op", async () => {
    const summaries = await runConformance({ backends: [createReferenceBackend()], runs: 1, seed: 3, filter: "quant" });
    expect(summaries.every((s) => s.status === "pass" && s.executed >= MIN_CASES_PER_OP)).toBe(true);
    const table = summaryTable(summaries);
    for (const s of summaries) expect(table).toContain(s.op);
  });

  it("a backend that supports nothing is reported unsupported, not passed", async () => {
    const none: Backend = { name: "none", supports: () => ({ unsupported: "nothing here" }), run: () => Promise.reject(new Error("unreachable")), dispose: () => Promise.resolve() };
    const [s] = await runConformance({ backends: [none], filter: "residual_add", runs: 2, seed: 1 });
    expect(s!.status).toBe("unsupported");
  });

  it("a replay id that matches no case executes nothing and fails the floor", async () => {
    const [s] = await runConformance({ backends: [createReferenceBackend()], filter: "residual_add(m=999,seed=1)", runs: 0, seed: 0 });
    expect(s!.status).toBe("fail");
  });

  it("summaries carry per-case error lists and a ULP histogram over the value cases", async () => {
    const [s] = await runConformance({ backends: [createReferenceBackend()], filter: "residual_add", runs: 3, seed: 2 });
    expect(s!.caseMaxUlp.length).toBe(s!.caseMaxAbs.length);
    expect(s!.caseMaxUlp.length).toBeGreaterThanOrEqual(3);
    expect(s!.ulpHistogram.length).toBe(ULP_BUCKETS.length);
    expect(s!.ulpHistogram[0]).toBe(s!.caseMaxUlp.length); // the reference against itself: all exact
  });
});

describe("the floor: a suite that executed fewer cases than its floor fails", () => {
  const base = OP_SPECS.residual_add;
  const reference = createReferenceBackend();

  it("a broken case generator (no edge, random or error cases) fails the op instead of passing empty", async () => {
    const empty: OpSpec = { ...base, edgeCases: () => [], randomCase: () => { throw new Error("unreachable with runs: 0"); }, errorCases: () => [] };
    const [s] = await runConformance({ backends: [reference], filter: "residual_add", runs: 0, seed: 1, specs: { residual_add: empty } });
    expect(s!.executed).toBe(0);
    expect(s!.status).toBe("fail");
    expect(s!.note).toMatch(/only 0 case\(s\) executed, below the floor of 3/);
  });

  it("a case generator that throws fails its op and the run carries on", async () => {
    const throwing: OpSpec = { ...base, randomCase: () => { throw new RangeError("generator bug"); } };
    const summaries = await runConformance({ backends: [reference], filter: "residual_add", runs: 2, seed: 1, specs: { residual_add: throwing } });
    expect(summaries[0]!.status).toBe("fail");
    expect(summaries[0]!.note).toMatch(/case generator threw: generator bug/);
  });

  it("fewer cases than the floor fails; meeting it passes", async () => {
    const one: OpSpec = { ...base, edgeCases: () => base.edgeCases().slice(0, 1), errorCases: () => [] };
    const [low] = await runConformance({ backends: [reference], filter: "residual_add", runs: 1, seed: 1, specs: { residual_add: one } });
    expect(low!.executed).toBe(2);
    expect(low!.status).toBe("fail");
    const [ok] = await runConformance({ backends: [reference], filter: "residual_add", runs: 1, seed: 1, specs: { residual_add: one }, floor: 2 });
    expect(ok!.status).toBe("pass");
    expect(MIN_CASES_PER_OP).toBeGreaterThanOrEqual(3);
  });
});
