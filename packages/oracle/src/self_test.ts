/**
 * The harness tested by itself: backends with one planted bug each (wrong rounding mode,
 * off-by-one clamp, wrong zero point, another reduction order, dropping the last K group, a NaN
 * in one lane, accepting bad input, writes past the output). `qoq conform --self-test` runs each
 * against its op and reports it caught, with the command that replays the failure alone, or
 * MISSED. A harness that misses one of these cannot be trusted with a real backend.
 * @module
 */
import { fromF16Bits, toF16Bits, type Backend, type NamedTensors, type OpName, type ParamValues, type Tensor } from "@qoq/core";
import { createReferenceBackend, runReference } from "@qoq/reference";
import { allocGuarded, GUARD_BYTES, type GuardedBuffer } from "@qoq/core";
import type { GuardedBackend } from "./guards.js";
import { REPLAY_PREFIX, runConformance } from "./runner.js";

/** One planted bug: a backend that is the reference except for one mistake, and the op that exposes it. */
export interface PlantedBug {
  /** Backend name (also the `--backend` of its replay command). */
  readonly name: string;
  /** The mistake, in words. */
  readonly description: string;
  /** The op it is run against. */
  readonly op: OpName;
  /** The buggy backend. */
  readonly backend: Backend;
}

/** Prefix of the replay commands of planted-bug failures. */
export const SELF_TEST_REPLAY_PREFIX = `${REPLAY_PREFIX} --self-test`;

type Corrupt = (op: OpName, inputs: NamedTensors, params: ParamValues, out: NamedTensors) => NamedTensors;

/** A backend that runs the reference and then corrupts its answer in one planted way. */
function planted(name: string, op: OpName, bug: Corrupt): Backend {
  return {
    name,
    supports: (o) => (o === op ? "supported" : { unsupported: "no bug planted for this op" }),
    run: (o, inputs, params = {}) => Promise.resolve().then(() => bug(o, inputs, params, runReference(o, inputs, params))),
    dispose: () => Promise.resolve(),
  };
}

function copy<T extends Tensor>(t: T): T {
  return { ...t, data: t.data.slice() } as T;
}

/** A backend that keeps its outputs in guarded buffers, like a GPU backend with read-back staging memory, and writes one element past the end of each. */
function guardSmasher(name: string, op: OpName): GuardedBackend {
  let last: GuardedBuffer[] = [];
  return {
    name,
    supports: (o) => (o === op ? "supported" : { unsupported: "no bug planted for this op" }),
    lastOutputBuffers: () => last,
    run: (o, inputs, params = {}) =>
      Promise.resolve().then(() => {
        const ref = runReference(o, inputs, params);
        const out: Record<string, Tensor> = {};
        last = [];
        for (const [k, t] of Object.entries(ref)) {
          const buf = allocGuarded(k, t.data.byteLength);
          const Ctor = t.data.constructor as new (b: ArrayBufferLike, off: number, len: number) => Tensor["data"];
          const view = new Ctor(buf.bytes.buffer, GUARD_BYTES, t.data.length + 1); // the kernel's loop runs i <= n
          view.set(t.data as never);
          view[t.data.length] = 0; // the value of the out-of-range lane lands in the guard bytes
          out[k] = { dtype: t.dtype, shape: t.shape, data: new Ctor(buf.bytes.buffer, GUARD_BYTES, t.data.length) } as Tensor;
          last.push(buf);
        }
        return out;
      }),
    dispose: () => Promise.resolve(),
  };
}

/** Every planted bug, in the order the self-test reports them. */
export function plantedBugs(): PlantedBug[] {
  const bugs: PlantedBug[] = [
    {
      name: "bug-rounding",
      description: "wrong rounding mode: one f16 output rounded the other way (one binary16 ULP off)",
      op: "residual_add",
      backend: planted("bug-rounding", "residual_add", (_op, _i, _p, out) => {
        const y = copy(out.y!);
        const d = y.data as Uint16Array;
        const i = d.findIndex((b) => (b & 0x7fff) !== 0 && (b & 0x7c00) !== 0x7c00);
        if (i >= 0) d[i] = d[i]! + 1;
        return { y };
      }),
    },
    {
      name: "bug-clamp",
      description: "off-by-one clamp: INT8 codes clamped to 126 instead of 127",
      op: "quant_act_int8",
      backend: planted("bug-clamp", "quant_act_int8", (_op, _i, _p, out) => {
        const q = copy(out.q!);
        const d = q.data as Int8Array;
        for (let i = 0; i < d.length; i++) if (d[i] === 127) d[i] = 126;
        return { ...out, q };
      }),
    },
    {
      name: "bug-zero",
      description: "wrong zero point: level-2 zero z + 1",
      op: "quant_weight_g128",
      backend: planted("bug-zero", "quant_weight_g128", (_op, _i, _p, out) => {
        const zero = copy(out.zero!);
        const d = zero.data as Uint8Array;
        for (let i = 0; i < d.length; i++) if (d[i]! < 15) d[i] = d[i]! + 1;
        return { ...out, zero };
      }),
    },
    {
      name: "bug-last-group",
      description: "dropping the last K group of a W4A8 GEMM",
      op: "gemm_w4a8_g128",
      backend: planted("bug-last-group", "gemm_w4a8_g128", (op, inputs, params) => {
        const q = copy(inputs.q!);
        const zero = inputs.zero!;
        const [n, k] = q.shape as [number, number];
        const groups = zero.shape[1]!;
        const g = k / groups;
        // Codes equal to the zero point contribute nothing: the last group is skipped.
        for (let r = 0; r < n; r++) for (let c = k - g; c < k; c++) (q.data as Uint8Array)[r * k + c] = (zero.data as Uint8Array)[r * groups + groups - 1]!;
        return runReference(op, { ...inputs, q }, params);
      }),
    },
    {
      name: "bug-nan",
      description: "a NaN in one lane of the attention output",
      op: "attention_prefill",
      backend: planted("bug-nan", "attention_prefill", (_op, _i, _p, out) => {
        const o = copy(out.o!);
        (o.data as Uint16Array)[0] = 0x7e00;
        return { o };
      }),
    },
    {
      name: "bug-order",
      description: "a different reduction order: RMSNorm's sum of squares left to right instead of R32",
      op: "rmsnorm_quant",
      backend: planted("bug-order", "rmsnorm_quant", (_op, inputs, params, out) => {
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
    },
    {
      name: "bug-no-validation",
      description: "accepting bad input: runs whatever it is given and returns zeros instead of a typed error",
      op: "gemm_w4a8_chn",
      backend: {
        name: "bug-no-validation",
        supports: (o) => (o === "gemm_w4a8_chn" ? "supported" : { unsupported: "no bug planted for this op" }),
        run: (op, inputs, params = {}) => {
          try {
            return Promise.resolve(runReference(op, inputs, params));
          } catch {
            const m = inputs.xq?.shape[0] ?? 1;
            const n = inputs.q?.shape[0] ?? 1;
            return Promise.resolve({ y: { dtype: "f16", shape: [m, n], data: new Uint16Array(m * n) } as Tensor });
          }
        },
        dispose: () => Promise.resolve(),
      },
    },
    {
      name: "bug-write-past-tensor",
      description: "a write past the output: the output tensor carries one extra trailing element",
      op: "silu_mul_quant",
      backend: planted("bug-write-past-tensor", "silu_mul_quant", (_op, _i, _p, out) => {
        const y = out.y!;
        const data = new Uint16Array(y.data.length + 1);
        data.set(y.data as Uint16Array);
        return { ...out, y: { ...y, data } as Tensor };
      }),
    },
    {
      name: "bug-guard-bytes",
      description: "a write past the output buffer: values right, but the kernel stores one element into the guard bytes",
      op: "quant_kv4",
      backend: guardSmasher("bug-guard-bytes", "quant_kv4"),
    },
  ];
  return bugs;
}

/** The verdict on one planted bug. */
export interface SelfTestResult {
  /** Backend name of the bug. */
  readonly name: string;
  /** The bug in words. */
  readonly description: string;
  /** The op it ran against. */
  readonly op: OpName;
  /** Caught: the op failed on the bug, replaying the first failing case alone fails again, and the reference passes the same cases. */
  readonly caught: boolean;
  /** Replay command of the first failing case (when one failed). */
  readonly replay?: string;
  /** What the harness said about the first failure, or why the bug counts as missed. */
  readonly message: string;
  /** Cases executed on the buggy backend. */
  readonly executed: number;
  /** Cases that failed on it. */
  readonly failed: number;
}

/** Options of {@link runSelfTest}. */
export interface SelfTestOptions {
  /** Random cases per op (default 4). */
  readonly runs?: number;
  /** Base seed (default 7). */
  readonly seed?: number;
  /** Run only the bugs with these backend names. */
  readonly only?: readonly string[];
  /** Called after each bug. */
  readonly onResult?: (r: SelfTestResult) => void;
}

/** Run every planted bug against its op; each must be caught with a replay command that fails again alone. */
export async function runSelfTest(opts: SelfTestOptions = {}): Promise<SelfTestResult[]> {
  const runs = opts.runs ?? 4;
  const seed = opts.seed ?? 7;
  const reference = createReferenceBackend();
  const out: SelfTestResult[] = [];
  for (const bug of plantedBugs()) {
    if (opts.only !== undefined && !opts.only.includes(bug.name)) continue;
    const base = { name: bug.name, description: bug.description, op: bug.op };
    const [s] = await runConformance({ backends: [bug.backend], filter: bug.op, runs, seed, replayPrefix: SELF_TEST_REPLAY_PREFIX });
    const [control] = await runConformance({ backends: [reference], filter: bug.op, runs, seed });
    let r: SelfTestResult;
    const first = s?.failures[0];
    if (s === undefined || control === undefined) r = { ...base, caught: false, message: `op ${bug.op} was not run`, executed: 0, failed: 0 };
    else if (control.status !== "pass") r = { ...base, caught: false, message: `the reference itself does not pass ${bug.op}: ${control.note ?? control.failures[0]?.message}`, executed: s.executed, failed: s.failed };
    else if (s.status !== "fail" || first === undefined) r = { ...base, caught: false, message: `${s.executed} case(s) ran and none failed`, executed: s.executed, failed: s.failed };
    else {
      const [again] = await runConformance({ backends: [bug.backend], filter: first.id, runs: 0, seed: 0, replayPrefix: SELF_TEST_REPLAY_PREFIX });
      const reproduced = again !== undefined && again.executed === 1 && again.status === "fail";
      r = {
        ...base,
        caught: reproduced,
        replay: first.replay,
        message: reproduced ? (first.message ?? "mismatch") : `failed in the run, but replaying ${first.id} alone did not fail again`,
        executed: s.executed,
        failed: s.failed,
      };
    }
    out.push(r);
    opts.onResult?.(r);
  }
  return out;
}
