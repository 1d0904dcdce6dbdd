/**
 * `@qoq/core`: numerics (binary16/binary32 rounding, canonical reductions and exp, int4 packing),
 * the Tensor type, a seeded RNG, safetensors I/O, typed errors, the op registry, and event-loop yields
 * for long synchronous runs. (Node only, so not here: the ordered pool of worker threads,
 * `@qoq/core/worker_pool` — this entry stays loadable in a browser page.)
 * @packageDocumentation
 */
export * from "./errors.js";
export * from "./f16.js";
export * from "./f32.js";
export * from "./reduce.js";
export * from "./exp.js";
export * from "./int4.js";
export * from "./tensor.js";
export * from "./rng.js";
export * from "./safetensors.js";
export * from "./io.js";
export * from "./ops.js";
export * from "./backend.js";
export * from "./opspec.js";
export * from "./testing.js";
export * from "./guards.js";
export * from "./event_loop.js";
