/**
 * `@qoq/reference`: the living specification — one scalar, readable, bit-exact function per op.
 * @packageDocumentation
 */
export * from "./impl.js";
export * from "./registry.js";
export * from "./run.js";
export { quantizeActRow, quantizeActivations, f16Values, type QuantizedActivations } from "./ops/quant_act_int8.js";
