/**
 * Guard bytes: a kernel launched one element too wide (the test-only fault) must be caught as a
 * typed GuardViolationError naming the op and the tensor, and the conformance runner must fail it.
 * Bad inputs must get the reference's typed errors before anything is dispatched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromNumbers, QoqError, RangeViolationError, NonFiniteError, OverflowError, type NamedTensors } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { runConformance } from "@qoq/oracle";
import { checkGuards, GUARD_BYTES } from "@qoq/core";
import { GuardViolationError, type WebGpuBackend } from "../src/index.js";
import { startBackend } from "./setup.js";

let good: WebGpuBackend;
let faulty: WebGpuBackend;

beforeAll(async () => {
  good = await startBackend();
  faulty = await startBackend({ faults: { overrunOutput: ["residual_add", "dequant_kv4"] } });
});
afterAll(async () => {
  await good?.dispose();
  await faulty?.dispose();
});

const addInputs = (): NamedTensors => ({ a: fromNumbers("f16", [2, 3], [1, 2, 3, 4, 5, 6]), b: fromNumbers("f16", [2, 3], [0.5, 0.25, -3, 7, 1e-3, 9]) });

describe("guard bytes", () => {
  it("are intact after a correct kernel", async () => {
    await good.run("residual_add", addInputs());
    const bufs = good.lastOutputBuffers();
    expect(bufs.map((b) => b.name)).toEqual(["y"]);
    expect(checkGuards(bufs[0]!)).toBeUndefined();
    expect(bufs[0]!.bytes.length).toBe(6 * 4 + 2 * GUARD_BYTES);
  });

  it("catch a kernel that writes one element past its output", async () => {
    const err = await faulty.run("residual_add", addInputs()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GuardViolationError);
    expect(err).toBeInstanceOf(QoqError);
    expect((err as GuardViolationError).op).toBe("residual_add");
    expect((err as GuardViolationError).tensor).toBe("y");
    expect((err as Error).message).toMatch(/overwritten after 'y', first at \+0/);
  });

  it("make the conformance runner fail the faulty backend", async () => {
    const [s] = await runConformance({ backends: [faulty], filter: "dequant_kv4", runs: 5, seed: 3 });
    expect(s!.status).toBe("fail");
    expect(s!.failures[0]!.message).toMatch(/write past the output 'v'/);
  });
});

describe("bad input gets the reference's typed errors", () => {
  const cases: [string, string, NamedTensors, Record<string, string | number>, new (...a: never[]) => QoqError][] = [
    ["rope", "position past the table", { x: fromNumbers("f16", [1, 1, 2], [1, 2]), pos: fromNumbers("i32", [1], [4]), cos: fromNumbers("f32", [4, 1], [1, 1, 1, 1]), sin: fromNumbers("f32", [4, 1], [0, 0, 0, 0]) }, {}, RangeViolationError],
    ["residual_add", "NaN", { a: { dtype: "f16", shape: [1, 1], data: new Uint16Array([0x7e00]) }, b: fromNumbers("f16", [1, 1], [1]) }, {}, NonFiniteError],
    ["quant_weight_int8", "scale overflows binary16", { w: fromNumbers("f32", [1, 2], [1e9, 1]) }, {}, OverflowError],
    ["silu_mul_quant", "y overflows binary16", { gate: fromNumbers("f16", [1, 2], [60000, 1]), up: fromNumbers("f16", [1, 2], [4, 1]) }, {}, OverflowError],
  ];
  for (const [op, label, inputs, params, cls] of cases) {
    it(`${op}: ${label}`, async () => {
      const ref = (() => {
        try {
          runReference(op, inputs, params);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(ref).toBeInstanceOf(cls);
      const got = await good.run(op as never, inputs, params).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(got).toBeInstanceOf(cls);
      expect((got as Error).message).toBe((ref as Error).message);
    });
  }
});
