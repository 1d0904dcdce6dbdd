import { describe, expect, it } from "vitest";
import { fromF16Bits, toF16Bits, type Backend, type NamedTensors, type OpName, type ParamValues, type Tensor } from "@qoq/core";
import { createReferenceBackend, runReference } from "@qoq/reference";
import { MIN_CASES_PER_OP, runConformance, summaryTable } from "../src/index.js";

/** A backend that runs the reference and then corrupts its answer in one planted way. */
function planted(name: string, bug: (op: OpName, inputs: NamedTensors, params: ParamValues, out: NamedTensors) => NamedTensors, ops?: OpName[]): Backend {
  return {
    name,
    supports: (op) => (ops === undefined || ops.includes(op) ? "supported" : { unsupported: "not planted here" }),
    run: (op, inputs, params = {}) => Promise.resolve(bug(op, inputs, params, runReference(op, inputs, params))),
    dispose: () => Promise.resolve(),
  };
}

function copy<T extends Tensor>(t: T): T {
  return { ...t, data: t.data.slice() } as T;
}

/** Run one op on a planted backend; return the failing cases. */
async function failuresOf(backend: Backend, op: OpName) {
  const [summary] = await runConformance({ backends: [backend], filter: op, runs: 4, seed: 7 });
  return summary!;
}

describe("the runner catches planted bugs, each with a replay command that fails again alone", () => {
  const bugs: [string, OpName, Backend][] = [
    [
      "f16 output one ULP off (wrong rounding mode)",
      "residual_add",
      planted("bug-rounding", (_op, _i, _p, out) => {
        const y = copy(out.y!);
        const d = y.data as Uint16Array;
        const i = d.findIndex((b) => (b & 0x7fff) !== 0 && (b & 0x7c00) !== 0x7c00);
        if (i >= 0) d[i] = d[i]! + 1;
        return { y };
      }),
    ],
    [
      "off-by-one clamp at 127",
      "quant_act_int8",
      planted("bug-clamp", (_op, _i, _p, out) => {
        const q = copy(out.q!);
        const d = q.data as Int8Array;
        for (let i = 0; i < d.length; i++) if (d[i] === 127) d[i] = 126;
        return { ...out, q };
      }),
    ],
    [
      "wrong zero point (z + 1)",
      "quant_weight_g128",
      planted("bug-zero", (_op, _i, _p, out) => {
        const zero = copy(out.zero!);
        const d = zero.data as Uint8Array;
        for (let i = 0; i < d.length; i++) if (d[i]! < 15) d[i] = d[i]! + 1;
        return { ...out, zero };
      }),
    ],
    [
      "dropping the last K group",
      "gemm_w4a8_g128",
      planted("bug-last-group", (op, inputs, params) => {
        const q = copy(inputs.q!);
        const zero = copy(inputs.zero!);
        const [n, k] = q.shape as [number, number];
        const g = k / zero.shape[1]!;
        for (let r = 0; r < n; r++) {
          for (let c = k - g; c < k; c++) (q.data as Uint8Array)[r * k + c] = (zero.data as Uint8Array)[r * zero.shape[1]! + zero.shape[1]! - 1]!;
        }
        return runReference(op, { ...inputs, q }, params);
      }),
    ],
    [
      "a NaN in one lane",
      "attention_prefill",
      planted("bug-nan", (_op, _i, _p, out) => {
        const o = copy(out.o!);
        (o.data as Uint16Array)[0] = 0x7e00;
        return { o };
      }),
    ],
    [
      "a different reduction order (plain left-to-right sum of squares)",
      "rmsnorm_quant",
      planted("bug-order", (_op, inputs, params, out) => {
        const x = inputs.x!;
        const [m, k] = x.shape as [number, number];
        const y = copy(out.y!);
        const gamma = inputs.gamma!.data as Uint16Array;
        for (let r = 0; r < m; r++) {
          let ss = 0;
          for (let c = 0; c < k; c++) {
            const v = fromF16Bits((x.data as Uint16Array)[r * k + c]!);
            ss = Math.fround(ss + Math.fround(v * v));
          }
          const den = Math.fround(Math.fround(ss / k) + Math.fround(Number(params.eps ?? 1e-5)));
          const inv = Math.fround(1 / Math.fround(Math.sqrt(den)));
          for (let c = 0; c < k; c++) {
            const v = fromF16Bits((x.data as Uint16Array)[r * k + c]!);
            (y.data as Uint16Array)[r * k + c] = den === 0 ? 0 : toF16Bits(Math.fround(Math.fround(v * inv) * fromF16Bits(gamma[c]!)));
          }
        }
        return { ...out, y };
      }),
    ],
    [
      "no input validation (accepts bad input)",
      "gemm_w4a8_chn",
      planted("bug-no-validation", (_op, inputs, _p, out) => out, undefined),
    ],
  ];
  // The last planted backend must accept bad input silently: give it a run that never throws.
  const lax = bugs[bugs.length - 1]!;
  lax[2] = {
    ...lax[2],
    run: (op, inputs, params = {}) => {
      try {
        return Promise.resolve(runReference(op, inputs, params));
      } catch {
        const [m] = inputs.xq?.shape ?? [1];
        const [n] = inputs.q?.shape ?? [1];
        return Promise.resolve({ y: { dtype: "f16", shape: [m ?? 1, n ?? 1], data: new Uint16Array((m ?? 1) * (n ?? 1)) } as Tensor });
      }
    },
  };

  it.each(bugs)("%s (%s)", async (_label, op, backend) => {
    const summary = await failuresOf(backend, op);
    expect(summary.status).toBe("fail");
    expect(summary.failures.length).toBeGreaterThan(0);
    const first = summary.failures[0]!;
    expect(first.replay).toContain(`--backend ${backend.name}`);
    // Replaying the failing case id alone reproduces the failure.
    const [again] = await runConformance({ backends: [backend], filter: first.id, runs: 0, seed: 0 });
    expect(again!.executed).toBe(1);
    expect(again!.status).toBe("fail");
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
});
