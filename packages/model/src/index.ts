/**
 * `@qoq/model`: LLaMA configuration and weights, loaders, tokenizer, the synthetic model,
 * forward passes, generation and perplexity.
 * @packageDocumentation
 */
export * from "./config.js";
export * from "./weights.js";
export * from "./language_model.js";
export * from "./errors.js";
export * from "./validate.js";
export * from "./llama2c.js";
export * from "./tokenizer.js";
export * from "./dense.js";
export * from "./generate.js";
export * from "./perplexity.js";
export * from "./hf.js";
export * from "./synthetic.js";
export * from "./quantized/index.js";
