/**
 * Every `qoq` sub-command by name. Adding a command: one file in this folder and one line here.
 * @module
 */
import type { Command } from "../command.js";
import { benchCommand } from "./bench.js";
import { conformCommand } from "./conform.js";
import { evalCommand } from "./eval.js";
import { generateCommand } from "./generate.js";
import { goldenCommand } from "./golden.js";
import { opCommand } from "./op.js";
import { quantizeCommand } from "./quantize.js";

/** The sub-commands, in the order `qoq --help` lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  op: opCommand,
  golden: goldenCommand,
  conform: conformCommand,
  bench: benchCommand,
  generate: generateCommand,
  eval: evalCommand,
  quantize: quantizeCommand,
};
