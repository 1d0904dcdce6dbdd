/**
 * Models for `qoq generate` / `qoq eval`: loading weights from a path and the registry of
 * precisions (forward-pass implementations) by name.
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import { IoError, ParamError, type Backend } from "@qoq/core";
import { openBackend } from "./backends.js";
import { intOption } from "./command.js";
import { isWorkerBackend, type ModelRecipe } from "./model_recipe.js";
import { runQoq } from "./quant_options.js";
import { OnnxFp16LanguageModel } from "@qoq/onnx";
import { loadQoqCheckpoint, type CalibrationSet, type QoqOptions, type QoqVariant, type StepSelectionOptions } from "@qoq/quantize";
import {
  byteLevelTokenizer,
  createQuantizedModel,
  createFp16Model,
  createFp32Model,
  loadHfCheckpoint,
  loadLlama2cBin,
  loadTokenizer,
  quantizeRtn,
  SYNTHETIC_DEFAULT_CONFIG,
  SYNTHETIC_DEFAULT_SEED,
  syntheticWeights,
  type LanguageModel,
  type LlamaConfig,
  type LlamaWeights,
  type PrefillKv,
  type QuantizedModel,
  type QuantVariant,
  type Tokenizer,
} from "@qoq/model";

/** Options every precision factory receives. */
export interface ModelOptions {
  /** `--backend NAME`, for precisions that run on a backend (fp32 and fp16 accept only `reference` or none). */
  readonly backend?: string;
  /** `--group N`: input channels per group of the per-group W4 variant (default 128). */
  readonly group?: number;
  /** `--quant`: where the W4 weights come from (default plain RTN). */
  readonly quant?: QuantSource;
  /** `--prefill-kv`: how a prefill's attention reads K/V (see `PrefillKv` in @qoq/model). */
  readonly prefillKv?: PrefillKv;
}

/**
 * Where a W4A8KV4 model's weights come from: plain RTN of the FP weights, the QoQ pipeline run
 * now (calibrated on `calib`, options per variant), or a saved QoQ checkpoint file.
 */
export type QuantSource =
  | { readonly kind: "rtn" }
  | {
      readonly kind: "qoq";
      /** Calibration windows. */
      readonly calib: CalibrationSet;
      /** The pipeline options for the precision's variant. */
      readonly options: (variant: QoqVariant) => QoqOptions;
      /** Progress of the pipeline's stages. */
      readonly onProgress?: (stage: string, done: number, total: number) => void;
      /** Held-out windows when the steps are selected on them (`--select-steps`). */
      readonly select?: StepSelectionOptions | undefined;
    }
  | { readonly kind: "file"; readonly path: string };

/** The fields of two configs that differ, e.g. `dim 64 ≠ 128`. */
function configDiff(a: LlamaConfig, b: LlamaConfig): string[] {
  const keys = ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen", "ropeTheta", "ropeStyle", "normEps"] as const;
  return keys.filter((k) => a[k] !== b[k]).map((k) => `${k} ${String(a[k])} ≠ ${String(b[k])}`);
}

/** The quantized weights of `variant` from the weights source in `opts.quant`, quantized on `backend`. */
async function quantizedWeights(w: LlamaWeights, variant: QuantVariant, opts: ModelOptions, backend: Backend): Promise<QuantizedModel> {
  const q = opts.quant ?? { kind: "rtn" };
  if (q.kind === "rtn") return quantizeRtn(w, backend, { variant, ...(variant === "g128" ? { group: opts.group ?? 128 } : {}) });
  if (variant === "w8a8") throw new ParamError("--quant qoq and checkpoint files are W4A8KV4 (precision w4a8kv4 or w4a8kv4-chn); w8a8 is RTN only");
  if (q.kind === "qoq") {
    const r = await runQoq(w, q.calib, { ...q.options(variant), backend, ...(q.onProgress ? { onProgress: q.onProgress } : {}) }, q.select);
    return r.model;
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(q.path);
  } catch (e) {
    throw new IoError(`cannot read '${q.path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { model } = loadQoqCheckpoint(bytes, q.path);
  if (model.variant !== variant) throw new ParamError(`checkpoint '${q.path}' holds ${model.variant} weights; use --precision ${model.variant === "chn" ? "w4a8kv4-chn" : "w4a8kv4"}`);
  if (opts.group !== undefined && variant === "g128" && opts.group !== model.group) throw new ParamError(`checkpoint '${q.path}' has group ${model.group}, not --group ${opts.group}`);
  const diff = configDiff(model.config, w.config);
  if (diff.length > 0) throw new ParamError(`checkpoint '${q.path}' is for another model than --model: ${diff.join(", ")}`);
  return model;
}

/** A W4A8KV4-family model of `variant` from the weights source in `opts.quant`, on `opts.backend`. */
async function quantizedModel(w: LlamaWeights, variant: QuantVariant, opts: ModelOptions): Promise<LanguageModel> {
  const backend = await openBackend(opts.backend ?? "reference");
  return createQuantizedModel(await quantizedWeights(w, variant, opts, backend), backend, opts.prefillKv !== undefined ? { prefillKv: opts.prefillKv } : {});
}

/** The variant of each quantized precision. */
const QUANTIZED_VARIANTS: Readonly<Record<string, QuantVariant>> = { w4a8kv4: "g128", "w4a8kv4-chn": "chn", w8a8: "w8a8" };

/** The variant of a quantized precision (undefined for the others), its options checked: `--group` is the per-group variant's alone. */
function quantizedVariant(precision: string, opts: ModelOptions): QuantVariant | undefined {
  const variant = Object.hasOwn(QUANTIZED_VARIANTS, precision) ? QUANTIZED_VARIANTS[precision]! : undefined;
  if (variant === "chn" && opts.group !== undefined) throw new ParamError("--group applies to precision w4a8kv4 (per-group), not w4a8kv4-chn");
  return variant;
}

/** The factory of a quantized precision: every op through the chosen backend (the reference by default), weights per `--quant`. */
function quantizedPrecision(precision: string): (w: LlamaWeights, opts: ModelOptions) => Promise<LanguageModel> {
  return async (w, opts) => quantizedModel(w, quantizedVariant(precision, opts)!, opts);
}

/**
 * The model of a precision as a {@link ModelRecipe}, for worker threads: fp32, or a quantized
 * precision on a host backend (`reference`, the default, or `cpu`); `undefined` for the others
 * (fp16, fp16-onnx, or a GPU backend), which run in this thread. The options are checked as
 * {@link openModel} checks them.
 */
export async function openRecipe(weights: LlamaWeights, precision: string, opts: ModelOptions = {}): Promise<ModelRecipe | undefined> {
  const backendName = opts.backend ?? "reference";
  if (precision === "fp32") {
    hostOnly("fp32", opts);
    return { kind: "fp32", weights };
  }
  const variant = quantizedVariant(precision, opts);
  if (variant === undefined || !isWorkerBackend(backendName)) return undefined;
  const model = await quantizedWeights(weights, variant, opts, await openBackend(backendName));
  return { kind: "quantized", model, backend: backendName, ...(opts.prefillKv !== undefined ? { prefillKv: opts.prefillKv } : {}) };
}

function hostOnly(name: string, opts: ModelOptions): void {
  if (opts.backend !== undefined && opts.backend !== "reference") {
    throw new ParamError(`precision '${name}' runs on the host reference only; --backend '${opts.backend}' is not available for it`);
  }
}

/** Forward-pass implementations by precision name. */
export const PRECISIONS: Record<string, (weights: LlamaWeights, opts: ModelOptions) => Promise<LanguageModel>> = {
  fp32: (w, opts) => {
    hostOnly("fp32", opts);
    return Promise.resolve(createFp32Model(w));
  },
  fp16: (w, opts) => {
    hostOnly("fp16", opts);
    return Promise.resolve(createFp16Model(w));
  },
  "fp16-onnx": async (w, opts) => {
    if (opts.backend !== undefined && opts.backend !== "onnx-fp16") throw new ParamError(`precision 'fp16-onnx' runs on onnxruntime; --backend '${opts.backend}' is not available for it`);
    return OnnxFp16LanguageModel.create(w);
  },
  ...Object.fromEntries(Object.keys(QUANTIZED_VARIANTS).map((p) => [p, quantizedPrecision(p)])),
};

/** {@link ModelOptions} from the `--backend` and `--group` options of a command line. */
export function modelOptions(values: { backend?: string | undefined; group?: string | undefined }): ModelOptions {
  return {
    ...(values.backend !== undefined ? { backend: values.backend } : {}),
    ...(values.group !== undefined ? { group: intOption(values.group, "group", 128) } : {}),
  };
}

/** Build the model of a precision, or throw a `ParamError` listing the known ones. */
export async function openModel(weights: LlamaWeights, precision: string, opts: ModelOptions = {}): Promise<LanguageModel> {
  const f = Object.hasOwn(PRECISIONS, precision) ? PRECISIONS[precision] : undefined;
  if (f === undefined) throw new ParamError(`unknown precision '${precision}'; available: ${Object.keys(PRECISIONS).join(", ")}`);
  return f(weights, opts);
}

/** True when `path` names the embedded synthetic model (`synthetic` or `synthetic:SEED`). */
export function isSyntheticPath(path: string): boolean {
  return path === "synthetic" || path.startsWith("synthetic:");
}

/**
 * Load weights: `synthetic` (the embedded default model) or `synthetic:SEED` (the same config,
 * another seed); a directory (a Hugging Face LLaMA checkpoint: config.json + *.safetensors);
 * otherwise a llama2.c `.bin` file.
 */
export function loadModel(path: string): LlamaWeights {
  if (isSyntheticPath(path)) {
    const s = path === "synthetic" ? String(SYNTHETIC_DEFAULT_SEED) : path.slice("synthetic:".length);
    const seed = Number(s);
    if (s.trim() === "" || !Number.isSafeInteger(seed) || seed < 0) throw new ParamError(`--model synthetic:SEED needs a non-negative integer seed, got '${s}'`);
    return syntheticWeights(SYNTHETIC_DEFAULT_CONFIG, { seed });
  }
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return isDir ? loadHfCheckpoint(path) : loadLlama2cBin(path);
}

/** The tokenizer for a model: the llama2.c file at `path`, or (no path) the byte-level tokenizer of the model's vocab size. */
export function tokenizerFor(path: string | undefined, weights: LlamaWeights): Tokenizer {
  if (path === undefined) return byteLevelTokenizer(weights.config.vocabSize);
  return loadTokenizer(path, weights.config.vocabSize);
}
