import { describe, expect, it } from "vitest";
import { bindInputs, getSignature, OP_NAMES, QoqError } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { OP_SPECS } from "../src/index.js";

describe("op specs", () => {
  it.each(OP_NAMES)("%s: edge cases run on the reference, error cases are rejected with typed errors, ids are unique", (op) => {
    const spec = OP_SPECS[op];
    expect(spec.op).toBe(op);
    const edges = spec.edgeCases();
    expect(edges.length).toBeGreaterThanOrEqual(2);
    for (const c of edges) {
      expect(c.id.startsWith(`${op}(`)).toBe(true);
      expect(() => runReference(op, c.inputs, c.params)).not.toThrow();
    }
    const errors = spec.errorCases();
    expect(errors.length).toBeGreaterThanOrEqual(4); // the generic four at least
    for (const e of errors) {
      let thrown: unknown;
      try {
        runReference(op, e.case.inputs, e.case.params);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, `${e.case.id} (${e.label}) must be rejected`).toBeInstanceOf(QoqError);
    }
    const ids = [...edges.map((c) => c.id), ...errors.map((e) => e.case.id)];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(OP_NAMES)("%s: random cases are reproducible from their seed and carry it in the id", (op) => {
    const spec = OP_SPECS[op];
    for (const seed of [1, 2, 99]) {
      const a = spec.randomCase(seed);
      const b = spec.randomCase(seed);
      expect(a.id).toBe(b.id);
      expect(a.id).toContain(`seed=${seed}`);
      for (const name of Object.keys(a.inputs)) expect(Buffer.from(b.inputs[name]!.data.buffer).equals(Buffer.from(a.inputs[name]!.data.buffer))).toBe(true);
    }
  });

  it("cost models give positive bytes for a typical case of every op", () => {
    for (const op of OP_NAMES) {
      const c = OP_SPECS[op].edgeCases()[0]!;
      const dims = bindInputs(getSignature(op), c.inputs);
      expect(OP_SPECS[op].bytes(dims)).toBeGreaterThan(0);
      expect(OP_SPECS[op].flops(dims)).toBeGreaterThanOrEqual(0);
    }
  });
});
