/**
 * `qoq conform`: the differential conformance run over the chosen backends, plus the golden check.
 * @module
 */
import { existsSync, writeFileSync } from "node:fs";
import type { Backend } from "@qoq/core";
import { runConformance, summaryTable, verifyGoldens, type OpSummary } from "@qoq/oracle";
import { openBackend } from "./backends.js";
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
  /** Golden directory to verify (skipped when replaying one case). */
  goldenDir?: string;
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

/** Run `qoq conform`; returns the process exit code (0 = everything conforms). */
export async function conform(opts: ConformOptions): Promise<number> {
  const backends: Backend[] = [];
  for (const name of opts.backends) {
    try {
      backends.push(await openBackend(name));
    } catch (e) {
      process.stderr.write(`qoq: backend '${name}' cannot start: ${(e as Error).message}\n`);
    }
  }
  if (backends.length === 0) {
    process.stderr.write("qoq: no backend could start\n");
    return 1;
  }
  let summaries: OpSummary[];
  try {
    summaries = await runConformance({ backends, runs: opts.runs, seed: opts.seed, onProgress: progress, ...(opts.op !== undefined ? { filter: opts.op } : {}) });
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
    for (const f of s.failures) process.stdout.write(`\n✗ ${f.id} on ${f.backend}: ${f.message}\n  replay: ${f.replay}\n`);
  }
  let goldenProblems = 0;
  let goldenChecked = 0;
  if (opts.goldenDir && existsSync(opts.goldenDir) && !(opts.op ?? "").includes("(")) {
    const g = verifyGoldens(opts.goldenDir);
    goldenChecked = g.checked;
    goldenProblems = g.problems.length;
    process.stdout.write(`\ngoldens: ${g.checked} file(s) reproduced byte for byte, ${g.problems.length} problem(s)\n`);
    for (const p of g.problems) process.stdout.write(`  ✗ ${p.file}: ${p.problem}\n`);
  }
  const cases = summaries.reduce((a, s) => a + s.executed, 0);
  process.stdout.write(`\n${cases} case(s) on ${backends.map((b) => b.name).join(", ")}: ${summaries.length - failed.length} op×backend pass, ${failed.length} fail\n`);
  if (opts.json) {
    const doc = { tool: "qoq conform", version: QOQ_VERSION, numerics: QOQ_REF_VERSION, date: new Date().toISOString(), seed: opts.seed, runs: opts.runs, backends: backends.map((b) => b.name), goldens: { checked: goldenChecked, problems: goldenProblems }, summaries };
    writeFileSync(opts.json, JSON.stringify(doc, null, 2));
  }
  return failed.length > 0 || goldenProblems > 0 ? 1 : 0;
}
