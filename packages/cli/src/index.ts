/**
 * `@qoq/cli`: the `qoq` command as a library (for tests and embedding).
 * @packageDocumentation
 */
export { main, USAGE, DEFAULT_GOLDEN_DIR } from "./main.js";
export { opListText, opListJson, opRun, parseParamArgs } from "./op_commands.js";
export { conform, type ConformOptions } from "./conform_command.js";
export { BACKEND_FACTORIES, openBackend } from "./backends.js";
export { QOQ_REF_VERSION, QOQ_VERSION } from "./version.js";
