/**
 * The differential runner: every op spec's cases on every backend, compared with the reference
 * under the op's contract; error inputs must be rejected with a typed error; every failure
 * carries a command that replays it alone.
 * @module
 */
import { OP_NAMES, QoqError, type Backend, type Contract, type NamedTensors, type OpCase, type OpName, type OpSpec } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { compareTensor, type TensorComparison } from "./compare.js";
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
  /** Reason when unsupported. */
  readonly note?: string;
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
}

/** The seed of random case `i` of op number `opIndex` in a run seeded `seed`. */
export function caseSeed(seed: number, opIndex: number, i: number): number {
  return (seed + Math.imul(opIndex + 1, 104729) + Math.imul(i, 7919)) >>> 0;
}

/** Shell-quote one argument. */
function shq(s: string): string {
  return /^[\w.,=/:+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that replays one case on one backend. */
export function replayCommand(id: string, backend: string): string {
  return `pnpm qoq conform --op ${shq(id)} --backend ${shq(backend)}`;
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

async function runValueCase(backend: Backend, c: OpCase, contracts: Readonly<Record<string, Contract>>): Promise<CaseResult> {
  const replay = replayCommand(c.id, backend.name);
  const support = backend.supports(c.op, c.params);
  if (support !== "supported") return { id: c.id, backend: backend.name, status: "unsupported", message: support.unsupported, replay };
  let want: NamedTensors;
  try {
    want = runReference(c.op, c.inputs, c.params);
  } catch (e) {
    // The reference rejects this input (e.g. an fp16 overflow): the backend must reject it too.
    if (e instanceof QoqError) return runErrorCase(backend, c, `rejected by the reference (${e.message})`);
    throw e;
  }
  let got: NamedTensors;
  try {
    got = await backend.run(c.op, c.inputs, c.params);
  } catch (e) {
    return { id: c.id, backend: backend.name, status: "fail", message: `threw on a valid input: ${(e as Error).message}`, replay };
  }
  const contract = contracts[backend.name] ?? { kind: "exact" };
  const outputs = Object.keys(want).map((name) => compareTensor(name, want[name]!, got[name], contract));
  const bad = outputs.find((o) => !o.ok);
  return bad
    ? { id: c.id, backend: backend.name, status: "fail", message: bad.reason ?? "mismatch", outputs, replay }
    : { id: c.id, backend: backend.name, status: "pass", outputs, replay };
}

async function runErrorCase(backend: Backend, c: OpCase, label: string): Promise<CaseResult> {
  const replay = replayCommand(c.id, backend.name);
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
  const plans = ops.map((op) => ({ op, cases: planCases(OP_SPECS[op], OP_NAMES.indexOf(op), opts.runs, opts.seed, replayId) }));
  const total = plans.reduce((a, p) => a + p.cases.length, 0) * opts.backends.length;
  let done = 0;
  const summaries: OpSummary[] = [];
  for (const { op, cases } of plans) {
    for (const backend of opts.backends) {
      const results: CaseResult[] = [];
      for (const pc of cases) {
        results.push(pc.kind === "value" ? await runValueCase(backend, pc.c, OP_SPECS[op].contracts) : await runErrorCase(backend, pc.c, pc.label!));
        opts.onProgress?.(++done, total, `${backend.name} ${pc.c.id}`);
      }
      summaries.push(summarize(op, backend.name, results, replayId === undefined ? MIN_CASES_PER_OP : 1));
    }
  }
  return summaries;
}

function summarize(op: OpName, backend: string, results: readonly CaseResult[], floor: number): OpSummary {
  const executed = results.filter((r) => r.status !== "unsupported");
  const failures = results.filter((r) => r.status === "fail");
  let worstUlp = 0;
  let worstAbs = 0;
  for (const r of executed) for (const o of r.outputs ?? []) {
    worstUlp = Math.max(worstUlp, o.maxUlp);
    worstAbs = Math.max(worstAbs, o.maxAbs);
  }
  const base = { op, backend, executed: executed.length, failed: failures.length, worstUlp, worstAbs, failures: failures.slice(0, 20) };
  if (executed.length === 0 && results.length > 0) return { ...base, status: "unsupported", note: results[0]!.message ?? "unsupported" };
  if (executed.length < floor) {
    return { ...base, status: "fail", failed: base.failed + 1, note: `only ${executed.length} case(s) executed, below the floor of ${floor}` };
  }
  return { ...base, status: failures.length > 0 ? "fail" : "pass" };
}
