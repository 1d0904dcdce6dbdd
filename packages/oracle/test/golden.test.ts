import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OP_NAMES, tensor, type Backend } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { goldenCases, goldenPath, MANIFEST, updateGoldens, verifyGoldens, verifyGoldensOn } from "../src/index.js";

const REPO_GOLDEN = join(import.meta.dirname, "..", "..", "..", "golden");

describe("golden vectors", () => {
  it("the committed goldens are reproduced byte for byte and cover every op", async () => {
    const { checked, problems } = await verifyGoldens(REPO_GOLDEN);
    expect(problems).toEqual([]);
    expect(checked).toBe(goldenCases().length);
    const covered = new Set(goldenCases().map((c) => c.op));
    for (const op of OP_NAMES) expect(covered.has(op)).toBe(true);
  });

  it("regenerating gives the same manifest (generation is deterministic)", () => {
    const dir = mkdtempSync(join(tmpdir(), "qoq-golden-"));
    try {
      updateGoldens(dir);
      expect(readFileSync(join(dir, MANIFEST), "utf8")).toBe(readFileSync(join(REPO_GOLDEN, MANIFEST), "utf8"));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("tampering is detected: a changed output byte, a missing file, an extra file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qoq-golden-"));
    try {
      cpSync(REPO_GOLDEN, dir, { recursive: true });
      const victim = goldenPath(goldenCases()[0]!);
      const bytes = readFileSync(join(dir, victim));
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1; // last byte belongs to an output tensor (names sort in. before out.)
      writeFileSync(join(dir, victim), bytes);
      const second = goldenPath(goldenCases()[1]!);
      rmSync(join(dir, second));
      writeFileSync(join(dir, "quant_kv4", "stray.safetensors"), new Uint8Array(8));
      const { problems } = await verifyGoldens(dir);
      const text = problems.map((p) => `${p.file}: ${p.problem}`).join("\n");
      expect(text).toContain(`${victim}: sha256 differs`);
      expect(text).toMatch(new RegExp(`${victim.replace(/[.()+]/g, "\\$&")}: output '.*' no longer reproduced`));
      expect(text).toContain(`${second}: listed in the manifest but missing`);
      expect(text).toContain("quant_kv4/stray.safetensors: not in the manifest");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("verifyGoldensOn: a backend must reproduce every golden it supports; a flipped bit fails, an unsupported op is skipped", async () => {
    const ref = createReferenceBackend();
    const all = await verifyGoldensOn(REPO_GOLDEN, ref);
    expect(all.problems).toEqual([]);
    expect(all.skipped).toEqual([]);
    expect(all.checked).toBe(goldenCases().length);
    // A backend that is off by one bit in rope's output and does not support quant_kv4.
    const buggy: Backend = {
      ...ref,
      name: "buggy",
      supports: (op, params) => (op === "quant_kv4" ? { unsupported: "not here" } : ref.supports(op, params)),
      run: async (op, inputs, params) => {
        const out = await ref.run(op, inputs, params);
        if (op !== "rope") return out;
        const [name, t] = Object.entries(out)[0]!;
        const data = (t.data as Uint16Array).slice();
        data[0] = data[0]! ^ 1;
        return { ...out, [name]: tensor("f16", t.shape, data) };
      },
    };
    const r = await verifyGoldensOn(REPO_GOLDEN, buggy);
    const ropeFiles = goldenCases().filter((c) => c.op === "rope").length;
    expect(r.problems.length).toBe(ropeFiles);
    expect(r.problems.every((p) => p.file.startsWith("rope/") && p.problem.includes("byte for byte"))).toBe(true);
    expect(r.skipped.length).toBe(goldenCases().filter((c) => c.op === "quant_kv4").length);
    expect(r.skipped[0]!.problem).toContain("unsupported by buggy: not here");
  });
});
