/**
 * The differential runner: every op spec's cases on every backend, compared with the reference
 * under the op's contract; error inputs must be rejected with a typed error; every failure
 * carries a command that replays it alone.
 * @module
 */
import { bindInputs, getSignature, OP_NAMES, QoqError, type Backend, type Contract, type NamedTensors, type OpCase, type OpName, type OpSpec } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { compareTensor, type TensorComparison } from "./compare.js";
import { checkGuards } from "@qoq/core";
import { isGuardedBackend } from "./guards.js";
import { OP_SPECS } from "./specs/index.js";

/** Fewest cases an (op, backend) pair must execute; fewer fails the pair (a silently empty run is a bug). */
export const MIN_CASES_PER_OP = 3;

/** Result of one case on one backend. */
export interface CaseResult {
  /** Case id (the replay key). */
  readonly id: string;
  /** Backend name. */
  readonly backend: string;
  /** pass, fail, or unsupported. */
  readonly status: "pass" | "fail" | "unsupported";
  /** What went wrong, or why unsupported. */
  readonly message?: string;
  /** Per-output comparisons. */
  readonly outputs?: readonly TensorComparison[];
  /** Command that replays this case alone. */
  readonly replay: string;
  /** The failing case itself (inputs and parameters), so it can be written out for `qoq op run`; only on failures. */
  readonly case?: OpCase;
}

/** Summary of one op on one backend. */
export interface OpSummary {
  /** The op. */
  readonly op: OpName;
  /** Backend name. */
  readonly backend: string;
  /** pass when every case passed and the floor was met; unsupported when no case ran. */
  readonly status: "pass" | "fail" | "unsupported";
  /** Cases executed (value cases and error cases). */
  readonly executed: number;
  /** Cases failed. */
  readonly failed: number;
  /** Worst ULP over float outputs. */
  readonly worstUlp: number;
  /** Worst absolute difference. */
  readonly worstAbs: number;
  /** Failing cases (first 20). */
  readonly failures: readonly CaseResult[];
  /** Reason when unsupported, or why the pair failed as a whole (e.g. below the floor). */
  readonly note?: string;
  /** Largest ULP distance (in each output's own float format) of each executed value case, in run order (0 for integer outputs). */
  readonly caseMaxUlp: readonly number[];
  /** Largest absolute difference of each executed value case, in run order. */
  readonly caseMaxAbs: readonly number[];
  /** Executed value cases counted per {@link ULP_BUCKETS} bucket of their largest ULP distance. */
  readonly ulpHistogram: readonly number[];
}

/**
 * Buckets of the per-case ULP histogram: bucket `i` holds cases whose largest ULP distance `u`
 * satisfies `ULP_BUCKETS[i-1].max < u ≤ ULP_BUCKETS[i].max` (the last bucket is unbounded).
 * Distances are in each output's own format: binary16 ULPs for binary16 outputs, binary32 ULPs otherwise.
 */
export const ULP_BUCKETS: readonly { readonly label: string; readonly max: number }[] = [
  { label: "0 (exact)", max: 0 },
  { label: "1", max: 1 },
  { label: "2", max: 2 },
  { label: "3–4", max: 4 },
  { label: "5–16", max: 16 },
  { label: "17–256", max: 256 },
  { label: "257–65536", max: 65536 },
  { label: "> 65536", max: Infinity },
];

/** The {@link ULP_BUCKETS} index of a ULP distance. */
export function ulpBucket(ulp: number): number {
  const i = ULP_BUCKETS.findIndex((b) => ulp <= b.max);
  return i < 0 ? ULP_BUCKETS.length - 1 : i;
}

/** Options of a conformance run. */
export interface RunOptions {
  /** Backends to test (the reference is the oracle and may be among them). */
  readonly backends: readonly Backend[];
  /** Op name substring, or a full case id to replay one case. */
  readonly filter?: string;
  /** Random cases per op. */
  readonly runs: number;
  /** Base seed. */
  readonly seed: number;
  /** Called after each case. */
  readonly onProgress?: (done: number, total: number, label: string) => void;
  /** Specs to use instead of {@link OP_SPECS} for some ops (tests of the runner itself). */
  readonly specs?: Partial<Readonly<Record<OpName, OpSpec>>>;
  /** Fewest executed cases per (op, backend); default {@link MIN_CASES_PER_OP} (1 when replaying one case id). */
  readonly floor?: number;
  /** Command prefix of replay commands; default `pnpm qoq conform`. */
  readonly replayPrefix?: string;
}

/** The seed of random case `i` of op number `opIndex` in a run seeded `seed`. */
export function caseSeed(seed: number, opIndex: number, i: number): number {
  return (seed + Math.imul(opIndex + 1, 104729) + Math.imul(i, 7919)) >>> 0;
}

/** Shell-quote one argument. */
function shq(s: string): string {
  return /^[\w.,=/:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Default prefix of replay commands. */
export const REPLAY_PREFIX = "pnpm qoq conform";

/** The command that replays one case on one backend. */
export function replayCommand(id: string, backend: string, prefix: string = REPLAY_PREFIX): string {
  return `${prefix} --op ${shq(id)} --backend ${shq(backend)}`;
}

/**
 * Structural checks of a backend's outputs against the op's signature, before any value is
 * compared: exactly the signature's output names, each tensor's element count equal to the
 * product of its shape (extra trailing elements are a write past the output), each shape equal
 * to the signature's shape under the dims bound by the inputs, and, for a backend that exposes
 * raw buffers, intact guard bytes. Returns the first problem, or `undefined`.
 */
export function checkOutputIntegrity(backend: Backend, c: OpCase, got: NamedTensors): string | undefined {
  const sig = getSignature(c.op);
  const names = new Set(sig.outputs.map((o) => o.name));
  for (const name of Object.keys(got)) if (!names.has(name)) return `unexpected output '${name}' (outputs are ${[...names].join(", ")})`;
  let dims: Readonly<Record<string, number>> = {};
  try {
    dims = bindInputs(sig, c.inputs);
  } catch {
    // The reference accepted these inputs, so this does not happen; shapes are still compared with the reference's.
  }
  for (const spec of sig.outputs) {
    const t = got[spec.name];
    if (t === undefined) continue; // reported as missing by the comparison
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      return `write past the output: '${spec.name}' holds ${t.data.length} element(s) for shape [${t.shape.join(", ")}] (${count})`;
    }
    const want = spec.shape.map((sym) => dims[sym]);
    if (t.shape.length !== want.length || want.some((d, i) => d !== undefined && d !== t.shape[i])) {
      return `output '${spec.name}' has shape [${t.shape.join(", ")}], the signature says [${spec.shape.map((sym, i) => `${sym}=${want[i] ?? "?"}`).join(", ")}]`;
    }
  }
  if (isGuardedBackend(backend)) {
    const bufs = backend.lastOutputBuffers();
    for (const spec of sig.outputs) if (got[spec.name] !== undefined && !bufs.some((b) => b.name === spec.name)) return `no guarded buffer for output '${spec.name}'`;
    for (const b of bufs) {
      const problem = checkGuards(b);
      if (problem !== undefined) return `write past the output: ${problem}`;
    }
  }
  return undefined;
}

/** A case scheduled for a run: a value case compared with the reference, or an error case that must be rejected. */
export interface PlannedCase {
  /** value: compare outputs; error: expect a typed error. */
  kind: "value" | "error";
  /** What is wrong with an error case. */
  label?: string;
  /** The case. */
  c: OpCase;
}

/** The cases of one op for a run: edge cases, `runs` random cases, error cases; or one case by id. */
export function planCases(spec: OpSpec, opIndex: number, runs: number, seed: number, id?: string): PlannedCase[] {
  if (id !== undefined) {
    const m = /[(,]seed=(\d+)[,)]/.exec(id);
    if (m && !id.includes("[error:")) {
      const c = spec.randomCase(Number(m[1]));
      if (c.id === id) return [{ kind: "value", c }];
    }
    const edge = spec.edgeCases().find((c) => c.id === id);
    if (edge) return [{ kind: "value", c: edge }];
    const err = spec.errorCases().find((e) => e.case.id === id);
    if (err) return [{ kind: "error", label: err.label, c: err.case }];
    return [];
  }
  const out: PlannedCase[] = spec.edgeCases().map((c) => ({ kind: "value" as const, c }));
  for (let i = 0; i < runs; i++) out.push({ kind: "value", c: spec.randomCase(caseSeed(seed, opIndex, i)) });
  for (const e of spec.errorCases()) out.push({ kind: "error", label: e.label, c: e.case });
  return out;
}

async function runValueCase(backend: Backend, c: OpCase, contracts: Readonly<Record<string, Contract>>, prefix: string): Promise<CaseResult> {
  const replay = replayCommand(c.id, backend.name, prefix);
  const support = backend.supports(c.op, c.params);
  if (support !== "supported") return { id: c.id, backend: backend.name, status: "unsupported", message: support.unsupported, replay };
  let want: NamedTensors;
  try {
    want = runReference(c.op, c.inputs, c.params);
  } catch (e) {
    // The reference rejects this input (e.g. an fp16 overflow): the backend must reject it too.
    if (e instanceof QoqError) return runErrorCase(backend, c, `rejected by the reference (${e.message})`, prefix);
    throw e;
  }
  let got: NamedTensors;
  try {
    got = await backend.run(c.op, c.inputs, c.params);
  } catch (e) {
    return { id: c.id, backend: backend.name, status: "fail", message: `threw on a valid input: ${(e as Error).message}`, replay, case: c };
  }
  const broken = checkOutputIntegrity(backend, c, got);
  if (broken !== undefined) return { id: c.id, backend: backend.name, status: "fail", message: broken, replay, case: c };
  const contract = contracts[backend.name] ?? { kind: "exact" };
  // Outputs in signature order, which is stage order for the fused ops (e.g. rmsnorm_quant: y, then
  // the quantization of y), so the first failing output is the first stage that diverges.
  const order = getSignature(c.op).outputs.map((o) => o.name).filter((n) => n in want);
  const outputs = order.map((name) => compareTensor(name, want[name]!, got[name], contract));
  const bad = outputs.find((o) => !o.ok);
  const stage = order.length > 1 && bad ? `first diverging stage '${bad.name}' (of ${order.join(" → ")}): ` : "";
  return bad
    ? { id: c.id, backend: backend.name, status: "fail", message: stage + (bad.reason ?? "mismatch"), outputs, replay, case: c }
    : { id: c.id, backend: backend.name, status: "pass", outputs, replay };
}

async function runErrorCase(backend: Backend, c: OpCase, label: string, prefix: string): Promise<CaseResult> {
  const replay = replayCommand(c.id, backend.name, prefix);
  const support = backend.supports(c.op, c.params);
  if (support !== "supported") return { id: c.id, backend: backend.name, status: "unsupported", message: support.unsupported, replay };
  try {
    await backend.run(c.op, c.inputs, c.params);
  } catch (e) {
    if (e instanceof QoqError) return { id: c.id, backend: backend.name, status: "pass", message: `${label}: ${e.message}`, replay };
    return { id: c.id, backend: backend.name, status: "fail", message: `${label}: threw an untyped ${(e as Error).name}: ${(e as Error).message}`, replay };
  }
  return { id: c.id, backend: backend.name, status: "fail", message: `${label}: accepted bad input without an error`, replay };
}

/** Which ops a filter selects: a case id selects its op; otherwise a substring of op names. */
export function selectOps(filter?: string): OpName[] {
  if (filter === undefined || filter === "") return [...OP_NAMES];
  const paren = filter.indexOf("(");
  if (paren > 0) return OP_NAMES.filter((n) => n === filter.slice(0, paren));
  return OP_NAMES.filter((n) => n.includes(filter));
}

/** Run the conformance suite. */
export async function runConformance(opts: RunOptions): Promise<OpSummary[]> {
  const ops = selectOps(opts.filter);
  const replayId = opts.filter?.includes("(") ? opts.filter : undefined;
  const prefix = opts.replayPrefix ?? REPLAY_PREFIX;
  const specOf = (op: OpName): OpSpec => opts.specs?.[op] ?? OP_SPECS[op];
  const plans = ops.map((op) => {
    // A case generator that throws must fail its op, not crash the run or vanish from it.
    try {
      return { op, cases: planCases(specOf(op), OP_NAMES.indexOf(op), opts.runs, opts.seed, replayId) };
    } catch (e) {
      return { op, cases: [] as PlannedCase[], broken: `the case generator threw: ${(e as Error).message}` };
    }
  });
  const total = plans.reduce((a, p) => a + p.cases.length, 0) * opts.backends.length;
  const floor = opts.floor ?? (replayId === undefined ? MIN_CASES_PER_OP : 1);
  let done = 0;
  const summaries: OpSummary[] = [];
  for (const plan of plans) {
    const { op, cases } = plan;
    for (const backend of opts.backends) {
      const results: CaseResult[] = [];
      for (const pc of cases) {
        results.push(pc.kind === "value" ? await runValueCase(backend, pc.c, specOf(op).contracts, prefix) : await runErrorCase(backend, pc.c, pc.label!, prefix));
        opts.onProgress?.(++done, total, `${backend.name} ${pc.c.id}`);
      }
      const s = summarize(op, backend.name, results, floor);
      summaries.push("broken" in plan ? { ...s, status: "fail", failed: s.failed + 1, note: plan.broken } : s);
    }
  }
  return summaries;
}

function summarize(op: OpName, backend: string, results: readonly CaseResult[], floor: number): OpSummary {
  const executed = results.filter((r) => r.status !== "unsupported");
  const failures = results.filter((r) => r.status === "fail");
  let worstUlp = 0;
  let worstAbs = 0;
  const caseMaxUlp: number[] = [];
  const caseMaxAbs: number[] = [];
  const ulpHistogram = ULP_BUCKETS.map(() => 0);
  for (const r of executed) {
    if (r.outputs === undefined) continue; // error cases and failures before any comparison
    let u = 0;
    let a = 0;
    for (const o of r.outputs) {
      u = Math.max(u, o.maxUlp);
      a = Math.max(a, o.maxAbs);
    }
    caseMaxUlp.push(u);
    caseMaxAbs.push(a);
    ulpHistogram[ulpBucket(u)]!++;
    worstUlp = Math.max(worstUlp, u);
    worstAbs = Math.max(worstAbs, a);
  }
  const base = { op, backend, executed: executed.length, failed: failures.length, worstUlp, worstAbs, failures: failures.slice(0, 20), caseMaxUlp, caseMaxAbs, ulpHistogram };
  if (executed.length === 0 && results.length > 0) return { ...base, status: "unsupported", note: results[0]!.message ?? "unsupported" };
  if (executed.length < floor) {
    return { ...base, status: "fail", failed: base.failed + 1, note: `only ${executed.length} case(s) executed, below the floor of ${floor}` };
  }
  return { ...base, status: failures.length > 0 ? "fail" : "pass" };
}
