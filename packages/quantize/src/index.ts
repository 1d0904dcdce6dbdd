/**
 * The QoQ quantization pipeline: calibration, block-input rotation, SmoothAttention, output
 * smoothing, channel reordering, clipping and progressive group quantization, from an FP
 * checkpoint to a {@link @qoq/model!QuantizedModel}, and the quantized checkpoint format.
 * @module
 */
export {};
export * from "./checkpoint.js";
