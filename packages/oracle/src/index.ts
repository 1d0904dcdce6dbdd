/**
 * `@qoq/oracle`: op specs (cases, error inputs, costs, contracts), the differential runner,
 * golden vectors and reports.
 * @packageDocumentation
 */
export * from "./data.js";
export * from "./compare.js";
export * from "./runner.js";
export * from "./golden.js";
export * from "./report.js";
export * from "./specs/common.js";
export { OP_SPECS } from "./specs/index.js";
