/**
 * `qoq quantize` and `qoq eval ppl --quant` end to end on stories260K: the checkpoint is
 * deterministic, evaluating it gives the same perplexity as running the pipeline on the fly with
 * the same flags (and not the RTN one), and bad input is a one-line error with exit 2.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadQoqCheckpoint, type StepSelectionRecord } from "@qoq/quantize";

const MAIN = join(import.meta.dirname, "..", "dist", "main.js");
const DATA = join(import.meta.dirname, "../../../../shared/data");
const MODEL = join(DATA, "stories260K.bin");
const TOK = join(DATA, "tok512.bin");
const TEXT = join(DATA, "tinystories_val.txt");
const tmp = mkdtempSync(join(tmpdir(), "qoq-quantize-"));
afterAll(() => rmSync(tmp, { recursive: true }));

/** Run the CLI without blocking the test worker (a pipeline run can take a minute on a loaded machine). */
function qoq(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stdout, stderr });
    });
  });
}

const CALIB = ["--calib", join(DATA, "wiki.test.raw"), "--calib-samples", "3", "--calib-len", "64", "--keep-tokens", "64"];
const EVAL = ["eval", "ppl", "--model", MODEL, "--tokenizer", TOK, "--text", TEXT, "--max-chars", "600", "--backend", "cpu", "--prefill-kv", "kv4", "--json"];
const ppl = (stdout: string): number => JSON.parse(stdout.trim().split("\n").pop()!).ppl as number;

describe("qoq quantize / eval --quant", () => {
  if (!existsSync(MODEL)) throw new Error(`test data missing: ${MODEL} (see ../shared/data/SOURCES.md)`);

  it("writes the same checkpoint twice (one or three calibration threads), and evaluating it equals the pipeline run on the fly", async () => {
    const a = join(tmp, "a.qoq");
    const b = join(tmp, "b.qoq");
    // The second run calibrates in three worker threads: the bytes must not change. The key-pair
    // rotation searches two kept windows here, the same way in both runs and on the fly.
    for (const [out, workers] of [[a, "1"], [b, "3"]] as const) {
      const r = await qoq("quantize", "--model", MODEL, "--tokenizer", TOK, ...CALIB, "--keep-windows", "2", "--group", "32", "--no-smooth", "--key-rotation", "--workers", workers, "--out", out);
      expect(r.stderr + r.stdout, "quantize").toMatch(/steps: rotate, reorder, smoothAttention, keyRotation, gptq/);
      expect(r.code).toBe(0);
    }
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const fromFile = await qoq(...EVAL, "--precision", "w4a8kv4", "--group", "32", "--quant", a);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const onTheFly = await qoq(...EVAL, "--precision", "w4a8kv4", "--group", "32", "--quant", "qoq", ...CALIB, "--keep-windows", "2", "--no-smooth", "--key-rotation");
    expect(onTheFly.code, onTheFly.stderr).toBe(0);
    expect(ppl(fromFile.stdout)).toBe(ppl(onTheFly.stdout));
    const rtn = await qoq(...EVAL, "--precision", "w4a8kv4", "--group", "32", "--quant", "rtn");
    expect(ppl(rtn.stdout)).not.toBe(ppl(fromFile.stdout));
  });

  it("--select-steps records the held-out trials in the checkpoint, and evaluating it equals the selection run on the fly", async () => {
    const out = join(tmp, "selected.qoq");
    const flags = [...CALIB, "--group", "32", "--no-smooth", "--select-steps", "--select-samples", "1"];
    const r = await qoq("quantize", "--model", MODEL, "--tokenizer", TOK, ...flags, "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step selection \(held-out KL from FP32\): all [0-9.e+-]+; without rotate [0-9.e+-]+;.* → switched off: /);
    const { meta } = loadQoqCheckpoint(readFileSync(out));
    const sel = (meta.steps.settings as { selection: StepSelectionRecord }).selection;
    expect(sel.candidates).toEqual(["rotate", "reorder", "smoothAttention", "gptq"]);
    expect(sel.trials.length).toBe(5);
    expect(sel.tokens).toBe(64);
    // The steps that ran are the defaults less the ones the selection switched off.
    const ran = meta.steps.ran as Record<string, boolean>;
    for (const s of sel.candidates) expect(ran[s], s).toBe(!sel.off.includes(s));
    const fromFile = await qoq(...EVAL, "--precision", "w4a8kv4", "--group", "32", "--quant", out);
    const onTheFly = await qoq(...EVAL, "--precision", "w4a8kv4", "--quant", "qoq", ...flags);
    expect(onTheFly.code, onTheFly.stderr).toBe(0);
    expect(ppl(fromFile.stdout)).toBe(ppl(onTheFly.stdout));
    const bad = await qoq("quantize", "--model", MODEL, "--tokenizer", TOK, ...CALIB, "--select-samples", "2", "--out", join(tmp, "x.qoq"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--select-samples applies with --select-steps only/);
  });

  it("bad input: one line and exit 2", async () => {
    const good = join(tmp, "a.qoq");
    const broken = join(tmp, "broken.qoq");
    writeFileSync(broken, readFileSync(good).subarray(0, 5000));
    const cases: [string, string[], RegExp][] = [
      ["quantize without --calib", ["quantize", "--model", MODEL, "--tokenizer", TOK, "--out", join(tmp, "x.qoq")], /--calib/],
      ["--group with chn", ["quantize", "--model", MODEL, "--tokenizer", TOK, ...CALIB, "--variant", "chn", "--group", "32", "--out", join(tmp, "x.qoq")], /--group/],
      ["--quant qoq on fp32", [...EVAL, "--precision", "fp32", "--quant", "qoq", ...CALIB], /--quant qoq applies to precision w4a8kv4/],
      ["pipeline flag without --quant qoq", [...EVAL, "--precision", "w4a8kv4", "--no-rotate"], /--no-rotate applies to --quant qoq/],
      ["checkpoint of another variant", [...EVAL, "--precision", "w4a8kv4-chn", "--quant", good], /holds g128 weights/],
      ["checkpoint of another model", ["eval", "ppl", "--model", "synthetic", "--text", TEXT, "--max-chars", "100", "--precision", "w4a8kv4", "--quant", good], /another model/],
      ["truncated checkpoint", [...EVAL, "--precision", "w4a8kv4", "--quant", broken], /broken\.qoq/],
      ["bad --workers", ["quantize", "--model", MODEL, "--tokenizer", TOK, ...CALIB, "--workers", "0", "--out", join(tmp, "x.qoq")], /--workers must be a positive integer/],
      ["bad --keep-windows", [...EVAL, "--precision", "w4a8kv4", "--quant", "qoq", ...CALIB, "--keep-windows", "0"], /--keep-windows must be a positive integer/],
      ["bad --smooth", [...EVAL, "--precision", "w4a8kv4", "--quant", "qoq", ...CALIB, "--smooth", "2"], /--smooth/],
    ];
    for (const [what, args, re] of cases) {
      const r = await qoq(...args);
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(re);
      expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("qoq:")).length, what).toBe(1);
    }
  });

  it("eval ppl --temperature scores softmax(logits / T): FP32 at T = 1 is the plain run, T = 2 differs, T = 0 is a usage error", async () => {
    const fp = ["eval", "ppl", "--model", MODEL, "--tokenizer", TOK, "--text", TEXT, "--max-chars", "600", "--json"];
    const plain = await qoq(...fp);
    const one = await qoq(...fp, "--temperature", "1");
    const two = await qoq(...fp, "--temperature", "2");
    for (const r of [plain, one, two]) expect(r.code, r.stderr).toBe(0);
    expect(ppl(one.stdout)).toBe(ppl(plain.stdout));
    expect(ppl(two.stdout)).not.toBe(ppl(plain.stdout));
    expect(JSON.parse(two.stdout.trim().split("\n").pop()!).temperature).toBe(2);
    const bad = await qoq(...fp, "--temperature", "0");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--temperature/);
  });

  it("eval ppl --workers scores the windows on threads: the same result as one thread; --workers 0 is a usage error", async () => {
    const json = (stdout: string) => JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
    const base = ["eval", "ppl", "--model", MODEL, "--tokenizer", TOK, "--text", TEXT, "--max-chars", "600", "--json"];
    for (const precision of [["--precision", "fp32"], ["--precision", "w4a8kv4", "--group", "32", "--backend", "cpu", "--prefill-kv", "kv4"]]) {
      const [one, three] = await Promise.all([qoq(...base, ...precision, "--workers", "1"), qoq(...base, ...precision, "--workers", "3")]);
      for (const r of [one, three]) expect(r.code, r.stderr).toBe(0);
      expect(json(three.stdout), precision[1]).toEqual(json(one.stdout));
    }
    const bad = await qoq(...base, "--workers", "0");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers must be a positive integer/);
  });
});
