/**
 * `qoq conform`: the differential conformance run over the chosen backends, plus the golden
 * check; its JSON, HTML and `docs/ops.md` outputs; and `--self-test`, the planted-bug check of
 * the harness itself.
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeSafetensorsFile, type Backend, type OpCase } from "@qoq/core";
import { modelTable, runModelChecks, type ModelCheckOutcome, type ModelUnderCheck } from "./model_checks.js";
import { buildConformReport, plantedBugs, renderOpsDoc, runConformance, runSelfTest, SELF_TEST_REPLAY_PREFIX, summaryTable, verifyGoldens, writeHtmlReport, type OpSummary } from "@qoq/oracle";
import { openBackend } from "./backends.js";
import { currentCommit } from "./env_info.js";
import { QOQ_REF_VERSION, QOQ_VERSION } from "./version.js";

/** Options of `qoq conform`. */
export interface ConformOptions {
  /** Backend names. */
  backends: string[];
  /** Op filter or case id. */
  op?: string;
  /** Random cases per op. */
  runs: number;
  /** Base seed. */
  seed: number;
  /** Where to write JSON results. */
  json?: string;
  /** Directory of the HTML report (`DIR/index.html`). */
  html?: string;
  /** Where to write the ops × backends Markdown (e.g. `docs/ops.md`). */
  opsDoc?: string;
  /** Golden directory to verify (skipped when replaying one case). */
  goldenDir?: string;
  /** Directory to write each failing case's inputs to, as safetensors files for `qoq op run`. */
  dump?: string;
  /** Models for the model-level checks (`[]` skips them; they are also skipped when `op` filters). */
  models?: ModelUnderCheck[];
}

/** Options of `qoq conform --self-test`. */
export interface SelfTestCliOptions {
  /** Planted-bug backend names to run (all when empty). */
  backends: string[];
  /** A case id to replay on the named bug backend(s). */
  op?: string;
  /** Random cases per op. */
  runs: number;
  /** Base seed. */
  seed: number;
  /** Where to write the verdicts as JSON. */
  json?: string;
}

function progress(done: number, total: number, label: string): void {
  if (!process.stderr.isTTY) {
    if (done === total || done % 200 === 0) process.stderr.write(`conform: ${done}/${total} cases\n`);
    return;
  }
  const width = 24;
  const filled = Math.round((done / total) * width);
  const text = `[${"█".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total} ${label}`.slice(0, (process.stderr.columns ?? 100) - 1);
  process.stderr.write(`\r\x1b[K${text}${done === total ? "\n" : ""}`);
}

function writeOut(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** The command line that regenerates `docs/ops.md`. */
export const OPS_DOC_COMMAND = "pnpm qoq conform --model none --ops-doc docs/ops.md";

let dumped = 0;

/** Write a failing case's inputs as safetensors; returns the path and the `qoq op run` command that runs it alone. */
export function dumpCase(dir: string, c: OpCase, backend: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${c.op}-${++dumped}.safetensors`);
  writeSafetensorsFile(path, c.inputs, { op: c.op, id: c.id, backend, params: JSON.stringify(c.params) });
  const params = Object.entries(c.params).map(([k, v]) => ` --param ${k}=${String(v)}`).join("");
  return `${path} (qoq op run ${c.op} --in ${path} --out out.safetensors --backend ${backend}${params})`;
}

/** Run `qoq conform`; returns the process exit code (0 = everything conforms). */
export async function conform(opts: ConformOptions): Promise<number> {
  const backends: Backend[] = [];
  const unavailable: { name: string; reason: string }[] = [];
  for (const name of opts.backends) {
    try {
      backends.push(await openBackend(name));
    } catch (e) {
      const reason = (e as Error).message.split("\n")[0] ?? "";
      unavailable.push({ name, reason });
      process.stderr.write(`qoq: backend '${name}' cannot start: ${reason}\n`);
    }
  }
  if (backends.length === 0) {
    process.stderr.write("qoq: no backend could start\n");
    return 1;
  }
  let summaries: OpSummary[];
  let modelOutcome: ModelCheckOutcome = { results: [], failures: [] };
  try {
    summaries = await runConformance({ backends, runs: opts.runs, seed: opts.seed, onProgress: progress, ...(opts.op !== undefined ? { filter: opts.op } : {}) });
    if (opts.op === undefined && (opts.models ?? []).length > 0) {
      process.stderr.write(`conform: model-level checks on ${opts.models!.map((m) => m.name).join(", ")}\n`);
      modelOutcome = await runModelChecks(opts.models!, backends);
    }
  } finally {
    for (const b of backends) await b.dispose();
  }
  if (summaries.length === 0) {
    process.stderr.write(`qoq: no op matches '${opts.op}'\n`);
    return 2;
  }
  process.stdout.write(summaryTable(summaries) + "\n");
  const failed = summaries.filter((s) => s.status === "fail");
  for (const s of failed) {
    if (s.note) process.stdout.write(`\n✗ ${s.op} on ${s.backend}: ${s.note}\n`);
    for (const f of s.failures) {
      process.stdout.write(`\n✗ ${f.id} on ${f.backend}: ${f.message}\n  replay: ${f.replay}\n`);
      if (opts.dump !== undefined && f.case !== undefined) process.stdout.write(`  inputs: ${dumpCase(opts.dump, f.case, f.backend)}\n`);
    }
  }
  let goldens = { checked: 0, problems: 0 };
  if (opts.goldenDir && existsSync(opts.goldenDir) && !(opts.op ?? "").includes("(")) {
    const g = await verifyGoldens(opts.goldenDir);
    goldens = { checked: g.checked, problems: g.problems.length };
    process.stdout.write(`\ngoldens: ${g.checked} file(s) reproduced byte for byte, ${g.problems.length} problem(s)\n`);
    for (const p of g.problems) process.stdout.write(`  ✗ ${p.file}: ${p.problem}\n`);
  }
  if (modelOutcome.results.length > 0) {
    process.stdout.write(`\nmodels (logits against FP16 ONNX on one sequence):\n${modelTable(modelOutcome.results)}\n`);
    for (const f of modelOutcome.failures) process.stdout.write(`  ✗ ${f}\n`);
  }
  const cases = summaries.reduce((a, s) => a + s.executed, 0);
  process.stdout.write(`\n${cases} case(s) on ${backends.map((b) => b.name).join(", ")}: ${summaries.length - failed.length} op×backend pass, ${failed.length} fail\n`);
  const report = buildConformReport({ version: QOQ_VERSION, numerics: QOQ_REF_VERSION, commit: currentCommit(), seed: opts.seed, runs: opts.runs, backends: backends.map((b) => b.name), unavailable, goldens, summaries, models: modelOutcome.results });
  if (opts.json) writeOut(opts.json, JSON.stringify(report, null, 2) + "\n");
  if (opts.html) process.stdout.write(`HTML report: ${writeHtmlReport(opts.html, report)}\n`);
  if (opts.opsDoc) {
    writeOut(opts.opsDoc, renderOpsDoc(report, OPS_DOC_COMMAND));
    process.stdout.write(`ops matrix: ${opts.opsDoc}\n`);
  }
  return failed.length > 0 || goldens.problems > 0 || modelOutcome.failures.length > 0 ? 1 : 0;
}

/**
 * `qoq conform --self-test`: run every planted-bug backend against its op and report each as
 * caught (with its replay command) or MISSED; exit 0 only if all are caught. With `--op CASE_ID
 * --backend bug-…` it replays one planted failure instead (exit 1: the failure reproduced).
 */
export async function conformSelfTest(opts: SelfTestCliOptions): Promise<number> {
  const bugs = plantedBugs();
  const known = new Set(bugs.map((b) => b.name));
  const unknown = opts.backends.filter((b) => !known.has(b));
  if (unknown.length > 0) {
    process.stderr.write(`qoq: unknown planted-bug backend(s) ${unknown.join(", ")}; planted: ${[...known].join(", ")}\n`);
    return 2;
  }
  if (opts.op !== undefined) {
    const chosen = bugs.filter((b) => opts.backends.length === 0 || opts.backends.includes(b.name));
    const summaries = await runConformance({ backends: chosen.map((b) => b.backend), filter: opts.op, runs: opts.runs, seed: opts.seed, replayPrefix: SELF_TEST_REPLAY_PREFIX });
    const relevant = summaries.filter((s) => s.status !== "unsupported");
    process.stdout.write(summaryTable(relevant.length > 0 ? relevant : summaries) + "\n");
    for (const s of relevant) for (const f of s.failures) process.stdout.write(`\n✗ ${f.id} on ${f.backend}: ${f.message}\n  replay: ${f.replay}\n`);
    return relevant.some((s) => s.status === "fail") ? 1 : 0;
  }
  const results = await runSelfTest({
    runs: opts.runs,
    seed: opts.seed,
    ...(opts.backends.length > 0 ? { only: opts.backends } : {}),
    onResult: (r) =>
      process.stdout.write(
        r.caught
          ? `✓ caught  ${r.name} on ${r.op} — ${r.description}\n    ${r.message}\n    replay: ${r.replay}\n`
          : `✗ MISSED  ${r.name} on ${r.op} — ${r.description}\n    ${r.message}\n`,
      ),
  });
  const missed = results.filter((r) => !r.caught);
  process.stdout.write(`\nself-test: ${results.length - missed.length}/${results.length} planted bug(s) caught${missed.length > 0 ? `; MISSED: ${missed.map((r) => r.name).join(", ")}` : ""}\n`);
  if (opts.json) writeOut(opts.json, JSON.stringify({ tool: "qoq conform --self-test", version: QOQ_VERSION, date: new Date().toISOString(), commit: currentCommit(), seed: opts.seed, runs: opts.runs, results }, null, 2) + "\n");
  return missed.length === 0 && results.length > 0 ? 0 : 1;
}
