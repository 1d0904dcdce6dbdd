/**
 * The pipeline's worker threads: calibration statistics are the same bits for any worker count
 * (windows of unequal length make the workers finish out of order), the key-pair rotation search
 * picks the same angles, the workers really run, a failing worker is an error and not a hang,
 * and bad windows or counts are typed errors either way.
 */
import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ParamError, RangeViolationError } from "@qoq/core";
import { loadLlama2cBin, loadTokenizer } from "@qoq/model";
import { calibrationWindows, collectStats, type CalibrationSet } from "../src/calibration.js";
import { quantizeQoq, type QoqSteps } from "../src/pipeline.js";
import { dataFile } from "./data.js";

// Counts the worker threads started, and can make the next ones fail as they start.
const threads = vi.hoisted(() => ({ started: 0, failNext: false }));
vi.mock("node:worker_threads", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:worker_threads")>();
  class CountingWorker extends real.Worker {
    constructor(url: URL | string, opts?: import("node:worker_threads").WorkerOptions) {
      if (threads.failNext) super("throw new Error('planted failure')", { eval: true });
      else super(url, opts);
      threads.started++;
    }
  }
  return { ...real, Worker: CountingWorker };
});

const weights = loadLlama2cBin(dataFile("stories260K.bin"));
const tokenizer = loadTokenizer(dataFile("tok512.bin"), 512);
const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
const base = calibrationWindows(text.slice(text.length / 2), tokenizer, weights.config.seqLen, { samples: 5, seqLen: 128 });
// Window 0 is long and window 1 short, so with two workers window 1 is done first.
const lengths = [128, 4, 6, 96, 5];
const set: CalibrationSet = { ...base, windows: base.windows.map((w, i) => w.slice(0, lengths[i])), tokens: lengths.reduce((a, b) => a + b) };

/**
 * The path of the first typed array whose bytes differ between `a` and `b` (or of a value that
 * differs), "" when every bit is the same. (A toEqual failure on arrays this large would spend
 * minutes printing its diff.)
 */
function firstDifference(a: unknown, b: unknown, path = ""): string {
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return a.constructor === b.constructor && bytes(a).equals(bytes(b)) ? "" : path;
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      if (d !== "") return d;
    }
    return "";
  }
  return Object.is(a, b) ? "" : path;
}

beforeEach(() => {
  threads.started = 0;
  threads.failNext = false;
});

describe("worker threads", () => {
  it("any worker count gives the statistics of one thread, bit for bit, folded in window order", async () => {
    const progress: number[] = [];
    const one = await collectStats(weights, set, { keepTokens: 16, grams: true, onProgress: (d) => progress.push(d) });
    expect(threads.started).toBe(0);
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    for (const workers of [2, 3, 8]) {
      threads.started = 0;
      const order: number[] = [];
      const many = await collectStats(weights, set, { keepTokens: 16, grams: true, workers, onProgress: (d) => order.push(d) });
      expect(threads.started, `${workers} workers`).toBe(Math.min(workers, set.windows.length));
      expect(order).toEqual([1, 2, 3, 4, 5]);
      expect(firstDifference(many, one), `${workers} workers`).toBe("");
    }
    // The statistics are of every window: without the last one the maxima or Grams differ.
    const fewer = await collectStats(weights, { ...set, windows: set.windows.slice(0, 4) }, { grams: true, workers: 2 });
    expect(firstDifference(fewer.grams, one.grams)).toMatch(/^\.0\.attn_in/);
  });

  it("the key-pair rotation search in workers picks the angles of one thread, reported layer by layer", async () => {
    const steps: QoqSteps = { rotate: false, rotateHeads: false, reorder: false, smoothAttention: false, keyRotation: true, smoothOutput: false, clip: false, gptq: false };
    const run = async (workers: number) => {
      const layers: number[] = [];
      const r = await quantizeQoq(weights, set, { group: 32, steps, keepTokens: 48, workers, onProgress: (stage, done) => stage === "key rotation" && layers.push(done) });
      return { angles: (r.record.settings.keyRotation as { layers: number[][] }).layers, layers, codes: r.model.layers.map((l) => l.qkv.q.data) };
    };
    const one = await run(1);
    expect(threads.started).toBe(0);
    const many = await run(3);
    // 5 windows → 3 calibration workers, then 5 layers × 4 KV heads → 3 search workers.
    expect(threads.started).toBe(6);
    expect(many.angles).toEqual(one.angles);
    expect(one.angles.flat().some((a) => a !== 0)).toBe(true);
    expect(many.layers).toEqual([1, 2, 3, 4, 5]);
    expect(firstDifference(many.codes, one.codes)).toBe("");
  });

  it("a worker that fails is an error naming it, not a hang", async () => {
    threads.failNext = true;
    await expect(collectStats(weights, set, { workers: 2 })).rejects.toThrow(/calibration worker failed.*planted failure.*--workers 1/);
  });

  it("bad windows and worker counts are typed errors, with or without workers", async () => {
    const bad: CalibrationSet = { ...set, windows: [set.windows[0]!, [1, 2, 512, 3]] };
    for (const workers of [1, 2]) {
      const e = await collectStats(weights, bad, { workers }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RangeViolationError);
      expect((e as RangeViolationError).tensor).toBe("calibration window 1");
      expect((e as RangeViolationError).index).toBe(2);
    }
    expect(threads.started).toBe(0);
    for (const workers of [0, 1.5, -1]) await expect(collectStats(weights, set, { workers })).rejects.toThrow(ParamError);
  });
});
