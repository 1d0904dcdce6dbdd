/**
 * Step selection (ours, not in QServe): which of the pipeline's steps help *this* model, decided
 * on held-out text. The steps and their fixed settings were tuned on Llama-scale models; on the
 * small shared models the Hadamard rotation, the reordering and clipping before GPTQ raise the
 * error (`docs/ablation.md`). The layer-local searches cannot see that, because each scores one
 * layer's output while the loss comes from how the errors of all layers and of the KV4 cache add up.
 *
 * The selection is one sweep of coordinate descent over the steps, in pipeline order: run the
 * pipeline with every candidate step on and score it; then for each candidate that is on, run it
 * again without that step, and keep the step off when the score falls (a tie keeps the step). The
 * score is the mean KL(FP32 ‖ W4A8KV4) per token over held-out windows, with KV4 in the prefill
 * (each token attends to the quantized cache, as a decode step does): the distance from the FP
 * model, not a perplexity that an overconfident model can lower by noise. The windows must not be
 * the calibration windows, which GPTQ and the searches were fitted to. Deterministic: the same
 * weights, calibration set, windows and options give the same choice and checkpoint bytes.
 * Cost: one pipeline run and one scoring pass per candidate, plus one; each trial resumes from
 * the best run's state before the step it switches off ({@link PipelinePrefixes}).
 * @module
 */
import { ParamError, yieldToEventLoop } from "@qoq/core";
import { createFp32Model, createQuantizedModel, forwardFresh, klDivergence, type LanguageModel, type LlamaWeights } from "@qoq/model";
import { createReferenceBackend } from "@qoq/reference";
import type { CalibrationSet } from "./calibration.js";
import { defaultSteps, PipelinePrefixes, quantizeQoq, STEP_ORDER, type QoqOptions, type QoqResult, type QoqSteps } from "./pipeline.js";

/** Options of {@link selectQoqSteps}. */
export interface StepSelectionOptions {
  /** Held-out token windows the candidates are scored on (each at most the model's seqLen; not the calibration windows). */
  readonly windows: readonly (readonly number[])[];
  /** Steps that may be switched off, tried in pipeline order (default: every step the options turn on). */
  readonly candidates?: readonly (keyof QoqSteps)[];
  /**
   * States of earlier runs with the same weights, calibration set and options to resume from
   * (default: a new store); the selection's runs leave theirs there too. The result does not depend on it.
   */
  readonly prefixes?: PipelinePrefixes;
}

/** One scored pipeline run of the selection: the steps it ran and its score. */
export interface StepTrial {
  /** Candidate steps switched off in this run. */
  readonly off: readonly (keyof QoqSteps)[];
  /** Mean KL(FP32 ‖ W4A8KV4) per token on the held-out windows, in nats. */
  readonly kl: number;
}

/** What the selection records in the result's `settings.selection` (and so in the checkpoint). */
export interface StepSelectionRecord {
  /** The score, in words. */
  readonly objective: string;
  /** Held-out windows scored on. */
  readonly windows: number;
  /** Tokens over those windows. */
  readonly tokens: number;
  /** The steps that were tried switched off, in pipeline order. */
  readonly candidates: readonly (keyof QoqSteps)[];
  /** The steps switched off in the result. */
  readonly off: readonly (keyof QoqSteps)[];
  /** Every run, in order: the first with no candidate off. */
  readonly trials: readonly StepTrial[];
}

/** Mean KL(FP32 ‖ model) per predicted token over `windows`, each window a fresh session. */
async function meanKl(model: LanguageModel, reference: readonly Float32Array[][], windows: readonly (readonly number[])[]): Promise<number> {
  let kl = 0;
  let n = 0;
  for (let w = 0; w < windows.length; w++) {
    const logits = await forwardFresh(model, windows[w]!);
    for (let t = 0; t < logits.length; t++) {
      kl += klDivergence(reference[w]![t]!, logits[t]!);
      n++;
    }
    await yieldToEventLoop();
  }
  return kl / n;
}

/**
 * Run the QoQ pipeline with the steps that lower the held-out KL from FP32 (see the module
 * comment). The result is the chosen run's; its record's `steps` are the chosen steps and
 * `settings.selection` holds every trial. Throws `ParamError` for no windows, a window longer
 * than the model's seqLen or shorter than 1 token, or a candidate that is not a step.
 */
export async function selectQoqSteps(weights: LlamaWeights, calib: CalibrationSet, opts: QoqOptions, sel: StepSelectionOptions): Promise<QoqResult> {
  const c = weights.config;
  if (sel.windows.length === 0) throw new ParamError("step selection: no held-out windows to score on");
  sel.windows.forEach((w, i) => {
    if (w.length < 1 || w.length > c.seqLen) throw new ParamError(`step selection: held-out window ${i} has ${w.length} tokens; it needs 1 to ${c.seqLen} (the model's seqLen)`);
  });
  const start: QoqSteps = { ...defaultSteps(opts.variant ?? "g128"), ...opts.steps };
  for (const s of sel.candidates ?? []) if (!STEP_ORDER.includes(s)) throw new ParamError(`step selection: '${String(s)}' is not a pipeline step (${STEP_ORDER.join(", ")})`);
  const candidates = STEP_ORDER.filter((s) => start[s] && (sel.candidates ?? STEP_ORDER).includes(s));
  const backend = opts.backend ?? createReferenceBackend();

  const fp = createFp32Model(weights);
  const reference: Float32Array[][] = [];
  for (const w of sel.windows) {
    reference.push(await forwardFresh(fp, w));
    await yieldToEventLoop();
  }
  const trials: StepTrial[] = [];
  // Trial i repeats the best run's steps before candidate i: it resumes from that run's state there.
  const prefixes = sel.prefixes ?? new PipelinePrefixes();
  const score = async (off: readonly (keyof QoqSteps)[]) => {
    const steps = { ...start, ...Object.fromEntries(off.map((s) => [s, false])) };
    const result = await quantizeQoq(weights, calib, { ...opts, backend, steps }, prefixes);
    const kl = await meanKl(createQuantizedModel(result.model, backend, { prefillKv: "kv4" }), reference, sel.windows);
    trials.push({ off, kl });
    opts.onProgress?.("select steps", trials.length, candidates.length + 1);
    return { result, kl };
  };

  let best = await score([]);
  let off: (keyof QoqSteps)[] = [];
  for (const step of candidates) {
    const trial = await score([...off, step]);
    // Strictly lower: on a tie the step stays, as the paper's pipeline has it.
    if (trial.kl < best.kl) {
      best = trial;
      off = [...off, step];
    }
  }
  const record = best.result.record;
  const selection: StepSelectionRecord = {
    objective: "mean KL(FP32 ‖ W4A8KV4) per token on held-out windows, KV4 prefill",
    windows: sel.windows.length,
    tokens: sel.windows.reduce((a, w) => a + w.length, 0),
    candidates,
    off,
    trials,
  };
  return { ...best.result, record: { ...record, settings: { ...record.settings, selection } } };
}
