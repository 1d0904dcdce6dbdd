/**
 * Models for `qoq generate` / `qoq eval`: loading weights from a path and the registry of
 * precisions (forward-pass implementations) by name.
 * @module
 */
import { statSync } from "node:fs";
import { IoError, ParamError } from "@qoq/core";
import { openBackend } from "./backends.js";
import { intOption } from "./command.js";
import { OnnxFp16LanguageModel } from "@qoq/onnx";
import {
  byteLevelTokenizer,
  createW4A8KV4Model,
  createFp16Model,
  createFp32Model,
  loadHfCheckpoint,
  loadLlama2cBin,
  loadTokenizer,
  SYNTHETIC_DEFAULT_CONFIG,
  SYNTHETIC_DEFAULT_SEED,
  syntheticWeights,
  type LanguageModel,
  type LlamaWeights,
  type Tokenizer,
} from "@qoq/model";

/** Options every precision factory receives. */
export interface ModelOptions {
  /** `--backend NAME`, for precisions that run on a backend (fp32 and fp16 accept only `reference` or none). */
  readonly backend?: string;
  /** `--group N`: input channels per group of the per-group W4 variant (default 128). */
  readonly group?: number;
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
  // RTN-quantized W4A8KV4, every op through the chosen backend (the reference by default).
  w4a8kv4: async (w, opts) => createW4A8KV4Model(w, { variant: "g128", group: opts.group ?? 128, backend: await openBackend(opts.backend ?? "reference") }),
  "w4a8kv4-chn": async (w, opts) => createW4A8KV4Model(w, { variant: "chn", backend: await openBackend(opts.backend ?? "reference") }),
  w8a8: async (w, opts) => createW4A8KV4Model(w, { variant: "w8a8", backend: await openBackend(opts.backend ?? "reference") }),
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
