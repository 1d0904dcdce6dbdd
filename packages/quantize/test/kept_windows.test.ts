/**
 * Kept calibration windows (`keepWindows`): the searches score the first tokens of several
 * calibration windows, each window's attention on its own. Checked from the definition: the
 * kept rows are each window's own activations, window after window; each window attends only
 * within itself; a window given twice changes no attention search's choice (its error is added
 * again exactly), while a different window does change some; workers give the same bits.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ParamError } from "@qoq/core";
import { loadLlama2cBin, loadTokenizer } from "@qoq/model";
import { attention, attentionPerWindow } from "../src/attention_f64.js";
import { calibrationWindows, collectStats, keptPrefix, type CalibrationSet, type KeptInputs } from "../src/calibration.js";
import { attentionClipRatios, DEFAULT_CLIP } from "../src/clip.js";
import { quantizeQoq } from "../src/pipeline.js";
import { searchKeyRotation, searchSmoothAttention } from "../src/smooth_search.js";
import { dataFile } from "./data.js";

const weights = loadLlama2cBin(dataFile("stories260K.bin"));
const tokenizer = loadTokenizer(dataFile("tok512.bin"), 512);
const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
const calib = calibrationWindows(text.slice(text.length / 2), tokenizer, weights.config.seqLen, { samples: 3, seqLen: 48 });
const SITES = ["attnIn", "q", "k", "v", "oIn", "ffnIn", "downIn"] as const;
const layers = weights.config.nLayers;

/** The calibration set of the given windows of `calib`. */
const only = (...idx: number[]): CalibrationSet => ({ ...calib, windows: idx.map((i) => calib.windows[i]!), tokens: idx.length * 48 });
/** Rows `from … to − 1` of a kept site (its width from the row count). */
const rows = (kept: KeptInputs, site: (typeof SITES)[number], from: number, to: number) => {
  const width = kept[site].length / kept.tokens;
  return kept[site].subarray(from * width, to * width);
};

describe("kept calibration windows", () => {
  it("keep the first keepTokens tokens of each of the first keepWindows windows, window after window; workers give the same bits", async () => {
    const stats = await collectStats(weights, calib, { keepTokens: 20, keepWindows: 2 });
    const alone = await Promise.all([0, 1].map((i) => collectStats(weights, only(i), { keepTokens: 20 })));
    const one = await collectStats(weights, calib, { keepTokens: 20 });
    for (let l = 0; l < layers; l++) {
      const k = stats.kept[l]!;
      expect([k.tokens, k.windowTokens]).toEqual([40, 20]);
      for (const s of SITES) {
        // Window i's rows are what the model computed on window i alone: its own positions 0 … 19.
        alone.forEach((a, i) => expect(rows(k, s, i * 20, (i + 1) * 20)).toEqual(a.kept[l]![s]));
        expect(rows(k, s, 0, 20)).toEqual(one.kept[l]![s]);
      }
    }
    // The maxima are the whole calibration's, whatever is kept.
    expect(stats.maxima).toEqual(one.maxima);
    expect(await collectStats(weights, calib, { keepTokens: 20, keepWindows: 2, workers: 2 })).toEqual(stats);
    // More windows than there are: all of them.
    expect((await collectStats(weights, calib, { keepTokens: 8, keepWindows: 9 })).kept[0]!.tokens).toBe(24);
    for (const keepWindows of [0, 1.5, -1]) await expect(collectStats(weights, calib, { keepTokens: 8, keepWindows })).rejects.toThrow(ParamError);
  });

  it("keptPrefix cuts every window to its first positions", async () => {
    const stats = await collectStats(weights, calib, { keepTokens: 20, keepWindows: 3 });
    const k = stats.kept[2]!;
    const cut = keptPrefix(k, 7);
    expect([cut.tokens, cut.windowTokens]).toEqual([21, 7]);
    for (const s of SITES) for (let i = 0; i < 3; i++) expect(rows(cut, s, i * 7, (i + 1) * 7)).toEqual(rows(k, s, i * 20, i * 20 + 7));
    expect(keptPrefix(k, 50)).toBe(k);
  });

  it("attentionPerWindow is each window's attention on its own", () => {
    const [t, w, heads, kvHeads, hd] = [12, 4, 4, 2, 8];
    const fill = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * (1 + (i % 5)));
    const [q, k, v] = [fill(t * heads * hd, 1), fill(t * kvHeads * hd, 2), fill(t * kvHeads * hd, 3)];
    const per = attentionPerWindow(q, k, v, t, w, heads, kvHeads, hd, 1, 3);
    expect(per.length).toBe(3);
    per.forEach((o, i) => {
      const part = (a: Float64Array, width: number) => a.slice(i * w * width, (i + 1) * w * width);
      expect(o).toEqual(attention(part(q, heads * hd), part(k, kvHeads * hd), part(v, kvHeads * hd), w, heads, kvHeads, hd, 1, 3));
    });
    // One window is plain attention.
    expect(attentionPerWindow(q, k, v, t, t, heads, kvHeads, hd)).toEqual([attention(q, k, v, t, heads, kvHeads, hd)]);
  });

  it("a window given twice changes no attention search's choice; a different second window changes some", async () => {
    const base = await collectStats(weights, calib, { keepTokens: 48 });
    const twice = await collectStats(weights, only(0, 0), { keepTokens: 48, keepWindows: 2 });
    const other = await collectStats(weights, calib, { keepTokens: 48, keepWindows: 2 });
    // Per search, every layer's choice.
    const choices = async (s: typeof base) => {
      const out = { smoothAttention: [] as unknown[], keyRotation: [] as unknown[], clip: [] as unknown[] };
      for (let l = 0; l < layers; l++) {
        out.smoothAttention.push(searchSmoothAttention(weights, base.maxima[l]!, s.kept[l]!));
        out.keyRotation.push(Array.from(await searchKeyRotation(weights, l, s.kept[l]!, "g128", 32)));
        const clip = attentionClipRatios(weights, l, s.kept[l]!, { ...DEFAULT_CLIP, grid: 20 });
        out.clip.push([Array.from(clip.q), Array.from(clip.k)]);
      }
      return out;
    };
    const one = await choices(base);
    expect(await choices(twice)).toEqual(one);
    // Each search reads the second window: with another one, some layer's choice moves.
    const moved = await choices(other);
    for (const search of ["smoothAttention", "keyRotation", "clip"] as const) expect(moved[search], search).not.toEqual(one[search]);
  });

  it("the pipeline records keepWindows (the same with workers) and refuses a bad one", async () => {
    const steps = { rotate: false, reorder: false, smoothAttention: false, smoothOutput: false, gptq: false, keyRotation: true };
    const r = await quantizeQoq(weights, calib, { group: 32, keepTokens: 24, keepWindows: 2, steps });
    expect(r.record.settings).toMatchObject({ keepTokens: 24, keepWindows: 2 });
    // The key-pair rotation search in worker threads sees the windows too.
    const threaded = await quantizeQoq(weights, calib, { group: 32, keepTokens: 24, keepWindows: 2, steps, workers: 2 });
    expect(threaded.record.settings).toEqual(r.record.settings);
    expect((await quantizeQoq(weights, calib, { group: 32, keepTokens: 24, steps })).record.settings).toMatchObject({ keepWindows: 1 });
    for (const keepWindows of [0, 2.5]) await expect(quantizeQoq(weights, calib, { group: 32, keepWindows, steps })).rejects.toThrow(/keepWindows must be/);
  });
});
