import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bytesEqual, fromNumbers, OP_NAMES, parseSafetensors, serializeSafetensors, writeSafetensorsFile } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { OP_SPECS } from "@qoq/oracle";

const MAIN = join(import.meta.dirname, "..", "dist", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "qoq-cli-"));
afterAll(() => rmSync(tmp, { recursive: true }));

function qoq(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("qoq op", () => {
  it("op list prints every op with its tensors; --format json is machine-readable", () => {
    const r = qoq("op", "list");
    expect(r.code).toBe(0);
    for (const op of OP_NAMES) expect(r.stdout).toContain(`${op} — `);
    expect(r.stdout).toContain("in   x: f16[M×K]");
    const j = qoq("op", "list", "--format", "json");
    expect((JSON.parse(j.stdout) as { name: string }[]).map((s) => s.name)).toEqual([...OP_NAMES]);
  });

  it.each(OP_NAMES)("op run %s reproduces the reference byte for byte through files", (op) => {
    const c = OP_SPECS[op].edgeCases()[0]!;
    const inPath = join(tmp, `${op}.in.safetensors`);
    const outPath = join(tmp, `${op}.out.safetensors`);
    writeSafetensorsFile(inPath, c.inputs);
    const params = Object.entries(c.params).flatMap(([k, v]) => ["--param", `${k}=${v}`]);
    const r = qoq("op", "run", op, "--in", inPath, "--out", outPath, "--backend", "reference", ...params);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    const { tensors, metadata } = parseSafetensors(readFileSync(outPath));
    expect(metadata.op).toBe(op);
    const want = runReference(op, c.inputs, c.params);
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) expect(bytesEqual(tensors[k]!, want[k]!)).toBe(true);
  });

  const bad = (): [string, string[], RegExp][] => {
    const good = join(tmp, "good.safetensors");
    writeSafetensorsFile(good, { x: fromNumbers("f16", [2, 3], [1, 2, 3, 4, 5, 6]) });
    const w = join(tmp, "w.safetensors");
    writeSafetensorsFile(w, { w: fromNumbers("f32", [2, 96], new Array(192).fill(0.5)) });
    const hostile = join(tmp, "hostile.safetensors");
    const bytes = serializeSafetensors({ x: fromNumbers("f16", [2, 3], [1, 2, 3, 4, 5, 6]) });
    writeFileSync(hostile, bytes.subarray(0, bytes.length - 2));
    const nan = join(tmp, "nan.safetensors");
    writeSafetensorsFile(nan, { x: fromNumbers("f16", [1, 2], [1, NaN]) });
    const out = join(tmp, "o.safetensors");
    return [
      ["unknown op", ["op", "run", "quant_act_int9", "--in", good, "--out", out], /unknown op 'quant_act_int9'/],
      ["missing --in", ["op", "run", "quant_act_int8", "--out", out], /missing --in/],
      ["no such file", ["op", "run", "quant_act_int8", "--in", join(tmp, "nope"), "--out", out], /cannot read .*ENOENT/],
      ["truncated safetensors", ["op", "run", "quant_act_int8", "--in", hostile, "--out", out], /safetensors: .*tensor 'x'/],
      ["wrong tensor for the op", ["op", "run", "quant_weight_int8", "--in", good, "--out", out], /unexpected input tensor 'x'/],
      ["K not a multiple of the group", ["op", "run", "quant_weight_g128", "--in", w, "--out", out], /96.*128|128.*96/],
      ["bad param value", ["op", "run", "quant_weight_g128", "--in", w, "--out", out, "--param", "group=abc"], /group.*finite number/],
      ["unknown param", ["op", "run", "quant_act_int8", "--in", good, "--out", out, "--param", "foo=1"], /unknown parameter 'foo'/],
      ["malformed --param", ["op", "run", "quant_act_int8", "--in", good, "--out", out, "--param", "oops"], /key=value/],
      ["NaN input", ["op", "run", "quant_act_int8", "--in", nan, "--out", out], /tensor 'x'.*non-finite/],
      ["unknown backend", ["op", "run", "quant_act_int8", "--in", good, "--out", out, "--backend", "tpu"], /unknown backend 'tpu'/],
      ["unknown command", ["frobnicate"], /unknown command/],
      ["unknown flag", ["op", "list", "--frob"], /Unknown option/],
    ];
  };

  it.each(bad())("bad input: %s → exit 2, one clear line, no stack trace", (_label, args, message) => {
    const r = qoq(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("qoq conform and golden", () => {
  it("conform on one op passes, prints the table and writes JSON", () => {
    const json = join(tmp, "conform.json");
    const r = qoq("conform", "--op", "gemm_w4a8_chn", "--runs", "3", "--json", json);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/gemm_w4a8_chn\s+✓/);
    const doc = JSON.parse(readFileSync(json, "utf8")) as { summaries: { op: string; status: string; executed: number }[] };
    expect(doc.summaries[0]).toMatchObject({ op: "gemm_w4a8_chn", status: "pass" });
    expect(doc.summaries[0]!.executed).toBeGreaterThan(3);
  });

  it("conform replays a single case by id", () => {
    const id = OP_SPECS.rope.randomCase(12345).id;
    const r = qoq("conform", "--op", id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rope\s+✓ 1 exact/);
  });

  it("golden verify passes on the committed goldens", () => {
    const r = qoq("golden", "verify");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0 problem/);
  });

  it("golden verify --backend runs the goldens on each named backend; onnx-fp16 (a tolerance contract) is not byte-exact and fails; an unknown name is a usage error", () => {
    const r = qoq("golden", "verify", "--backend", "cpu,reference");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^cpu: \d+ golden file\(s\) reproduced byte for byte, 0 problem\(s\), 0 skipped$/m);
    expect(r.stdout).toMatch(/^reference: \d+ golden file\(s\) reproduced byte for byte, 0 problem\(s\), 0 skipped$/m);
    const onnx = qoq("golden", "verify", "--backend", "onnx-fp16");
    expect(onnx.code).toBe(1);
    expect(onnx.stdout).toMatch(/✗ onnx-fp16: /);
    expect(qoq("golden", "verify", "--backend", "nope").code).toBe(2);
  });
});
