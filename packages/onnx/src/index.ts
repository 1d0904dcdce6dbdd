/**
 * `@qoq/onnx`: FP16 ONNX graphs built in TypeScript (per op and whole model) and run by
 * onnxruntime-node's CPU provider — the FP16 oracle of the differential harness.
 * @packageDocumentation
 */
export * from "./proto.js";
export * from "./graph.js";
export * from "./runtime.js";
export * from "./probe.js";
export * from "./ops.js";
export * from "./backend.js";
export * from "./model.js";
