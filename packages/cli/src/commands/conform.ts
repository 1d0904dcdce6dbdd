/**
 * `qoq conform`.
 * @module
 */
import { parseArgs } from "node:util";
import { intOption, type Command } from "../command.js";
import { conform } from "../conform_command.js";
import { DEFAULT_GOLDEN_DIR } from "./golden.js";

/** `qoq conform …` */
export const conformCommand: Command = {
  usage: `qoq conform [--backend a,b] [--op FILTER|CASE_ID] [--runs N] [--seed S] [--json PATH]
                                               differential conformance of backends against the reference`,
  async run(args) {
    const { values } = parseArgs({
      args: [...args],
      options: { backend: { type: "string" }, op: { type: "string" }, runs: { type: "string" }, seed: { type: "string" }, json: { type: "string" }, dir: { type: "string" } },
    });
    return conform({
      backends: (values.backend ?? "reference").split(",").map((s) => s.trim()).filter(Boolean),
      runs: intOption(values.runs, "runs", 20),
      seed: intOption(values.seed, "seed", 1),
      goldenDir: values.dir ?? DEFAULT_GOLDEN_DIR,
      ...(values.op !== undefined ? { op: values.op } : {}),
      ...(values.json !== undefined ? { json: values.json } : {}),
    });
  },
};
