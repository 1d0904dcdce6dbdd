/**
 * Plain-text rendering of conformance results: the ops × backends table.
 * @module
 */
import type { OpSummary } from "./runner.js";

function cell(s: OpSummary | undefined): string {
  if (!s) return "-";
  if (s.status === "unsupported") return "unsupported";
  const mark = s.status === "pass" ? "✓" : "✗";
  const err = s.worstUlp > 0 || s.worstAbs > 0 ? ` ${s.worstUlp}ulp` : " exact";
  return `${mark} ${s.executed}${err}${s.status === "fail" ? ` (${s.failed} failed)` : ""}`;
}

/** The ops × backends table: ✓/✗/unsupported, cases executed, worst error. */
export function summaryTable(summaries: readonly OpSummary[]): string {
  const ops = [...new Set(summaries.map((s) => s.op))];
  const backends = [...new Set(summaries.map((s) => s.backend))];
  const rows = [["op", ...backends], ...ops.map((op) => [op, ...backends.map((b) => cell(summaries.find((s) => s.op === op && s.backend === b)))])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  const line = (r: string[]) => r.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join("  ");
  return [line(rows[0]!), widths.map((w) => "─".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
