/**
 * `qoq conform`.
 * @module
 */
import { parseArgs } from "node:util";
import { intOption, type Command } from "../command.js";
import { conform, conformSelfTest } from "../conform_command.js";
import { DEFAULT_GOLDEN_DIR } from "./golden.js";

/** Backends `qoq conform` tests when none are named: every one this build has (one that cannot start says why). */
export const DEFAULT_BACKENDS: readonly string[] = ["reference", "onnx-fp16", "webgpu"];

/** `qoq conform …` */
export const conformCommand: Command = {
  usage: `qoq conform [--backend a,b (default reference,onnx-fp16,webgpu)] [--op FILTER|CASE_ID] [--runs N] [--seed S] [--json PATH] [--html DIR] [--ops-doc PATH]
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
      ...(values.op !== undefined ? { op: values.op } : {}),
      ...(values.json !== undefined ? { json: values.json } : {}),
      ...(values.html !== undefined ? { html: values.html } : {}),
      ...(values["ops-doc"] !== undefined ? { opsDoc: values["ops-doc"] } : {}),
    });
  },
};
