#!/usr/bin/env node
/**
 * The `qoq` command.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { QoqError } from "@qoq/core";
import { updateGoldens, verifyGoldens } from "@qoq/oracle";
import { conform } from "./conform_command.js";
import { opListJson, opListText, opRun } from "./op_commands.js";
import { QOQ_REF_VERSION, QOQ_VERSION } from "./version.js";

/** The repository's golden directory (the CLI runs from packages/cli/dist). */
export const DEFAULT_GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "golden");

/** Usage text. */
export const USAGE = `qoq ${QOQ_VERSION} (${QOQ_REF_VERSION}) — the executable specification of QServe's W4A8KV4 (QoQ) inference

usage:
  qoq op list [--format text|json]             every op with its tensors and parameters
  qoq op run <op> --in IN.safetensors --out OUT.safetensors [--backend reference] [--param key=value]...
  qoq golden update [--dir DIR]                regenerate the golden vectors and MANIFEST.sha256
  qoq golden verify [--dir DIR]                prove the reference reproduces every golden byte for byte
  qoq conform [--backend a,b] [--op FILTER|CASE_ID] [--runs N] [--seed S] [--json PATH]
                                               differential conformance of backends against the reference

exit status: 0 ok, 1 a check failed, 2 bad input or usage (a typed error), 70 internal error`;

class UsageError extends Error {}

function need(v: string | undefined, what: string): string {
  if (v === undefined || v === "") throw new UsageError(`missing ${what}`);
  return v;
}

function intOption(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
      json: { type: "string" },
      in: { type: "string" },
      out: { type: "string" },
      backend: { type: "string" },
      param: { type: "string", multiple: true },
      dir: { type: "string" },
      op: { type: "string" },
      runs: { type: "string" },
      seed: { type: "string" },
      format: { type: "string" },
    },
  });
  const [cmd, sub, ...rest] = positionals;
  if (values.version) {
    process.stdout.write(`qoq ${QOQ_VERSION} (${QOQ_REF_VERSION})\n`);
    return 0;
  }
  if (values.help || cmd === undefined || cmd === "help") {
    process.stdout.write(USAGE + "\n");
    return cmd === undefined && !values.help ? 2 : 0;
  }
  if (cmd === "op" && sub === "list") {
    const format = values.format ?? "text";
    if (format !== "text" && format !== "json") throw new UsageError(`--format must be text or json, got '${format}'`);
    process.stdout.write(format === "json" ? opListJson() + "\n" : opListText());
    return 0;
  }
  if (cmd === "op" && sub === "run") {
    const op = need(rest[0], "op name (qoq op run <op> …)");
    const names = await opRun(op, need(values.in, "--in"), need(values.out, "--out"), values.backend ?? "reference", values.param ?? []);
    process.stderr.write(`${op}: wrote ${names.join(", ")} to ${values.out}\n`);
    return 0;
  }
  if (cmd === "golden" && (sub === "update" || sub === "verify")) {
    const dir = values.dir ?? DEFAULT_GOLDEN_DIR;
    if (sub === "update") {
      const lines = updateGoldens(dir);
      process.stdout.write(`wrote ${lines.length} golden file(s) and MANIFEST.sha256 to ${dir}\n`);
      return 0;
    }
    const { checked, problems } = verifyGoldens(dir);
    for (const p of problems) process.stdout.write(`✗ ${p.file}: ${p.problem}\n`);
    process.stdout.write(`${checked} golden file(s) checked, ${problems.length} problem(s)\n`);
    return problems.length === 0 ? 0 : 1;
  }
  if (cmd === "conform") {
    return conform({
      backends: (values.backend ?? "reference").split(",").map((s) => s.trim()).filter(Boolean),
      runs: intOption(values.runs, "runs", 20),
      seed: intOption(values.seed, "seed", 1),
      goldenDir: values.dir ?? DEFAULT_GOLDEN_DIR,
      ...(values.op !== undefined ? { op: values.op } : {}),
      ...(values.json !== undefined ? { json: values.json } : {}),
    });
  }
  throw new UsageError(`unknown command '${positionals.join(" ")}'`);
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof QoqError) {
        process.stderr.write(`qoq: error: ${e.message}\n`);
        process.exitCode = 2;
      } else if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
        process.stderr.write(`qoq: ${(e as Error).message}\n\n${USAGE}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`qoq: internal error (a bug — please report it):\n${(e as Error).stack ?? String(e)}\n`);
        process.exitCode = 70;
      }
    },
  );
}
