/**
 * `@qoq/cli`: the `qoq` command as a library (for tests and embedding).
 * @packageDocumentation
 */
export { main, usage, reportError } from "./main.js";
export { UsageError, need, intOption, type Command } from "./command.js";
export { COMMANDS } from "./commands/index.js";
export { DEFAULT_GOLDEN_DIR } from "./commands/golden.js";
export { opListText, opListJson, opRun, parseParamArgs } from "./op_commands.js";
export { conform, conformSelfTest, OPS_DOC_COMMAND, type ConformOptions, type SelfTestCliOptions } from "./conform_command.js";
export { currentCommit, cpuModel } from "./env_info.js";
export { benchCommand } from "./commands/bench.js";
export { BACKEND_FACTORIES, openBackend } from "./backends.js";
export { QOQ_REF_VERSION, QOQ_VERSION } from "./version.js";
export { runModelChecks, compareLogits, modelTable, layerNmse, layerRecorder, PER_LAYER_METRIC, type LayerRecorder, FORWARD_OPS, MIN_FP32_ONNX_COSINE, MIN_FP32_ONNX_TOP1, type ModelUnderCheck, type ModelCheckOutcome } from "./model_checks.js";
export { dumpCase } from "./conform_command.js";
export { PRECISIONS, openModel, loadModel, modelOptions, type ModelOptions, type QuantSource } from "./models.js";
export { quantSourceFrom } from "./commands/eval.js";
export { QOQ_ARG_OPTIONS, QOQ_USAGE, qoqOptionsFrom, calibrationFrom, prefillKvFrom, readText, stageProgress, type PipelineInputs, type QoqArgValues } from "./quant_options.js";
