import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OP_NAMES } from "@qoq/core";
import { goldenCases, goldenPath, MANIFEST, updateGoldens, verifyGoldens } from "../src/index.js";

const REPO_GOLDEN = join(import.meta.dirname, "..", "..", "..", "golden");

describe("golden vectors", () => {
  it("the committed goldens are reproduced byte for byte and cover every op", () => {
    const { checked, problems } = verifyGoldens(REPO_GOLDEN);
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

  it("tampering is detected: a changed output byte, a missing file, an extra file", () => {
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
      const { problems } = verifyGoldens(dir);
      const text = problems.map((p) => `${p.file}: ${p.problem}`).join("\n");
      expect(text).toContain(`${victim}: sha256 differs`);
      expect(text).toMatch(new RegExp(`${victim.replace(/[.()+]/g, "\\$&")}: output '.*' no longer reproduced`));
      expect(text).toContain(`${second}: listed in the manifest but missing`);
      expect(text).toContain("quant_kv4/stray.safetensors: not in the manifest");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
