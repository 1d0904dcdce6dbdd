/**
 * `qoq golden update|verify`.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { updateGoldens, verifyGoldens, verifyGoldensOn } from "@qoq/oracle";
import { openBackend } from "../backends.js";
import { UsageError, type Command } from "../command.js";

/** The repository's golden directory (the CLI runs from packages/cli/dist/commands). */
export const DEFAULT_GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "golden");

/** `qoq golden …` */
export const goldenCommand: Command = {
  usage: `qoq golden update [--dir DIR]                regenerate the golden vectors and MANIFEST.sha256
  qoq golden verify [--dir DIR] [--backend B[,B…]]
                                               prove the reference (or each named backend) reproduces every golden
                                               byte for byte (a check for the exact backends; onnx-fp16's
                                               contract is a tolerance); ops a backend does not support are skipped`,
  async run(args) {
    const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { dir: { type: "string" }, backend: { type: "string" } } });
    const dir = values.dir ?? DEFAULT_GOLDEN_DIR;
    if (positionals[0] === "update") {
      const lines = updateGoldens(dir);
      process.stdout.write(`wrote ${lines.length} golden file(s) and MANIFEST.sha256 to ${dir}\n`);
      return 0;
    }
    if (positionals[0] === "verify") {
      if (values.backend === undefined) {
        const { checked, problems } = await verifyGoldens(dir);
        for (const p of problems) process.stdout.write(`✗ ${p.file}: ${p.problem}\n`);
        process.stdout.write(`${checked} golden file(s) checked, ${problems.length} problem(s)\n`);
        return problems.length === 0 ? 0 : 1;
      }
      let failed = false;
      for (const name of values.backend.split(",")) {
        const backend = await openBackend(name);
        try {
          const { checked, problems, skipped } = await verifyGoldensOn(dir, backend);
          for (const p of problems) process.stdout.write(`✗ ${name}: ${p.file}: ${p.problem}\n`);
          for (const p of skipped) process.stdout.write(`- ${name}: ${p.file}: skipped, ${p.problem}\n`);
          process.stdout.write(`${name}: ${checked} golden file(s) reproduced byte for byte, ${problems.length} problem(s), ${skipped.length} skipped\n`);
          failed ||= problems.length > 0;
        } finally {
          await backend.dispose();
        }
      }
      return failed ? 1 : 0;
    }
    throw new UsageError(`unknown command 'golden ${positionals.join(" ")}'`);
  },
};
