#!/usr/bin/env node
/**
 * The `qoq` command: dispatches to the sub-commands of `commands/`.
 * @module
 */
import { fileURLToPath } from "node:url";
import { QoqError } from "@qoq/core";
import { UsageError } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { QOQ_REF_VERSION, QOQ_VERSION } from "./version.js";

/** Usage text. */
export function usage(): string {
  return `qoq ${QOQ_VERSION} (${QOQ_REF_VERSION}) — the executable specification of QServe's W4A8KV4 (QoQ) inference

usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join("\n")}

exit status: 0 ok, 1 a check failed, 2 bad input or usage (a typed error), 70 internal error`;
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "--version") {
    process.stdout.write(`qoq ${QOQ_VERSION} (${QOQ_REF_VERSION})\n`);
    return 0;
  }
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    process.stdout.write(usage() + "\n");
    return cmd === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (command === undefined) throw new UsageError(`unknown command '${argv.join(" ")}'`);
  return command.run(rest);
}

/** Exit code and stderr text for an error that escaped a command. */
export function reportError(e: unknown): number {
  if (e instanceof QoqError) {
    process.stderr.write(`qoq: error: ${e.message}\n`);
    return 2;
  }
  if (e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    process.stderr.write(`qoq: ${(e as Error).message}\n\n${usage()}\n`);
    return 2;
  }
  process.stderr.write(`qoq: internal error (a bug — please report it):\n${(e as Error).stack ?? String(e)}\n`);
  return 70;
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(e);
    },
  );
}
