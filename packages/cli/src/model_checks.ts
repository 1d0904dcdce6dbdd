/**
 * Model-level checks of `qoq conform`: whole forward passes compared on one token sequence.
 *
 * For each model (the embedded synthetic model, and any `--model` given): the FP32 forward, the
 * FP16 ONNX oracle, and the RTN W4A8KV4 forward on every requested backend that runs the
 * forward's ops. Metrics against FP16 ONNX: mean logit cosine, mean KL(onnx ‖ model), top-1
 * agreement, perplexity of the sequence. Verdicts: FP32 must agree with FP16 ONNX (cosine ≥
 * 0.999, top-1 ≥ 0.9), and W4A8KV4 on any backend must give the reference backend's logits bit
 * for bit (the ops are exact, so the model is too); no logit may be NaN or infinite. Each
 * W4A8KV4 row also carries the per-layer error: the NMSE of its residual stream after each decoder
 * layer against the FP32 forward's on the same tokens ({@link PER_LAYER_METRIC}).
 * @module
 */
import type { Backend } from "@qoq/core";
import { createFp32Model, createW4A8KV4Model, forwardFresh, generate, tokenNll, BOS_ID, type LanguageModel, type LayerHook, type LlamaWeights } from "@qoq/model";
import { OnnxFp16LanguageModel } from "@qoq/onnx";
import type { ModelResult } from "@qoq/oracle";

/** The ops a W4A8KV4 forward pass calls; a backend must support all of them to run the model. */
export const FORWARD_OPS = [
  "quant_weight_g128",
  "rmsnorm_quant",
  "gemm_w4a8_g128",
  "rope",
  "quant_kv4",
  "attention_prefill",
  "attention_kv4_decode",
  "quant_act_int8",
  "residual_add",
  "silu_mul_quant",
] as const;

/** Least FP32-vs-FP16-ONNX mean cosine a conforming oracle must reach. */
export const MIN_FP32_ONNX_COSINE = 0.999;
/** Least FP32-vs-FP16-ONNX top-1 agreement. */
export const MIN_FP32_ONNX_TOP1 = 0.9;

/** What the `perLayerError` of the W4A8KV4 rows measures. */
export const PER_LAYER_METRIC = "NMSE of the residual stream after each layer vs FP32";

/** What {@link layerRecorder} returns. */
export interface LayerRecorder {
  /** The hook to pass as a forward pass's `onLayer` option. */
  readonly onLayer: LayerHook;
  /** The recorded stream per layer, layer 0 first: every call's hidden states for that layer concatenated in call order (tokens × dim). */
  layers(): Float32Array[];
}

/** A {@link LayerHook} that records the residual stream, with the recorded stream per layer. */
export function layerRecorder(): LayerRecorder {
  const chunks: Float32Array[][] = [];
  return {
    onLayer: (layer, hidden) => {
      (chunks[layer] ??= []).push(hidden);
    },
    layers: () =>
      Array.from(chunks, (parts) => {
        const list = parts ?? [];
        const out = new Float32Array(list.reduce((n, a) => n + a.length, 0));
        let o = 0;
        for (const a of list) {
          out.set(a, o);
          o += a.length;
        }
        return out;
      }),
  };
}

/**
 * Per-layer NMSE of `got` against `want` (one array per layer, layer 0 first, equal lengths):
 * `Σ (want − got)² / Σ want²` in float64 (when `Σ want²` is 0: `Σ (want − got)²`). Identical
 * streams give 0; a layer missing or of another length in `got` gives NaN.
 */
export function layerNmse(want: readonly Float32Array[], got: readonly Float32Array[]): number[] {
  return want.map((a, l) => {
    const b = got[l];
    if (b === undefined || b.length !== a.length) return NaN;
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      const d = a[i]! - b[i]!;
      num += d * d;
      den += a[i]! * a[i]!;
    }
    return num / (den || 1);
  });
}

/** A model to check. */
export interface ModelUnderCheck {
  /** Name in reports. */
  readonly name: string;
  /** Its weights. */
  readonly weights: LlamaWeights;
  /** The token sequence to score (starting with BOS); when absent, one is sampled from the FP32 model. */
  readonly tokens?: readonly number[];
}

/** Outcome of the model-level checks. */
export interface ModelCheckOutcome {
  /** One row per (model, precision, backend). */
  readonly results: ModelResult[];
  /** Verdict failures, one line each. */
  readonly failures: string[];
}

function logSoftmax(x: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let z = 0;
  for (const v of x) z += Math.exp(v - m);
  const lz = m + Math.log(z);
  return Float64Array.from(x, (v) => v - lz);
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Metrics of `got` logits against `want` logits (rows are positions), and the sequence's perplexity under `got`. */
export function compareLogits(want: readonly Float32Array[], got: readonly Float32Array[], tokens: readonly number[]): { cosine: number; kl: number; top1: number; maxAbs: number; ppl: number; finite: boolean } {
  let cos = 0;
  let kl = 0;
  let agree = 0;
  let maxAbs = 0;
  let nll = 0;
  let finite = true;
  for (let p = 0; p < want.length; p++) {
    const a = want[p]!;
    const b = got[p]!;
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(b[i]!)) finite = false;
      dot += a[i]! * b[i]!;
      na += a[i]! * a[i]!;
      nb += b[i]! * b[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    }
    cos += dot / Math.sqrt(na * nb || 1);
    const la = logSoftmax(a);
    const lb = logSoftmax(b);
    for (let i = 0; i < a.length; i++) kl += Math.exp(la[i]!) * (la[i]! - lb[i]!);
    if (argmax(a) === argmax(b)) agree++;
    if (p + 1 < tokens.length) nll += tokenNll(b, tokens[p + 1]!);
  }
  const n = want.length;
  return { cosine: cos / n, kl: kl / n, top1: agree / n, maxAbs, ppl: Math.exp(nll / Math.max(1, tokens.length - 1)), finite };
}

function sameBits(a: readonly Float32Array[], b: readonly Float32Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let p = 0; p < a.length; p++) {
    const x = new Uint32Array(a[p]!.buffer, a[p]!.byteOffset, a[p]!.length);
    const y = new Uint32Array(b[p]!.buffer, b[p]!.byteOffset, b[p]!.length);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

/** Run the model-level checks on `models` with `backends` (those supporting every forward op run the W4A8KV4 model). */
export async function runModelChecks(models: readonly ModelUnderCheck[], backends: readonly Backend[], seqLen = 96): Promise<ModelCheckOutcome> {
  const results: ModelResult[] = [];
  const failures: string[] = [];
  for (const m of models) {
    const fp32 = createFp32Model(m.weights);
    const tokens = m.tokens ?? [BOS_ID, ...(await generate(fp32, { prompt: [BOS_ID], maxTokens: seqLen - 1, temperature: 1, seed: 1, stopTokens: [] })).tokens];
    const onnx = await OnnxFp16LanguageModel.create(m.weights);
    const want = await forwardFresh(onnx, tokens);
    const pplOnnx = compareLogits(want, want, tokens).ppl;
    const row = (precision: string, backend: string, got: Float32Array[], perLayerError?: number[]): void => {
      const c = compareLogits(want, got, tokens);
      const layered = perLayerError !== undefined ? { perLayerError, perLayerMetric: PER_LAYER_METRIC } : {};
      results.push({ name: m.name, backend, precision, ppl: c.ppl, pplReference: pplOnnx, logitCosine: c.cosine, kl: c.kl, top1: c.top1, ...layered });
      if (!c.finite) failures.push(`${m.name} ${precision} on ${backend}: non-finite logits`);
    };
    // The FP32 forward again, with the residual stream recorded (the hook does not change the logits).
    const fp32Rec = layerRecorder();
    const fp32Logits = await forwardFresh(createFp32Model(m.weights, { onLayer: fp32Rec.onLayer }), tokens);
    const fp32Layers = fp32Rec.layers();
    row("fp32", "reference", fp32Logits);
    const c32 = compareLogits(want, fp32Logits, tokens);
    if (c32.cosine < MIN_FP32_ONNX_COSINE || c32.top1 < MIN_FP32_ONNX_TOP1) {
      failures.push(`${m.name}: FP32 vs FP16 ONNX cosine ${c32.cosine.toFixed(5)} / top-1 ${c32.top1.toFixed(3)} below ${MIN_FP32_ONNX_COSINE} / ${MIN_FP32_ONNX_TOP1}`);
    }
    let referenceLogits: Float32Array[] | undefined;
    for (const b of backends) {
      if (!FORWARD_OPS.every((op) => b.supports(op, {}) === "supported")) continue;
      const rec = layerRecorder();
      const got = await forwardFresh(createW4A8KV4Model(m.weights, { variant: "g128", backend: b, onLayer: rec.onLayer }), tokens);
      const perLayer = layerNmse(fp32Layers, rec.layers());
      row("w4a8kv4-g128-rtn", b.name, got, perLayer);
      if (perLayer.some((e) => !Number.isFinite(e))) failures.push(`${m.name} w4a8kv4-g128-rtn on ${b.name}: non-finite per-layer error`);
      if (b.name === "reference") referenceLogits = got;
      else if (referenceLogits !== undefined && !sameBits(referenceLogits, got)) failures.push(`${m.name} w4a8kv4-g128-rtn on ${b.name}: logits differ from the reference backend's`);
    }
  }
  return { results, failures };
}

/** A compact text table of model-level results. */
export function modelTable(results: readonly ModelResult[]): string {
  const head = ["model", "precision", "backend", "ppl", "ppl (fp16-onnx)", "cosine", "KL", "top-1", "per-layer NMSE"];
  const perLayer = (r: ModelResult): string => (r.perLayerError !== undefined && r.perLayerError.length > 0 ? r.perLayerError.map((e) => e.toExponential(1)).join("/") : "-");
  const rows = results.map((r) => [r.name, r.precision, r.backend, r.ppl?.toFixed(4) ?? "-", r.pplReference?.toFixed(4) ?? "-", r.logitCosine?.toFixed(6) ?? "-", r.kl?.toExponential(2) ?? "-", r.top1 !== undefined ? `${(100 * r.top1).toFixed(1)}%` : "-", perLayer(r)]);
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd()).join("\n");
}
