/**
 * The QoQ quantization pipeline: calibration, block-input rotation, SmoothAttention, output
 * smoothing, channel reordering, clipping and progressive group quantization with GPTQ rounding, from an FP
 * checkpoint to a {@link @qoq/model!QuantizedModel}, and the quantized checkpoint format.
 * @module
 */
export * from "./checkpoint.js";
export * from "./fp64.js";
export * from "./calibration.js";
export * from "./transforms.js";
export * from "./smooth_search.js";
export * from "./clip.js";
export * from "./gptq.js";
export * from "./pipeline.js";
export * from "./step_selection.js";
