/**
 * The browser-safe part of `@qoq/oracle` (`@qoq/oracle/browser`): op specs, the differential
 * runner, comparisons, guard checks and the planted-bug backends, without the modules that need
 * Node (golden files, the HTML report writer). For running the conformance suite inside a page.
 * @module
 */
export * from "./data.js";
export * from "./compare.js";
export * from "./runner.js";
export * from "./specs/common.js";
export { OP_SPECS } from "./specs/index.js";
export * from "./guards.js";
export * from "./self_test.js";
