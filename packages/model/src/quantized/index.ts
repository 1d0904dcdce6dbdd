/**
 * The quantized (W4A8KV4 / W8A8KV4) forward pass: RTN weight quantization into a
 * {@link QuantizedModel}, the paged KV4 cache, and the decoder layer in QServe's order, every op
 * run through a `Backend`.
 * @module
 */
export * from "./quantize.js";
export * from "./kv_cache.js";
export * from "./model.js";
