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
export * from "./guards.js";
export * from "./self_test.js";
export * from "./report_json.js";
export * from "./html_report.js";
export * from "./bench.js";
export { BENCH_CASES, BENCH_SHAPES, type BenchShape, type BenchCaseGenerator } from "./specs/bench_cases.js";
export * from "./ops_doc.js";
export * from "./arbitrary.js";
