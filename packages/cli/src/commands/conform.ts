/**
 * `qoq conform`.
 * @module
 */
import { parseArgs } from "node:util";
import { intOption, type Command } from "../command.js";
import { conform, conformSelfTest } from "../conform_command.js";
import { DEFAULT_GOLDEN_DIR } from "./golden.js";
import { basename } from "node:path";
import { readFileSync } from "node:fs";
import { IoError } from "@qoq/core";
import type { ModelUnderCheck } from "../model_checks.js";
import { isSyntheticPath, loadModel, tokenizerFor } from "../models.js";

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Backends `qoq conform` tests when none are named: every one this build has (one that cannot start says why). */
export const DEFAULT_BACKENDS: readonly string[] = ["reference", "cpu", "onnx-fp16", "webgpu"];

/**
 * The models of the model-level checks: `none`, or a comma list of `synthetic[:SEED]` and model
 * paths; a real model scores the first 96 tokens of `--text` (encoded with `--tokenizer`) when
 * both are given, else a sequence sampled from its FP32 forward.
 */
function modelsToCheck(spec: string, tokenizer: string | undefined, text: string | undefined): ModelUnderCheck[] {
  if (spec === "none") return [];
  return spec.split(",").map((path) => {
    const weights = loadModel(path.trim());
    const name = isSyntheticPath(path.trim()) ? path.trim() : basename(path.trim());
    if (tokenizer !== undefined && text !== undefined && !isSyntheticPath(path.trim())) {
      const tok = tokenizerFor(tokenizer, weights);
      const tokens = tok.encode(readText(text).slice(0, 2000), { bos: true }).slice(0, 96);
      return { name, weights, tokens };
    }
    return { name, weights };
  });
}

/** `qoq conform …` */
export const conformCommand: Command = {
  usage: `qoq conform [--backend a,b (default reference,cpu,onnx-fp16,webgpu)] [--model synthetic|PATH|none] [--tokenizer T --text F] [--dump DIR] [--op FILTER|CASE_ID] [--runs N] [--seed S] [--json PATH] [--html DIR] [--ops-doc PATH]
                                               differential conformance of backends against the reference
  qoq conform --self-test [--backend bug-…] [--op CASE_ID] [--runs N] [--seed S] [--json PATH]
                                               the harness must catch every planted bug (exit 0 only if all are caught)`,
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: {
        backend: { type: "string" },
        op: { type: "string" },
        runs: { type: "string" },
        seed: { type: "string" },
        json: { type: "string" },
        html: { type: "string" },
        "ops-doc": { type: "string" },
        dir: { type: "string" },
        "self-test": { type: "boolean" },
        model: { type: "string" },
        dump: { type: "string" },
        tokenizer: { type: "string" },
        text: { type: "string" },
      },
    });
    const names = (values.backend ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    if (values["self-test"]) {
      return conformSelfTest({
        backends: names,
        runs: intOption(values.runs, "runs", 4),
        seed: intOption(values.seed, "seed", 7),
        ...(values.op !== undefined ? { op: values.op } : {}),
        ...(values.json !== undefined ? { json: values.json } : {}),
      });
    }
    return conform({
      backends: names.length > 0 ? names : [...DEFAULT_BACKENDS],
      runs: intOption(values.runs, "runs", 20),
      seed: intOption(values.seed, "seed", 1),
      goldenDir: values.dir ?? DEFAULT_GOLDEN_DIR,
      ...(values.dump !== undefined ? { dump: values.dump } : {}),
      models: modelsToCheck(values.model ?? "synthetic", values.tokenizer, values.text),
      ...(values.op !== undefined ? { op: values.op } : {}),
      ...(values.json !== undefined ? { json: values.json } : {}),
      ...(values.html !== undefined ? { html: values.html } : {}),
      ...(values["ops-doc"] !== undefined ? { opsDoc: values["ops-doc"] } : {}),
    });
  },
};
