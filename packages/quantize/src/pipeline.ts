/**
 * The QoQ pipeline: FP weights → a calibrated W4A8KV4 {@link QuantizedModel}, in DeepCompressor's
 * order (qoq-spec §5.5): γ folding + residual rotation (+ dc01's V/O head rotation, optional) → channel reordering → SmoothAttention
 * (+ the key-pair rotation, an extension of ours, optional) → output smoothing → clipping search → progressive group (or per-channel) weight quantization,
 * its codes picked by GPTQ. KV4 and the INT8 activations are quantized at run time and need no calibration.
 *
 * Every step is a switch, so an ablation is one flag each. Statistics are collected again from
 * the FP32 model as it stands before each step that reads them, so every step sees the
 * activations of the model it transforms. Deterministic: the same weights, calibration set and
 * options give the same bits.
 * @module
 */
import { ParamError, yieldToEventLoop, type Backend } from "@qoq/core";
import { headDim, quantizeWeights, type LinearRatios, type LlamaWeights, type QuantizedModel } from "@qoq/model";
import { createReferenceBackend } from "@qoq/reference";
import { collectStats, keptPrefix, type CalibrationSet, type CalibrationStats } from "./calibration.js";
import type { QoqCheckpointInfo } from "./checkpoint.js";
import { DEFAULT_CLIP, layerClipRatios, type ClipSettings } from "./clip.js";
import { DEFAULT_GPTQ, quantizeWeightsGptq, type GptqSettings } from "./gptq.js";
import { cloneFp64, toFp32, toFp64, type Fp64Weights } from "./fp64.js";
import { runPipelineTasks, shareWeights } from "./worker_pool.js";
import { DEFAULT_KEY_ROTATION, downLambda, searchKeyRotation, searchSmoothAttention, searchSmoothOutput, type KeyRotationSettings } from "./smooth_search.js";
import {
  foldNorms,
  outProjColumns,
  outProjLambda,
  reorderLayer,
  rotateHeads,
  rotateKeyPairs,
  rotateResidual,
  smoothAttentionLayer,
  smoothDownLayer,
  smoothOutLayer,
  widths,
  type SmoothAttentionSettings,
  type SmoothOutputSettings,
} from "./transforms.js";

/** Weight formats the QoQ pipeline produces. */
export type QoqVariant = "g128" | "chn";

/** The pipeline's switchable steps. */
export interface QoqSteps {
  /** Fold RMSNorm γ and rotate the residual stream by a Hadamard matrix. */
  readonly rotate: boolean;
  /** Rotate every value head (v_proj rows, o_proj columns) by a Hadamard matrix: DeepCompressor dc01's `out_proj` rotation, off by default (the paper's lmquant configs do not run it). */
  readonly rotateHeads: boolean;
  /** Reorder o_proj / down_proj input channels by activation maxima (meaningful for g128). */
  readonly reorder: boolean;
  /** SmoothAttention (keys → queries). */
  readonly smoothAttention: boolean;
  /** Turn each RoPE pair of q/k_proj by a searched angle (see `rotateKeyPairs`): an extension of ours for the KV4 keys, off by default (not in QServe). */
  readonly keyRotation: boolean;
  /** Output smoothing of o_proj and down_proj inputs. */
  readonly smoothOutput: boolean;
  /** Clipping search (chn only). */
  readonly clip: boolean;
  /** GPTQ picks the weight codes (with RTN's parameters) instead of round-to-nearest. */
  readonly gptq: boolean;
}

/** The pipeline's steps in the order it runs them. */
export const STEP_ORDER: readonly (keyof QoqSteps)[] = ["rotate", "rotateHeads", "reorder", "smoothAttention", "keyRotation", "smoothOutput", "clip", "gptq"];

/** Which of the steps before `STEP_ORDER[i]` run: the key of the pipeline's state before that step. */
function stepsBefore(steps: QoqSteps, i: number): string {
  return STEP_ORDER.slice(0, i)
    .map((s) => `${s}:${steps[s] ? "on" : "off"}`)
    .join(",");
}

/** The pipeline's state between two steps (see {@link PipelinePrefixes}). */
interface PipelineState {
  readonly w: Fp64Weights;
  /** Filled in when a run that reached this state collects its statistics later. */
  stats: CalibrationStats | undefined;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly ratios: LinearRatios[] | undefined;
}

/**
 * Pipeline states kept between runs that share their first steps, so that a later run skips
 * them: pass the same store to {@link quantizeQoq} for runs that differ only in `steps` — the
 * same weights and calibration set objects, the same other options (a run that differs gets a
 * `ParamError`, not another run's state). Before every step in {@link STEP_ORDER}, whether it
 * runs or not, a run keeps the state (a float64 copy of the weights, the calibration statistics,
 * the settings so far); a later run whose steps before some step are the same resumes from the
 * latest such state. The result is the same, byte for byte, as a run without the store. The step
 * selection uses one per selection: each trial switches off one step of the best run so far, so
 * it repeats that run's steps before it. An ablation that adds one step per run resumes each run
 * where the run before it ended.
 */
export class PipelinePrefixes {
  /** Number of states kept. */
  get size(): number {
    return STATES.get(this)?.states.size ?? 0;
  }
}

// Each store's states, by the key of the steps before them, and what its runs share; kept outside
// the class so that they are not part of its API.
interface KeptStates {
  readonly weights: LlamaWeights;
  readonly calib: CalibrationSet;
  readonly options: string;
  readonly states: Map<string, PipelineState>;
}
const STATES = new WeakMap<PipelinePrefixes, KeptStates>();
/** The states of `p` for a run on `weights`, `calib` with `options` (the run's options but `steps`, as a string); throws when `p` holds another's. */
function statesFor(p: PipelinePrefixes, weights: LlamaWeights, calib: CalibrationSet, options: string): Map<string, PipelineState> {
  let kept = STATES.get(p);
  if (kept === undefined) STATES.set(p, (kept = { weights, calib, options, states: new Map() }));
  if (kept.weights !== weights || kept.calib !== calib) throw new ParamError("PipelinePrefixes: this store holds the states of runs on other weights or another calibration set");
  if (kept.options !== options) throw new ParamError(`PipelinePrefixes: this store holds the states of runs with other options (${kept.options}; this run: ${options})`);
  return kept.states;
}

/** The steps a variant runs by default: those of QServe's (lmquant) configs — all but the head and key-pair rotations, reordering only for g128, clipping only for chn. */
export function defaultSteps(variant: QoqVariant): QoqSteps {
  return { rotate: true, rotateHeads: false, reorder: variant === "g128", smoothAttention: true, keyRotation: false, smoothOutput: true, clip: variant === "chn", gptq: true };
}

/** Default output-smoothing exponents per variant (QServe's Llama-3-8B settings, qoq-spec §5.2). */
export const DEFAULT_SMOOTH_OUTPUT: Readonly<Record<QoqVariant, SmoothOutputSettings>> = { g128: { alpha: 0.3, beta: 0.7 }, chn: { alpha: 0.1, beta: 0.9 } };

/** Default SmoothAttention exponents (α = 0.5, β = 0). */
export const DEFAULT_SMOOTH_ATTENTION: SmoothAttentionSettings = { alpha: 0.5, beta: 0 };

/** Options of {@link quantizeQoq}. */
export interface QoqOptions {
  /** Weight format (default `g128`). */
  readonly variant?: QoqVariant;
  /** Group size of g128 (default 128). */
  readonly group?: number;
  /** Steps to run (default {@link defaultSteps} of the variant; given keys override). */
  readonly steps?: Partial<QoqSteps>;
  /** SmoothAttention exponents, or `grid` to search them per layer (default α = 0.5, β = 0). */
  readonly smoothAttention?: SmoothAttentionSettings | "grid";
  /** Output-smoothing exponents, or `grid` to search them per layer and linear (default per variant). */
  readonly smoothOutput?: SmoothOutputSettings | "grid";
  /** Key-pair rotation search settings (default {@link DEFAULT_KEY_ROTATION}). */
  readonly keyRotation?: KeyRotationSettings;
  /** Clipping search settings (default {@link DEFAULT_CLIP}). */
  readonly clip?: ClipSettings;
  /** GPTQ settings (default {@link DEFAULT_GPTQ}). */
  readonly gptq?: GptqSettings;
  /** Calibration tokens whose inputs are kept for clipping and the searches (default 256, from each kept window). */
  readonly keepTokens?: number;
  /**
   * Calibration windows (the first ones) whose first `keepTokens` tokens are kept (default 1):
   * clipping and the grid and key-pair rotation searches sum their errors over these windows.
   */
  readonly keepWindows?: number;
  /** Worker threads of the calibration passes and of the key-pair rotation search (default 1: this thread; Node only): any count gives the same bits. */
  readonly workers?: number;
  /** Backend of the weight quantizers (default: the reference). */
  readonly backend?: Backend;
  /** Progress: a stage name and (done, total) within it. */
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

/** What the pipeline did, JSON-serializable (recorded in the checkpoint's metadata). */
export interface QoqRecord {
  /** Weight format. */
  readonly variant: QoqVariant;
  /** Group size. */
  readonly group: number;
  /** The steps that ran. */
  readonly steps: QoqSteps;
  /** Per step, its settings (per layer where searched). */
  readonly settings: Record<string, unknown>;
  /** Calibration: text hash, windows, tokens (the kept tokens per window and the kept windows are in `settings.keepTokens` and `settings.keepWindows`). */
  readonly calibration: { readonly sha256: string; readonly samples: number; readonly tokens: number };
}

/** Result of {@link quantizeQoq}. */
export interface QoqResult {
  /** The quantized model (`method` = `qoq`). */
  readonly model: QuantizedModel;
  /** The transformed FP32 weights it was quantized from (for checks: same function as the input). */
  readonly weights: LlamaWeights;
  /** What ran. */
  readonly record: QoqRecord;
}

/**
 * Run the QoQ pipeline on `weights` with calibration data `calib`. With `prefixes`, the run
 * resumes from the latest state a run with the same first steps left there, and leaves its own
 * (see {@link PipelinePrefixes}); the result does not depend on it.
 */
export async function quantizeQoq(weights: LlamaWeights, calib: CalibrationSet, opts: QoqOptions = {}, prefixes?: PipelinePrefixes): Promise<QoqResult> {
  const variant = opts.variant ?? "g128";
  if (variant !== "g128" && variant !== "chn") throw new ParamError(`the QoQ pipeline produces g128 or chn weights, not '${String(variant)}'`);
  const group = opts.group ?? 128;
  if (opts.group !== undefined && variant !== "g128") throw new ParamError(`group applies to the g128 variant only, not '${variant}'`);
  const steps: QoqSteps = { ...defaultSteps(variant), ...opts.steps };
  if (steps.clip && variant !== "chn") throw new ParamError("clipping applies to the chn variant only (g128 keeps the full range, as QServe's configs)");
  const keepTokens = opts.keepTokens ?? 256;
  if (!Number.isSafeInteger(keepTokens) || keepTokens < 0) throw new ParamError(`keepTokens must be a non-negative integer, got ${keepTokens}`);
  const keepWindows = opts.keepWindows ?? 1;
  if (!Number.isSafeInteger(keepWindows) || keepWindows < 1) throw new ParamError(`keepWindows must be a positive integer, got ${keepWindows}`);
  if (opts.workers !== undefined && (!Number.isSafeInteger(opts.workers) || opts.workers < 1)) throw new ParamError(`workers must be a positive integer, got ${opts.workers}`);
  // Clipping and the grid and key-rotation searches score on the kept tokens: 0 only when none of them runs.
  const readsKept = [
    ["clipping", steps.clip],
    ["the SmoothAttention grid", steps.smoothAttention && opts.smoothAttention === "grid"],
    ["the output-smoothing grid", steps.smoothOutput && opts.smoothOutput === "grid"],
    ["the key-pair rotation", steps.keyRotation],
  ].find(([, on]) => on);
  if (keepTokens === 0 && readsKept !== undefined) throw new ParamError(`keepTokens is 0, but ${String(readsKept[0])} scores on the kept calibration tokens`);
  const kr = opts.keyRotation ?? DEFAULT_KEY_ROTATION;
  if (steps.keyRotation && (!Number.isSafeInteger(kr.angles) || kr.angles < 1 || !Number.isSafeInteger(kr.sweeps) || kr.sweeps < 0)) {
    throw new ParamError(`keyRotation: angles must be a positive integer and sweeps a non-negative one, got ${kr.angles} and ${kr.sweeps}`);
  }
  const clip = opts.clip ?? DEFAULT_CLIP;
  const backend = opts.backend ?? createReferenceBackend();
  const progress = opts.onProgress;
  // Every progress point is also a turn of the event loop (see yieldToEventLoop): a run is minutes of synchronous work.
  const report = async (stage: string, done: number, total: number) => {
    progress?.(stage, done, total);
    await yieldToEventLoop();
  };
  const c = weights.config;

  // The run's state between steps: float64 weights, the calibration statistics of those
  // weights (collected when a step first needs them), the settings recorded so far, the clipping ratios.
  let w: Fp64Weights = toFp64(weights);
  let stats: CalibrationStats | undefined;
  let fp32: LlamaWeights | undefined;
  let settings: Record<string, unknown> = { keepTokens, keepWindows };
  let ratios: LinearRatios[] | undefined;
  const current = (): LlamaWeights => (fp32 ??= toFp32(w));
  // The kept state (see PipelinePrefixes) whose weights are the run's weights now: statistics
  // collected now are that state's too, and a later run that resumes there need not collect them.
  let here: PipelineState | undefined;
  const changed = () => {
    stats = undefined;
    fp32 = undefined;
    here = undefined;
  };
  // GPTQ's Gram matrices cost K² per token and input, so they are collected only for the last step.
  const calibrated = async (stage: string, grams = false): Promise<CalibrationStats> => {
    if (stats === undefined || (grams && stats.grams === undefined)) {
      stats = await collectStats(current(), calib, { keepTokens, keepWindows, grams, ...(opts.workers !== undefined ? { workers: opts.workers } : {}), onProgress: (d, t) => progress?.(`calibrate (${stage})`, d, t) });
      if (here !== undefined) here.stats = stats;
    }
    return stats;
  };

  const transforms: Record<Exclude<keyof QoqSteps, "gptq">, () => Promise<void>> = {
    rotate: async () => {
      foldNorms(w);
      rotateResidual(w);
      settings.rotate = { hadamard: "normalized Sylvester (block-diagonal I_m ⊗ H_2^a when dim is not a power of two)", dim: c.dim };
      changed();
    },
    rotateHeads: async () => {
      rotateHeads(w);
      settings.rotateHeads = { hadamard: "per KV head, v_proj rows Hᵀ·W, o_proj columns W·H", headDim: c.dim / c.nHeads };
      changed();
    },
    reorder: async () => {
      const s = await calibrated("reorder");
      for (let l = 0; l < c.nLayers; l++) reorderLayer(w, l, s.maxima[l]!);
      settings.reorder = { metric: "max|X| ascending", inputs: ["o_proj (within each KV head)", "down_proj"] };
      changed();
    },
    smoothAttention: async () => {
      const s = await calibrated("smooth attention");
      const chosen: SmoothAttentionSettings[] = [];
      for (let l = 0; l < c.nLayers; l++) {
        const k = s.kept[l]!;
        const pick = opts.smoothAttention === "grid" ? searchSmoothAttention(current(), s.maxima[l]!, keptPrefix(k, clip.attentionTokens)) : (opts.smoothAttention ?? DEFAULT_SMOOTH_ATTENTION);
        smoothAttentionLayer(w, l, s.maxima[l]!, pick);
        chosen.push(pick);
        await report("smooth attention", l + 1, c.nLayers);
      }
      settings.smoothAttention = { search: opts.smoothAttention === "grid" ? "grid" : "fixed", layers: chosen };
      changed();
    },
    keyRotation: async () => {
      const s = await calibrated("key rotation");
      // Every (layer, KV head) search scores the weights as they are before this step, so they are
      // independent: in worker threads they give the same angles.
      const perLayer = c.nKvHeads * (headDim(c) / 2);
      const chosen: Int32Array[] = Array.from({ length: c.nLayers }, () => new Int32Array(perLayer));
      if ((opts.workers ?? 1) > 1) {
        const kept = s.kept.map(({ tokens, windowTokens, attnIn, q, k, v }) => ({ tokens, windowTokens, attnIn, q, k, v }));
        const setup = { kind: "keyRotation", weights: shareWeights(current()), kept, variant, group, settings: kr } as const;
        await runPipelineTasks<Int32Array>(setup, c.nLayers * c.nKvHeads, Math.min(opts.workers!, c.nLayers * c.nKvHeads), async (angles, task) => {
          const l = Math.floor(task / c.nKvHeads);
          chosen[l]!.set(angles, (task % c.nKvHeads) * angles.length);
          if (task % c.nKvHeads === c.nKvHeads - 1) await report("key rotation", l + 1, c.nLayers);
        });
      } else {
        for (let l = 0; l < c.nLayers; l++) {
          chosen[l] = await searchKeyRotation(current(), l, s.kept[l]!, variant, group, backend, kr);
          await report("key rotation", l + 1, c.nLayers);
        }
      }
      chosen.forEach((idx, l) => rotateKeyPairs(w, l, Float64Array.from(idx, (a) => (a * Math.PI) / kr.angles)));
      // Per layer, the angle index of every (KV head, RoPE pair), KV head major: φ = index·π/angles.
      settings.keyRotation = { angles: kr.angles, sweeps: kr.sweeps, objective: "attention output MSE per KV head group: q/k_proj RTN-quantized, INT8 inputs, KV4 keys", layers: chosen.map((a) => Array.from(a)) };
      changed();
    },
    smoothOutput: async () => {
      const s = await calibrated("smooth output");
      const base = current();
      const chosen: { down: SmoothOutputSettings; o: SmoothOutputSettings }[] = [];
      const { qDim } = widths(c);
      for (let l = 0; l < c.nLayers; l++) {
        const m = s.maxima[l]!;
        const k = s.kept[l]!;
        let down: SmoothOutputSettings;
        let o: SmoothOutputSettings;
        if (opts.smoothOutput === "grid") {
          const L = base.layers[l]!;
          down = await searchSmoothOutput(L.w2, c.dim, c.hiddenDim, k.downIn, k.tokens, downLambda(base, l, m), variant, group, backend);
          o = await searchSmoothOutput(
            L.wo,
            c.dim,
            qDim,
            k.oIn,
            k.tokens,
            (cand) => outProjColumns(outProjLambda(L.wo, c, m.o_in, cand), c),
            variant,
            group,
            backend,
          );
        } else {
          down = o = opts.smoothOutput ?? DEFAULT_SMOOTH_OUTPUT[variant];
        }
        smoothDownLayer(w, l, m, down);
        smoothOutLayer(w, l, m, o);
        chosen.push({ down, o });
        await report("smooth output", l + 1, c.nLayers);
      }
      settings.smoothOutput = { search: opts.smoothOutput === "grid" ? "grid" : "fixed", layers: chosen };
      changed();
    },
    clip: async () => {
      const s = await calibrated("clip");
      ratios = [];
      for (let l = 0; l < c.nLayers; l++) {
        ratios.push(layerClipRatios(current(), l, s.kept[l]!, clip));
        await report("clip", l + 1, c.nLayers);
      }
      settings.clip = { grid: clip.grid, maxShrink: clip.maxShrink, attentionTokens: clip.attentionTokens, objective: "output MSE (q/k: attention output, per head)" };
    },
  };

  // Resume from the latest state a run with the same steps so far left in `prefixes`; save the
  // state before every step, for a later run that switches that step off (or on).
  const options = JSON.stringify({ variant, group, keepTokens, keepWindows, smoothAttention: opts.smoothAttention ?? DEFAULT_SMOOTH_ATTENTION, smoothOutput: opts.smoothOutput ?? DEFAULT_SMOOTH_OUTPUT[variant], keyRotation: kr, clip, backend: backend.name });
  const kept = prefixes !== undefined ? statesFor(prefixes, weights, calib, options) : undefined;
  let from = 0;
  for (let i = STEP_ORDER.length - 1; i > 0 && kept !== undefined; i--) {
    const saved = kept.get(stepsBefore(steps, i));
    if (saved !== undefined) {
      ({ w, stats, ratios } = { ...saved, w: cloneFp64(saved.w) });
      settings = { ...saved.settings };
      fp32 = undefined;
      here = saved;
      from = i;
      break;
    }
  }
  for (let i = from; i < STEP_ORDER.length; i++) {
    const step = STEP_ORDER[i]!;
    // Kept before an off step too: a later run that adds that step resumes there. One copy per
    // state: the boundaries before steps this run leaves off share the copy made at the first.
    // (A key already kept is one a run that started alongside this one left meanwhile: the
    // resume above took the latest key there was.)
    if (i > from && kept !== undefined) {
      const key = stepsBefore(steps, i);
      if (!kept.has(key)) kept.set(key, (here ??= { w: cloneFp64(w), stats, settings: { ...settings }, ratios }));
    }
    if (!steps[step] || step === "gptq") continue;
    await transforms[step]();
    // Even a step that leaves the weights (clipping) changes the state: its ratios and settings.
    here = undefined;
    await yieldToEventLoop();
  }
  const final = current();
  const quantOpts = { variant, ...(variant === "g128" ? { group } : {}), ...(ratios ? { ratios } : {}), method: "qoq" };
  let model: QuantizedModel;
  if (steps.gptq) {
    const gptq = opts.gptq ?? DEFAULT_GPTQ;
    const s = await calibrated("gptq", true);
    model = await quantizeWeightsGptq(final, s.grams!, backend, quantOpts, gptq, (d, t) => progress?.("gptq", d, t));
    settings.gptq = { damp: gptq.damp, order: "natural", parameters: "RTN's (after clipping)", hessian: "Σ x·xᵀ of the FP32 inputs over all calibration tokens" };
  } else {
    model = await quantizeWeights(final, backend, quantOpts);
  }
  progress?.("quantize", 1, 1);
  return {
    model,
    weights: final,
    record: { variant, group, steps, settings, calibration: { sha256: calib.sha256, samples: calib.windows.length, tokens: calib.tokens } },
  };
}

/** The checkpoint metadata of a pipeline run: method `qoq`, the steps with their settings, the calibration data's identity. */
export function checkpointInfo(record: QoqRecord): QoqCheckpointInfo {
  return { method: "qoq", steps: { ran: record.steps, settings: record.settings }, calibration: record.calibration };
}
