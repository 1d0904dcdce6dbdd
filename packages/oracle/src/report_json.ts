/**
 * The machine-readable result of `qoq conform` (`--json PATH`), which is also the data of the
 * HTML report and the source of `docs/ops.md`. Stable field names; `schema` bumps on a breaking change.
 * @module
 */
import { OP_NAMES, type Contract, type OpName } from "@qoq/core";
import type { OpSummary } from "./runner.js";
import { OP_SPECS } from "./specs/index.js";

/** Version of the {@link ConformReport} layout. */
export const CONFORM_REPORT_SCHEMA = 1;

/**
 * Model-level results of one (model, backend) pair, filled by the model-level checks (logits
 * against FP16 ONNX, perplexity). Every metric is optional: a section of the HTML report renders
 * only the metrics present.
 */
export interface ModelResult {
  /** Model name, e.g. `synthetic` or `stories260K`. */
  readonly name: string;
  /** Backend that ran it. */
  readonly backend: string;
  /** Precision label, e.g. `W4A8KV4`, `fp16`. */
  readonly precision: string;
  /** Perplexity of this run on the evaluation text. */
  readonly ppl?: number;
  /** Perplexity of the comparison run (e.g. FP16 ONNX) on the same text. */
  readonly pplReference?: number;
  /** Mean cosine similarity of the logits with the comparison run. */
  readonly logitCosine?: number;
  /** Mean KL divergence of the comparison run's distribution from this one's (nats). */
  readonly kl?: number;
  /** Fraction of positions whose top-1 token agrees with the comparison run (0..1). */
  readonly top1?: number;
  /** Error of the hidden state after each layer against the comparison run (e.g. NMSE), layer 0 first. */
  readonly perLayerError?: readonly number[];
  /** What `perLayerError` measures, e.g. `NMSE of the residual stream`. */
  readonly perLayerMetric?: string;
}

/** One failing case with its replay command, flattened for scripts. */
export interface FailureRecord {
  /** The op. */
  readonly op: OpName;
  /** Backend name. */
  readonly backend: string;
  /** Case id (empty when the pair failed as a whole, e.g. below the floor). */
  readonly id: string;
  /** What went wrong. */
  readonly message: string;
  /** Command that replays it alone (empty when the pair failed as a whole). */
  readonly replay: string;
}

/** The whole result of a `qoq conform` run. */
export interface ConformReport {
  /** Always `qoq conform`. */
  readonly tool: "qoq conform";
  /** {@link CONFORM_REPORT_SCHEMA}. */
  readonly schema: number;
  /** qoq version. */
  readonly version: string;
  /** Numerics contract version. */
  readonly numerics: string;
  /** ISO date of the run. */
  readonly date: string;
  /** Commit of the tree, or `unknown`. */
  readonly commit: string;
  /** Base seed. */
  readonly seed: number;
  /** Random cases per op. */
  readonly runs: number;
  /** Backends that ran. */
  readonly backends: readonly string[];
  /** Backends asked for that could not start, with the one-line reason. */
  readonly unavailable: readonly { readonly name: string; readonly reason: string }[];
  /** Golden-vector check. */
  readonly goldens: { readonly checked: number; readonly problems: number };
  /** One summary per (op, backend). */
  readonly summaries: readonly OpSummary[];
  /** Every failure with its replay command. */
  readonly failures: readonly FailureRecord[];
  /** The contract of every op selected, per backend that ran (`exact` where the spec names none). */
  readonly contracts: Readonly<Partial<Record<OpName, Readonly<Record<string, Contract>>>>>;
  /** Model-level results (empty until the model-level checks run). */
  readonly models: readonly ModelResult[];
}

/** Fields of a {@link ConformReport} that the caller supplies. */
export interface ConformReportInput {
  /** qoq version. */
  readonly version: string;
  /** Numerics contract version. */
  readonly numerics: string;
  /** Commit, or `unknown`. */
  readonly commit: string;
  /** Base seed. */
  readonly seed: number;
  /** Random cases per op. */
  readonly runs: number;
  /** Backends that ran. */
  readonly backends: readonly string[];
  /** Backends that could not start. */
  readonly unavailable?: readonly { readonly name: string; readonly reason: string }[];
  /** Golden check. */
  readonly goldens?: { readonly checked: number; readonly problems: number };
  /** The summaries. */
  readonly summaries: readonly OpSummary[];
  /** Model-level results. */
  readonly models?: readonly ModelResult[];
  /** Date; default now. */
  readonly date?: string;
}

/** The contract of `op` on `backend`: the spec's entry, or `exact`. */
export function contractOf(op: OpName, backend: string): Contract {
  return OP_SPECS[op].contracts[backend] ?? { kind: "exact" };
}

/** Assemble a {@link ConformReport}. */
export function buildConformReport(r: ConformReportInput): ConformReport {
  const ops = OP_NAMES.filter((op) => r.summaries.some((s) => s.op === op));
  const contracts: Partial<Record<OpName, Record<string, Contract>>> = {};
  for (const op of ops) contracts[op] = Object.fromEntries(r.backends.map((b) => [b, contractOf(op, b)]));
  const failures: FailureRecord[] = [];
  for (const s of r.summaries) {
    if (s.status !== "fail") continue;
    if (s.note !== undefined) failures.push({ op: s.op, backend: s.backend, id: "", message: s.note, replay: "" });
    for (const f of s.failures) failures.push({ op: s.op, backend: s.backend, id: f.id, message: f.message ?? "mismatch", replay: f.replay });
  }
  return {
    tool: "qoq conform",
    schema: CONFORM_REPORT_SCHEMA,
    version: r.version,
    numerics: r.numerics,
    date: r.date ?? new Date().toISOString(),
    commit: r.commit,
    seed: r.seed,
    runs: r.runs,
    backends: r.backends,
    unavailable: r.unavailable ?? [],
    goldens: r.goldens ?? { checked: 0, problems: 0 },
    // The failing cases' tensors stay out of the JSON (`qoq conform --dump DIR` writes them as safetensors).
    summaries: r.summaries.map((sum) => ({ ...sum, failures: sum.failures.map(({ case: _case, ...f }) => f) })),
    failures,
    contracts,
    models: r.models ?? [],
  };
}
