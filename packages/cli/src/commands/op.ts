/**
 * `qoq op list` and `qoq op run`.
 * @module
 */
import { parseArgs } from "node:util";
import { need, UsageError, type Command } from "../command.js";
import { opListJson, opListText, opRun } from "../op_commands.js";

/** `qoq op …` */
export const opCommand: Command = {
  usage: `qoq op list [--format text|json]             every op with its tensors and parameters
  qoq op run <op> --in IN.safetensors --out OUT.safetensors [--backend reference] [--param key=value]...`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { format: { type: "string" }, in: { type: "string" }, out: { type: "string" }, backend: { type: "string" }, param: { type: "string", multiple: true } },
    });
    const [sub, op] = positionals;
    if (sub === "list") {
      const format = values.format ?? "text";
      if (format !== "text" && format !== "json") throw new UsageError(`--format must be text or json, got '${format}'`);
      process.stdout.write(format === "json" ? opListJson() + "\n" : opListText());
      return 0;
    }
    if (sub === "run") {
      const name = need(op, "op name (qoq op run <op> …)");
      const out = need(values.out, "--out");
      const names = await opRun(name, need(values.in, "--in"), out, values.backend ?? "reference", values.param ?? []);
      process.stderr.write(`${name}: wrote ${names.join(", ")} to ${out}\n`);
      return 0;
    }
    throw new UsageError(`unknown command 'op ${positionals.join(" ")}'`);
  },
};
