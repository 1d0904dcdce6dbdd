/**
 * `qoq golden update|verify`.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { updateGoldens, verifyGoldens } from "@qoq/oracle";
import { UsageError, type Command } from "../command.js";

/** The repository's golden directory (the CLI runs from packages/cli/dist/commands). */
export const DEFAULT_GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "golden");

/** `qoq golden …` */
export const goldenCommand: Command = {
  usage: `qoq golden update [--dir DIR]                regenerate the golden vectors and MANIFEST.sha256
  qoq golden verify [--dir DIR]                prove the reference reproduces every golden byte for byte`,
  async run(args) {
    const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { dir: { type: "string" } } });
    const dir = values.dir ?? DEFAULT_GOLDEN_DIR;
    if (positionals[0] === "update") {
      const lines = updateGoldens(dir);
      process.stdout.write(`wrote ${lines.length} golden file(s) and MANIFEST.sha256 to ${dir}\n`);
      return 0;
    }
    if (positionals[0] === "verify") {
      const { checked, problems } = verifyGoldens(dir);
      for (const p of problems) process.stdout.write(`✗ ${p.file}: ${p.problem}\n`);
      process.stdout.write(`${checked} golden file(s) checked, ${problems.length} problem(s)\n`);
      return problems.length === 0 ? 0 : 1;
    }
    throw new UsageError(`unknown command 'golden ${positionals.join(" ")}'`);
  },
};
