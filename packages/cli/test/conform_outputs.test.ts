import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bytesEqual, parseSafetensors } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { plantedBugs, runConformance, type ConformReport } from "@qoq/oracle";
import { dumpCase } from "../src/conform_command.js";

const MAIN = join(import.meta.dirname, "..", "dist", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "qoq-conform-"));
afterAll(() => rmSync(tmp, { recursive: true }));

function qoq(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("qoq conform --self-test", () => {
  it("reports every planted bug caught with a replay command, and exits 0", () => {
    const r = qoq("conform", "--self-test", "--runs", "2");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const b of plantedBugs()) expect(r.stdout).toMatch(new RegExp(`✓ caught  ${b.name} on ${b.op}[^\\n]*\\n.*\\n    replay: pnpm qoq conform --self-test --op .* --backend ${b.name}\\n`));
    expect(r.stdout).not.toContain("MISSED");
    expect(r.stdout).toContain(`self-test: ${plantedBugs().length}/${plantedBugs().length} planted bug(s) caught`);
  });

  it("a printed replay command reproduces the failure alone (exit 1)", () => {
    const r = qoq("conform", "--self-test", "--op", "quant_kv4(t=5,h=2,d=16,data=gaussian)", "--backend", "bug-guard-bytes");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/guard byte\(s\) overwritten after 'q'/);
  });

  it("an unknown planted-bug name is a usage error (exit 2)", () => {
    const r = qoq("conform", "--self-test", "--backend", "bug-nope");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown planted-bug backend/);
  });
});

describe("qoq conform outputs", () => {
  it("--json, --html and --ops-doc: the report with per-case stats, a self-contained page, the matrix in Markdown", () => {
    const json = join(tmp, "out", "c.json");
    const html = join(tmp, "html");
    const ops = join(tmp, "ops.md");
    const r = qoq("conform", "--backend", "reference", "--op", "dequant", "--runs", "1", "--json", json, "--html", html, "--ops-doc", ops);
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(json, "utf8")) as ConformReport;
    expect(doc).toMatchObject({ tool: "qoq conform", schema: 1, backends: ["reference"], failures: [], models: [] });
    expect(doc.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);
    expect(doc.summaries.map((s) => s.op)).toEqual(["dequant_weight_g128", "dequant_weight_chn", "dequant_kv4"]);
    for (const s of doc.summaries) {
      expect(s.caseMaxUlp.length).toBeGreaterThan(0);
      expect(s.ulpHistogram.reduce((a, b) => a + b, 0)).toBe(s.caseMaxUlp.length);
    }
    expect(doc.contracts.dequant_kv4?.reference).toEqual({ kind: "exact" });
    const page = readFileSync(join(html, "index.html"), "utf8");
    expect(page).toContain('<tr data-op="dequant_kv4">');
    expect(page).not.toMatch(/<script[^>]+src=/);
    const md = readFileSync(ops, "utf8");
    expect(md).toContain("| [`dequant_kv4`](#dequant_kv4) | ✓ exact");
    expect(md).toContain("### dequant_weight_chn");
  });

  it("--json of a failing run carries each failure's replay command", () => {
    const json = join(tmp, "fail.json");
    const r = qoq("conform", "--op", "residual_add(m=999,seed=1)", "--json", json);
    expect(r.code).toBe(1);
    const doc = JSON.parse(readFileSync(json, "utf8")) as ConformReport;
    expect(doc.failures[0]).toMatchObject({ op: "residual_add", backend: "reference" });
    expect(doc.failures[0]!.message).toMatch(/below the floor/);
  });
});

describe("qoq bench", () => {
  it("prints a table and writes one well-formed JSON line per case and backend", () => {
    const json = join(tmp, "bench.jsonl");
    const r = qoq("bench", "--op", "quant_act", "--repeat", "2", "--json", json);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/case\s+backend\s+µs \(median\)\s+GB\/s\s+GOP\/s/);
    expect(existsSync(json)).toBe(true);
    const lines = readFileSync(json, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBe(1);
    const rec = lines[0]!;
    expect(rec).toMatchObject({ tool: "qoq bench", op: "quant_act_int8", backend: "reference", shape: "small", status: "ok", repeat: 2 });
    expect(rec.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);
    expect(typeof rec.device).toBe("string");
    expect(Number.isNaN(Date.parse(rec.date as string))).toBe(false);
    for (const k of ["us", "usMin", "gbps", "gops", "bytes", "flops"]) expect(Number.isFinite(rec[k] as number) && (rec[k] as number) > 0, k).toBe(true);
    expect(rec.dims).toEqual({ M: 4, K: 130 });
  });

  it("a bad --shape is a usage error", () => {
    const r = qoq("bench", "--shape", "huge");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shape must be one of small, llama/);
  });
});

describe("qoq conform --dump", () => {
  it("names the first diverging stage of a fused op", () => {
    const r = qoq("conform", "--self-test", "--backend", "bug-order", "--op", "rmsnorm_quant(m=1,k=4096,data=order)");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/first diverging stage 'y' \(of y → q → scale → qsum\)/);
  });

  it("writes a failing case's inputs as a safetensors file that qoq op run replays", async () => {
    const bug = plantedBugs().find((b) => b.name === "bug-clamp")!;
    const [summary] = await runConformance({ backends: [bug.backend], filter: bug.op, runs: 2, seed: 7 });
    const failure = summary!.failures[0]!;
    expect(failure.case).toBeDefined();
    const line = dumpCase(join(tmp, "dump"), failure.case!, "reference");
    const path = line.split(" ")[0]!;
    const out = join(tmp, "dump-out.safetensors");
    const r = qoq("op", "run", bug.op, "--in", path, "--out", out);
    expect(r.code).toBe(0);
    const got = parseSafetensors(readFileSync(out)).tensors;
    const want = runReference(bug.op, failure.case!.inputs, failure.case!.params);
    for (const k of Object.keys(want)) expect(bytesEqual(got[k]!, want[k]!)).toBe(true);
  });
});
