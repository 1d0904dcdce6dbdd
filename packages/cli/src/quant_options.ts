/**
 * The command-line options of the QoQ pipeline, shared by `qoq quantize` and `qoq eval ppl
 * --quant qoq` (so an ablation is the same flag in both): calibration, the step switches, the
 * smoothing exponents, the clipping grid, GPTQ, and how a prefill's attention reads K/V.
 * @module
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { IoError, ParamError } from "@qoq/core";
import type { LlamaWeights, PrefillKv, Tokenizer } from "@qoq/model";
import {
  calibrationWindows,
  DEFAULT_CLIP,
  quantizeQoq,
  selectQoqSteps,
  type CalibrationSet,
  type QoqOptions,
  type QoqResult,
  type QoqSteps,
  type QoqVariant,
  type StepSelectionOptions,
} from "@qoq/quantize";
import { UsageError } from "./command.js";

/** A positive integer option, or a {@link UsageError}. */
function posInt(v: string, name: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

/**
 * The pipeline's default thread count (calibration, key-pair rotation search): the CPUs, at most
 * 8. Measured on stories260K (16 CPUs, `packages/quantize/README.md`): a pipeline run takes 7.7 s
 * with 8 workers and 10.1 s with 15, as each worker builds its own FP32 model and the Gram sums
 * stay on one thread.
 */
export function defaultWorkers(): number {
  return Math.min(availableParallelism(), 8);
}

/** `--workers N`, or (absent) {@link defaultWorkers}. */
export function workersFrom(v: string | undefined): number {
  return v !== undefined ? posInt(v, "workers") : defaultWorkers();
}

/** `parseArgs` option specs of the pipeline flags. */
export const QOQ_ARG_OPTIONS = {
  calib: { type: "string" },
  "calib-samples": { type: "string" },
  "calib-len": { type: "string" },
  "keep-tokens": { type: "string" },
  "keep-windows": { type: "string" },
  workers: { type: "string" },
  "no-rotate": { type: "boolean" },
  "rotate-heads": { type: "boolean" },
  "no-reorder": { type: "boolean" },
  "no-smooth-attn": { type: "boolean" },
  "key-rotation": { type: "boolean" },
  "no-smooth": { type: "boolean" },
  "no-clip": { type: "boolean" },
  "no-gptq": { type: "boolean" },
  "select-steps": { type: "boolean" },
  "select-samples": { type: "string" },
  "smooth-attn": { type: "string" },
  smooth: { type: "string" },
  "clip-grid": { type: "string" },
} as const;

/** Usage text of the pipeline flags. */
export const QOQ_USAGE = `[--calib TEXT] [--calib-samples N (32)] [--calib-len N (256)]
                 [--keep-tokens N (256)] [--keep-windows W (1)]  the first N tokens of each of the first W windows score clipping and the searches
                 [--workers N (the CPUs, at most 8)]  threads of the calibration passes and the key-pair rotation search (the bytes do not depend on it)
                 [--no-rotate] [--rotate-heads] [--no-reorder] [--no-smooth-attn] [--key-rotation] [--no-smooth] [--no-clip] [--no-gptq]
                 [--smooth-attn ALPHA|ALPHA,BETA|grid (0.5)] [--smooth ALPHA,BETA|grid] [--clip-grid N (80)]
                 [--select-steps [--select-samples N (8)]]  keep only the steps that lower the KL from FP32 on held-out
                                               windows of the calibration text (those after the calibration windows)`;

/** The parsed values of {@link QOQ_ARG_OPTIONS}. */
export type QoqArgValues = { [K in keyof typeof QOQ_ARG_OPTIONS]?: (typeof QOQ_ARG_OPTIONS)[K]["type"] extends "boolean" ? boolean : string };

/** A number in [0, 1] from a command-line string. */
function unit(s: string, what: string): number {
  const v = Number(s);
  if (s.trim() === "" || !Number.isFinite(v) || v < 0 || v > 1) throw new ParamError(`${what} must be a number in [0, 1], got '${s}'`);
  return v;
}

/** `ALPHA` or `ALPHA,BETA` (BETA default `defaultBeta`), or `grid`. */
function exponents(s: string, what: string, defaultBeta: number | undefined): { alpha: number; beta: number } | "grid" {
  if (s === "grid") return "grid";
  const parts = s.split(",");
  if (parts.length === 1 && defaultBeta !== undefined) return { alpha: unit(parts[0]!, `${what} alpha`), beta: defaultBeta };
  if (parts.length !== 2) throw new ParamError(`${what} must be ${defaultBeta !== undefined ? "ALPHA, " : ""}ALPHA,BETA or grid, got '${s}'`);
  return { alpha: unit(parts[0]!, `${what} alpha`), beta: unit(parts[1]!, `${what} beta`) };
}

/** Read a text file, as an {@link IoError} naming it when it cannot be read. */
export function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The pipeline's data from `--calib`: the calibration windows, and the step selection's held-out windows. */
export interface PipelineInputs {
  /** The calibration set. */
  readonly calib: CalibrationSet;
  /** With `--select-steps`, the held-out windows; otherwise undefined. */
  readonly select: StepSelectionOptions | undefined;
}

/**
 * The calibration set of `--calib` (required: the pipeline is calibrated) and, with
 * `--select-steps`, the step selection's held-out windows: `--select-samples` (default 8) windows
 * of the same text after the calibration windows, as long as those. The text is read once.
 */
export function calibrationFrom(values: QoqArgValues, tokenizer: Tokenizer, weights: LlamaWeights): PipelineInputs {
  if (values.calib === undefined) throw new UsageError("the QoQ pipeline needs --calib TEXT (calibration text; use text you do not evaluate on)");
  if (!values["select-steps"] && values["select-samples"] !== undefined) throw new UsageError("--select-samples applies with --select-steps only");
  const text = readText(values.calib);
  const calib = calibrationWindows(text, tokenizer, weights.config.seqLen, {
    ...(values["calib-samples"] !== undefined ? { samples: posInt(values["calib-samples"], "calib-samples") } : {}),
    ...(values["calib-len"] !== undefined ? { seqLen: posInt(values["calib-len"], "calib-len") } : {}),
  });
  if (!values["select-steps"]) return { calib, select: undefined };
  const held = calibrationWindows(text, tokenizer, weights.config.seqLen, {
    samples: values["select-samples"] !== undefined ? posInt(values["select-samples"], "select-samples") : 8,
    seqLen: calib.windows[0]!.length,
    offset: calib.windows.length,
  });
  return { calib, select: { windows: held.windows } };
}

/** The QoQ pipeline, or its step selection when `select` is given. */
export function runQoq(weights: LlamaWeights, calib: CalibrationSet, options: QoqOptions, select: StepSelectionOptions | undefined): Promise<QoqResult> {
  return select !== undefined ? selectQoqSteps(weights, calib, options, select) : quantizeQoq(weights, calib, options);
}

/** {@link QoqOptions} (without calibration, backend and progress) from the pipeline flags. */
export function qoqOptionsFrom(values: QoqArgValues, variant: QoqVariant, group: number | undefined): QoqOptions {
  const steps: Partial<QoqSteps> = {
    ...(values["no-rotate"] ? { rotate: false } : {}),
    ...(values["rotate-heads"] ? { rotateHeads: true } : {}),
    ...(values["no-reorder"] ? { reorder: false } : {}),
    ...(values["no-smooth-attn"] ? { smoothAttention: false } : {}),
    ...(values["key-rotation"] ? { keyRotation: true } : {}),
    ...(values["no-smooth"] ? { smoothOutput: false } : {}),
    ...(values["no-clip"] || variant !== "chn" ? { clip: false } : {}),
    ...(values["no-gptq"] ? { gptq: false } : {}),
  };
  return {
    variant,
    ...(group !== undefined && variant === "g128" ? { group } : {}),
    steps,
    ...(values["smooth-attn"] !== undefined ? { smoothAttention: exponents(values["smooth-attn"], "--smooth-attn", 0) } : {}),
    ...(values.smooth !== undefined ? { smoothOutput: exponents(values.smooth, "--smooth", undefined) } : {}),
    ...(values["clip-grid"] !== undefined ? { clip: { ...DEFAULT_CLIP, grid: posInt(values["clip-grid"], "clip-grid") } } : {}),
    ...(values["keep-tokens"] !== undefined ? { keepTokens: posInt(values["keep-tokens"], "keep-tokens") } : {}),
    ...(values["keep-windows"] !== undefined ? { keepWindows: posInt(values["keep-windows"], "keep-windows") } : {}),
    workers: workersFrom(values.workers),
  };
}

/** `--prefill-kv fp16|kv4`. */
export function prefillKvFrom(s: string | undefined): PrefillKv | undefined {
  if (s === undefined) return undefined;
  if (s !== "fp16" && s !== "kv4") throw new ParamError(`--prefill-kv must be fp16 or kv4, got '${s}'`);
  return s;
}

/** A progress line printer for the pipeline's stages on stderr (one line per stage, then per ~25%). */
export function stageProgress(prefix: string): (stage: string, done: number, total: number) => void {
  let last = "";
  let lastQuarter = -1;
  const start = Date.now();
  return (stage, done, total) => {
    const quarter = Math.floor((4 * done) / Math.max(total, 1));
    if (stage !== last || quarter > lastQuarter) {
      last = stage;
      lastQuarter = quarter;
      process.stderr.write(`${prefix}: ${stage} ${done}/${total} (${((Date.now() - start) / 1000).toFixed(1)} s)\n`);
    }
  };
}
