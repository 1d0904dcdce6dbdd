/**
 * Step selection on stories260K (small calibration for speed): the recorded trials follow one
 * sweep of coordinate descent in pipeline order, each trial's KL is what the test measures itself
 * for that run, the result is the pipeline run with the chosen steps, bit for bit, and bad
 * options are typed errors. Held-out windows are cut after the calibration windows.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ParamError } from "@qoq/core";
import { createFp32Model, createQuantizedModel, loadLlama2cBin, loadTokenizer, type LanguageModel } from "@qoq/model";
import { calibrationWindows } from "../src/calibration.js";
import { saveQoqCheckpoint } from "../src/checkpoint.js";
import { checkpointInfo, defaultSteps, PipelinePrefixes, quantizeQoq, STEP_ORDER, type QoqOptions, type QoqSteps } from "../src/pipeline.js";
import { selectQoqSteps, type StepSelectionRecord } from "../src/step_selection.js";
import { dataFile } from "./data.js";

const weights = loadLlama2cBin(dataFile("stories260K.bin"));
const tokenizer = loadTokenizer(dataFile("tok512.bin"), 512);
const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
const calibText = text.slice(text.length / 2);
const calib = calibrationWindows(calibText, tokenizer, weights.config.seqLen, { samples: 3, seqLen: 64 });
const held = calibrationWindows(calibText, tokenizer, weights.config.seqLen, { samples: 2, seqLen: 64, offset: 3 });
const FAST: QoqOptions = { keepTokens: 64, clip: { grid: 8, maxShrink: 0.8, attentionTokens: 32 } };

/** Mean KL(FP32 ‖ model) per token over `windows`, written here from the definition: Σ p·(ln p − ln q) of the softmaxes. */
async function heldOutKl(model: LanguageModel, windows: readonly (readonly number[])[]): Promise<number> {
  const logSoftmax = (x: Float32Array) => {
    const m = Math.max(...x);
    const lse = m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
    return Array.from(x, (v) => v - lse);
  };
  let kl = 0;
  let n = 0;
  for (const w of windows) {
    const ref = await createFp32Model(weights).newSession().forward(w);
    const got = await model.newSession().forward(w);
    ref.forEach((row, t) => {
      const p = logSoftmax(row);
      const q = logSoftmax(got[t]!);
      kl += p.reduce((s, lp, i) => s + Math.exp(lp) * (lp - q[i]!), 0);
      n++;
    });
  }
  return kl / n;
}

describe("step selection", () => {
  it("held-out windows are the calibration stream's next windows", () => {
    const six = calibrationWindows(calibText, tokenizer, weights.config.seqLen, { samples: 5, seqLen: 64 });
    expect(held.windows).toEqual(six.windows.slice(3, 5));
    expect(held.sha256).toBe(calib.sha256);
    expect(() => calibrationWindows("a short text", tokenizer, 512, { samples: 1, seqLen: 2, offset: 1000 })).toThrow(/after the first 1000 windows/);
    expect(() => calibrationWindows(calibText, tokenizer, 512, { offset: -1 })).toThrow(ParamError);
  });

  it.each(["g128", "chn"] as const)("%s: one sweep in pipeline order, KLs that are the runs' own, the chosen run bit for bit", async (variant) => {
    const opts: QoqOptions = { ...FAST, variant, ...(variant === "g128" ? { group: 32 } : {}) };
    const r = await selectQoqSteps(weights, calib, opts, { windows: held.windows });
    const sel = r.record.settings.selection as StepSelectionRecord;
    const start = defaultSteps(variant);
    expect(sel.candidates).toEqual(STEP_ORDER.filter((s) => start[s]));
    expect(sel.windows).toBe(2);
    expect(sel.tokens).toBe(128);

    // The sweep: trial 0 runs every step; trial i adds candidate i to the steps switched off so
    // far, which keeps it off only when its KL is strictly below the best so far.
    expect(sel.trials.length).toBe(sel.candidates.length + 1);
    expect(sel.trials[0]!.off).toEqual([]);
    let off: (keyof QoqSteps)[] = [];
    let best = sel.trials[0]!.kl;
    sel.candidates.forEach((step, i) => {
      const t = sel.trials[i + 1]!;
      expect(t.off).toEqual([...off, step]);
      if (t.kl < best) [off, best] = [[...off, step], t.kl];
    });
    expect(sel.off).toEqual(off);
    expect(best).toBeLessThanOrEqual(sel.trials[0]!.kl);

    // The result is the plain pipeline with the chosen steps (same checkpoint bytes but the
    // selection record), and its held-out KL, measured here, is the trial's.
    const steps = { ...start, ...Object.fromEntries(off.map((s) => [s, false])) };
    expect(r.record.steps).toEqual(steps);
    const plain = await quantizeQoq(weights, calib, { ...opts, steps });
    const { selection: _, ...settings } = r.record.settings;
    const save = (x: typeof r, s: Record<string, unknown>) => Buffer.from(saveQoqCheckpoint(x.model, checkpointInfo({ ...x.record, settings: s })));
    expect(save(r, settings).equals(save(plain, plain.record.settings))).toBe(true);
    expect(await heldOutKl(createQuantizedModel(r.model, undefined, { prefillKv: "kv4" }), held.windows)).toBeCloseTo(best, 6);
    // And every trial's KL is that of a fresh pipeline run with its steps (trials resume from an
    // earlier trial's state; this is what says the resumed runs are the right runs).
    for (const t of sel.trials) {
      const fresh = await quantizeQoq(weights, calib, { ...opts, steps: { ...start, ...Object.fromEntries(t.off.map((s) => [s, false])) } });
      expect(await heldOutKl(createQuantizedModel(fresh.model, undefined, { prefillKv: "kv4" }), held.windows), `off: ${t.off.join(", ")}`).toBeCloseTo(t.kl, 6);
    }
  });

  it("resumes from a store that an earlier run with the same options filled, with the same result", async () => {
    const opts: QoqOptions = { ...FAST, group: 32, steps: { rotate: false } };
    const sel = { windows: held.windows, candidates: ["gptq"] as (keyof QoqSteps)[] };
    const prefixes = new PipelinePrefixes();
    await quantizeQoq(weights, calib, opts, prefixes);
    // The first trial runs the same steps as that run: it resumes before GPTQ, the last step, and
    // runs none of the steps before it again.
    const before: string[] = [];
    let trials = 0;
    const onProgress = (stage: string) => (stage === "select steps" ? trials++ : trials === 0 && before.push(stage));
    const resumed = await selectQoqSteps(weights, calib, { ...opts, onProgress }, { ...sel, prefixes });
    expect(before.filter((s) => ["smooth attention", "smooth output", "calibrate (reorder)"].includes(s))).toEqual([]);
    // ... nor collects GPTQ's statistics again: the earlier run left them in that state.
    expect(before).toContain("gptq");
    expect(before).not.toContain("calibrate (gptq)");
    const fresh = await selectQoqSteps(weights, calib, opts, sel);
    expect(resumed.record).toEqual(fresh.record);
    const bytes = (x: typeof fresh) => Buffer.from(saveQoqCheckpoint(x.model, checkpointInfo(x.record)));
    expect(bytes(resumed).equals(bytes(fresh))).toBe(true);
  });

  it("tries only the candidates given, and only those that are on", async () => {
    const r = await selectQoqSteps(weights, calib, { ...FAST, group: 32, steps: { rotate: false } }, { windows: held.windows, candidates: ["rotate", "gptq"] });
    const sel = r.record.settings.selection as StepSelectionRecord;
    expect(sel.candidates).toEqual(["gptq"]);
    expect(sel.trials.map((t) => t.off)).toEqual([[], ["gptq"]]);
    expect(r.record.steps.rotate).toBe(false);
  });

  it("rejects bad options with ParamError", async () => {
    const opts: QoqOptions = { ...FAST, group: 32 };
    await expect(selectQoqSteps(weights, calib, opts, { windows: [] })).rejects.toThrow(ParamError);
    await expect(selectQoqSteps(weights, calib, opts, { windows: [new Array(weights.config.seqLen + 1).fill(1)] })).rejects.toThrow(`window 0 has ${weights.config.seqLen + 1} tokens`);
    await expect(selectQoqSteps(weights, calib, opts, { windows: held.windows, candidates: ["hadamard" as keyof QoqSteps] })).rejects.toThrow(/'hadamard' is not a pipeline step/);
  });
});
