// Generates docs/ablation.md: the QoQ ablation — perplexity (and KL divergence from FP32) of FP32,
// FP16-ONNX, W8A8KV4, W4A8KV4 RTN and W4A8KV4 with each QoQ step added in turn, for the per-group
// and per-channel variants, on both shared models and a larger synthetic model with outliers.
// Calibration: windows from the second half of tinystories_val.txt; evaluation: the first
// characters of its first half, and of wiki.test.raw. Run after the build:
//   node scripts/ablation-table.mjs [--max-chars N] [--max-chars-extra N] [--max-chars-synthetic N] [--samples N] [--backend cpu] [--out docs/ablation.md]
// To spread the work over processes: run each model with --only NAME --results PART.json, then
// render the table from the parts with --from PART1.json,PART2.json,… (no model is run then).
// --rows "LABEL|LABEL" and --variants g128,chn run only those rows (to complete a part by hand).
// --workers N: threads of the calibration, the key-pair rotation search and the evaluation's windows (default: the CPUs, at most 8;
// the results do not depend on it).
import { execSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  byteLevelTokenizer,
  createQuantizedModel,
  loadLlama2cBin,
  loadTokenizer,
  quantizeRtn,
  SYNTHETIC_DEFAULT_CONFIG,
  syntheticWeights,
  perplexity,
} from "../packages/model/dist/index.js";
import { OnnxFp16LanguageModel } from "../packages/onnx/dist/index.js";
import { calibrationWindows, PipelinePrefixes, quantizeQoq, selectQoqSteps } from "../packages/quantize/dist/index.js";
import { openBackend } from "../packages/cli/dist/backends.js";
import { defaultWorkers } from "../packages/cli/dist/quant_options.js";
import { isWorkerBackend, recipeModel } from "../packages/cli/dist/model_recipe.js";
import { perplexityInWorkers } from "../packages/cli/dist/parallel_perplexity.js";

const root = join(import.meta.dirname, "..");
const data = join(root, "..", "shared", "data");
const { values } = parseArgs({
  options: {
    "max-chars": { type: "string" },
    "max-chars-extra": { type: "string" },
    samples: { type: "string" },
    backend: { type: "string" },
    "max-chars-synthetic": { type: "string" },
    only: { type: "string" },
    workers: { type: "string" },
    rows: { type: "string" },
    variants: { type: "string" },
    results: { type: "string" },
    from: { type: "string" },
    out: { type: "string" },
  },
});
const maxChars = Number(values["max-chars"] ?? 20000);
const maxCharsExtra = Number(values["max-chars-extra"] ?? 5000);
// The synthetic model is the largest per token (dim 256, 4 layers, byte tokens): fewer characters.
const maxCharsSynthetic = Number(values["max-chars-synthetic"] ?? 1000);
const samples = Number(values.samples ?? 32);
const backendName = values.backend ?? "cpu";
const out = values.out ?? join(root, "docs", "ablation.md");
const backend = await openBackend(backendName);
// The pipeline's options common to every run: the weight quantizers' backend, and the calibration's
// worker threads (any count gives the same bits).
const pipeline = { backend, workers: values.workers !== undefined ? Number(values.workers) : defaultWorkers() };
/** A quantized model to evaluate: as a recipe (scored in worker threads) when the backend can run in one, else built here. */
const quantized = (q, kv) => (isWorkerBackend(backendName) ? { kind: "quantized", model: q, backend: backendName, ...kv } : createQuantizedModel(q, backend, kv));

/** A larger synthetic model: 4 layers, dim 256, residual activation outliers ×20 and key outliers ×8 (the generator's defaults). */
const SYNTHETIC_LARGE = { ...SYNTHETIC_DEFAULT_CONFIG, dim: 256, hiddenDim: 704, nLayers: 4, nHeads: 8, nKvHeads: 4 };

const MODELS = [
  { name: "stories260K", load: () => loadLlama2cBin(join(data, "stories260K.bin")), tok: (w) => loadTokenizer(join(data, "tok512.bin"), w.config.vocabSize), maxChars, group: 32 },
  {
    name: "babyllama model5000",
    load: () => loadLlama2cBin(join(data, "extra/babyllama_tok105/model5000.bin")),
    tok: (w) => loadTokenizer(join(data, "extra/babyllama_tok105/tok105.DERIVED.bin"), w.config.vocabSize),
    maxChars: maxCharsExtra,
    group: 32,
  },
  { name: "synthetic-large (outliers)", load: () => syntheticWeights(SYNTHETIC_LARGE), tok: (w) => byteLevelTokenizer(w.config.vocabSize), maxChars: maxCharsSynthetic, group: 64 },
].filter((m) => values.only === undefined || m.name.startsWith(values.only));

const tiny = readFileSync(join(data, "tinystories_val.txt"), "utf8");
const half = Math.floor(tiny.length / 2);
const TEXTS = [
  { name: "tinystories_val.txt, first half", text: tiny.slice(0, half) },
  { name: "wiki.test.raw", text: readFileSync(join(data, "wiki.test.raw"), "utf8") },
];
const calibText = tiny.slice(half);

/**
 * Perplexity under the protocol of `qoq eval ppl` (documents split on blank lines, BOS each,
 * windows of seqLen + 1 tokens, a fresh session per window), plus the mean KL(FP32 ‖ model) over
 * the same predicted tokens when `fp` (the FP32 model's recipe) is given. A model given as a
 * recipe is scored in worker threads (the same bits as one thread); the others (FP16-ONNX) here.
 */
async function evaluate(made, fp, tok, text, chars) {
  const r =
    made.kind !== undefined
      ? await perplexityInWorkers(made, tok, text, { workers: pipeline.workers, maxChars: chars, ...(fp !== undefined ? { reference: fp } : {}) })
      : await perplexity(made, tok, text, { maxChars: chars, ...(fp !== undefined ? { reference: await recipeModel(fp) } : {}) });
  return { ppl: r.ppl, kl: r.kl ?? 0, tokens: r.tokens };
}

const KEY_ROTATION_ROW = "+ key-pair rotation (ours, off by default)";
const GRID_ROW = "QoQ, grid-searched smoothing";
const GRID_KEY_ROW = "QoQ, grid-searched smoothing + key-pair rotation (ours)";
const KV16_ROW = "W8A8 RTN, KV cache not quantized";
const W8_KEY_ROW = "W8A8KV4 RTN + key-pair rotation (ours)";
const W4_KV16_ROW = "W4A8 RTN, KV cache not quantized";
const SELECT_ROW = "QoQ, grid-searched smoothing + key-pair rotation, steps selected on held-out text (ours)";
// The same two runs with every search (grids, key-pair rotation, clipping) scoring the first tokens of several calibration windows.
const SEARCH_WINDOWS = 8;
const GRID_KEY_WINDOWS_ROW = `QoQ, grid-searched smoothing + key-pair rotation, searches on ${SEARCH_WINDOWS} calibration windows (ours)`;
const SELECT_WINDOWS_ROW = `QoQ, grid-searched smoothing + key-pair rotation, searches on ${SEARCH_WINDOWS} calibration windows, steps selected on held-out text (ours)`;
// Held-out windows of the step selection: the calibration text's windows after the calibration windows.
const SELECT_SAMPLES = 8;
// The QoQ rows: each adds one step to the one before (reorder only for g128, clipping only for chn).
const STEPS = [
  ["+ rotation", { rotate: true }],
  ["+ reordering", { reorder: true }, "g128"],
  ["+ SmoothAttention", { smoothAttention: true }],
  ["+ output smoothing", { smoothOutput: true }],
  ["+ clipping", { clip: true }, "chn"],
  ["+ GPTQ", { gptq: true }],
  ["+ V/O head rotation (dc01, off by default)", { rotateHeads: true }],
  [KEY_ROTATION_ROW, { keyRotation: true }],
];
/** `f`'s promise, made at the first call and returned again by the later ones. */
const once = (f) => {
  let made;
  return () => (made ??= f());
};
const NONE = { rotate: false, rotateHeads: false, reorder: false, smoothAttention: false, keyRotation: false, smoothOutput: false, clip: false, gptq: false };

const sections = values.from !== undefined ? values.from.split(",").flatMap((f) => JSON.parse(readFileSync(f, "utf8"))) : [];
for (const m of values.from !== undefined ? [] : MODELS) {
  const weights = m.load();
  const tok = m.tok(weights);
  const calib = calibrationWindows(calibText, tok, weights.config.seqLen, { samples });
  const held = calibrationWindows(calibText, tok, weights.config.seqLen, { samples: SELECT_SAMPLES, offset: calib.windows.length });
  const fp = { kind: "fp32", weights };
  const kv = { prefillKv: "kv4" };
  const rows = []; // [label, variant, results per text]
  const onlyRows = values.rows?.split("|");
  const onlyVariants = values.variants?.split(",");
  const run = async (label, variant, make) => {
    if (onlyRows !== undefined && !onlyRows.includes(label)) return;
    if (onlyVariants !== undefined && !onlyVariants.includes(variant)) return;
    const t0 = performance.now();
    const made = await make();
    // A row may carry a note on what it chose (the step selection: the steps it switched off).
    const { model, detail } = made.detail !== undefined ? made : { model: made, detail: undefined };
    const res = [];
    for (const t of TEXTS) res.push(await evaluate(model, label === "FP32" ? undefined : fp, tok, t.text, m.maxChars));
    rows.push({ label, variant, res, ...(detail !== undefined ? { detail } : {}) });
    process.stderr.write(`${m.name} | ${label}${detail !== undefined ? ` (${detail})` : ""} | ${res.map((r) => r.ppl.toFixed(4)).join(" | ")} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  };
  await run("FP32", "", async () => fp);
  await run("FP16-ONNX", "", () => OnnxFp16LanguageModel.create(weights));
  // The RTN weights of the two rows that differ only in how the prefill reads K/V: quantized once, by the first row run.
  const w8 = once(() => quantizeRtn(weights, backend, { variant: "w8a8" }));
  await run("W8A8KV4 RTN", "w8a8", async () => quantized(await w8(), kv));
  // The same weights with the prefill reading unquantized K/V: the gap to the row above is the KV4 cache's own loss.
  await run(KV16_ROW, "w8a8", async () => quantized(await w8(), { prefillKv: "fp16" }));
  // How much of the KV4 cache's loss the key-pair rotation removes when the weights are near-lossless: the pipeline
  // with that step alone (its search scores q/k_proj quantized per channel at W4: it has no W8 objective), then W8A8 RTN.
  await run(W8_KEY_ROW, "w8a8", async () => {
    const turned = await quantizeQoq(weights, calib, { variant: "chn", steps: { ...NONE, keyRotation: true }, ...pipeline });
    return quantized(await quantizeRtn(turned.weights, backend, { variant: "w8a8" }), kv);
  });
  for (const variant of ["g128", "chn"]) {
    const g = variant === "g128" ? { group: m.group } : {};
    // Runs with the same options share their first steps' states (results unchanged, byte for
    // byte): each incremental row resumes where the row above ended, the grid rows and the
    // selection where the run before left the same steps. One store per set of options.
    const fixed = new PipelinePrefixes();
    const grid = new PipelinePrefixes();
    const w4 = once(() => quantizeRtn(weights, backend, { variant, ...g }));
    await run("W4A8KV4 RTN", variant, async () => quantized(await w4(), kv));
    // The W4 weights' own loss: the same model with the prefill reading unquantized K/V.
    await run(W4_KV16_ROW, variant, async () => quantized(await w4(), { prefillKv: "fp16" }));
    await run("GPTQ alone (RTN's parameters, no other step)", variant, async () =>
      quantized((await quantizeQoq(weights, calib, { variant, ...g, steps: { ...NONE, gptq: true }, ...pipeline }, fixed)).model, kv),
    );
    let steps = { ...NONE };
    for (const [label, add, only] of STEPS) {
      if (only !== undefined && only !== variant) continue;
      steps = { ...steps, ...add };
      const s = { ...steps };
      await run(label, variant, async () => quantized((await quantizeQoq(weights, calib, { variant, ...g, steps: s, ...pipeline }, fixed)).model, kv));
    }
    await run(GRID_ROW, variant, async () =>
      quantized((await quantizeQoq(weights, calib, { variant, ...g, ...pipeline, smoothAttention: "grid", smoothOutput: "grid" }, grid)).model, kv),
    );
    // The grid-searched pipeline with the key-pair rotation, and the same with every search on several windows.
    const gridKey = { variant, ...g, ...pipeline, steps: { keyRotation: true }, smoothAttention: "grid", smoothOutput: "grid" };
    const windowed = new PipelinePrefixes();
    const gridKeyWindows = { ...gridKey, keepWindows: SEARCH_WINDOWS };
    // A step selection's row: its model, and the steps it switched off.
    const selected = async (options, prefixes) => {
      const r = await selectQoqSteps(weights, calib, options, { windows: held.windows, prefixes });
      const off = r.record.settings.selection.off;
      return { model: quantized(r.model, kv), detail: `switched off: ${off.length > 0 ? off.join(", ") : "none"}` };
    };
    await run(GRID_KEY_ROW, variant, async () => quantized((await quantizeQoq(weights, calib, gridKey, grid)).model, kv));
    await run(SELECT_ROW, variant, () => selected(gridKey, grid));
    await run(GRID_KEY_WINDOWS_ROW, variant, async () => quantized((await quantizeQoq(weights, calib, gridKeyWindows, windowed)).model, kv));
    await run(SELECT_WINDOWS_ROW, variant, () => selected(gridKeyWindows, windowed));
  }
  sections.push({ model: { name: m.name, group: m.group, maxChars: m.maxChars }, config: weights.config, rows, samples: calib.windows.length });
}
if (values.results !== undefined) {
  writeFileSync(values.results, JSON.stringify(sections));
  process.stderr.write(`wrote ${values.results}\n`);
  process.exit(0);
}

let commit = "unknown";
try {
  commit = execSync("git rev-parse --short HEAD", { cwd: root, encoding: "utf8" }).trim();
} catch {
  // not a git checkout
}
const date = new Date().toISOString().slice(0, 10);
const f = (x) => x.toFixed(4);
const lines = [
  "# QoQ ablation: perplexity of each step",
  "",
  `Generated by \`node scripts/ablation-table.mjs\` (commit ${commit}, ${date}, quantized models on the \`${backendName}\` backend, bit-identical to the reference). Do not edit by hand.`,
  "",
  "- **Calibration** (every QoQ row): the first windows of 256 tokens (how many: in each model's header) of the *second* half of `tinystories_val.txt` (for the",
  "  synthetic model, byte tokens). **Evaluation**: the first characters of the *first* half of `tinystories_val.txt`, and of",
  "  `wiki.test.raw` — never the calibration text. Protocol of `qoq eval ppl` (documents on blank lines, BOS each, windows of",
  "  seqLen + 1 tokens).",
  "- **KV4 everywhere**: every quantized row runs with `prefillKv: kv4` — each token attends to the KV4-quantized past exactly as",
  "  a decode step would — so the KV4 cache's error (and SmoothAttention's effect on it) is in the numbers. (With QServe's fp16",
  "  prefill attention, a perplexity run would never read the KV4 cache.)",
  "- **Rows**: W4A8KV4 RTN, then each QoQ step added to the row above it (reordering in the per-group variant only, clipping in",
  "  the per-channel variant only, as QServe's configs do), with fixed exponents (SmoothAttention α = 0.5; output smoothing",
  "  α/β = 0.3/0.7 per-group, 0.1/0.9 per-channel), GPTQ last (codes re-picked with RTN's parameters, damping 0.01, the",
  "  Hessian from the calibration windows), then DeepCompressor dc01's per-head Hadamard rotation of the values (v_proj rows,",
  "  o_proj columns; not in the default pipeline, which follows the paper's lmquant configs), then our key-pair rotation",
  "  (each RoPE pair of q/k_proj turned by a searched angle, `--key-rotation`, off by default; `packages/quantize/README.md`);",
  "  then the default pipeline with both smoothings grid-searched, without and with the key-pair rotation; the last row",
  `  runs the latter through our step selection (\`--select-steps\`): one sweep in pipeline order that switches a step off when`,
  `  that lowers the mean KL from FP32 on ${SELECT_SAMPLES} held-out windows (the calibration text's windows after the calibration`,
  "  windows, never the evaluation text); the steps it switched off are named in the row. The last two rows of a variant",
  `  repeat the two before them with every search (both grids, the key-pair rotation, clipping) scoring the first 256 tokens`,
  `  of ${SEARCH_WINDOWS} calibration windows instead of one (\`--keep-windows\`; each window's attention on its own, the windows'`,
  "  errors summed); where a section lacks them, they were not run for that model (see its note).",
  "  *GPTQ alone* is RTN's quantizer with GPTQ's rounding and no other step. *W8A8 RTN, KV cache not quantized* is W8A8KV4",
  "  RTN with the prefill reading unquantized K/V: the gap between the two W8 rows is the KV4 cache's own loss;",
  `  *${W8_KEY_ROW}* is W8A8KV4 RTN of the weights after the key-pair rotation alone; *${W4_KV16_ROW}* is`,
  "  W4A8KV4 RTN with the prefill reading unquantized K/V (the W4 weights' own loss).",
  "- **KL** is the mean KL(FP32 ‖ row) per predicted token, in nats: the synthetic model is random, so its perplexity",
  "  means little, but its distance from FP32 does. *Recovered* = (RTN − row)/(RTN − FP16-ONNX) in perplexity; for the",
  "  synthetic model (KL_RTN − KL_row)/KL_RTN instead, both from the printed values (so they can be checked by hand; the KV4",
  "  share below too). The texts are short (a few thousand tokens, a few hundred for the",
  "  synthetic model), so differences of a few percent are within noise.",
  "- **Reading the WikiText column**: both trained models learned TinyStories and are overconfident on `wiki.test.raw` —",
  "  their FP32 perplexity there falls from 135 to 59 (stories260K) and from 28.5 to 15.0 (babyllama) when the logits are",
  "  merely divided by 2 (`docs/ood-perplexity.md`, `qoq eval ppl --temperature`). On that text any quantization noise that flattens the",
  "  distribution lowers perplexity, so a row can score better perplexity than another while being farther from FP32;",
  "  its KL column says which is closer. On TinyStories the models' own temperature is about right, and perplexity means",
  "  what it says.",
  "",
];
/** Section `s`'s row of `variant` and `label` (undefined when that row was not run). */
const rowOf = (s, variant, label) => s.rows.find((r) => r.variant === variant && r.label === label);
// Share of RTN's loss a row recovers: in perplexity against FP16-ONNX, or — for the random
// synthetic model, whose perplexity says nothing — in KL from FP32.
const byKl = (s) => s.model.name.startsWith("synthetic");
// Computed from the printed values (ppl to 4 decimals, KL to 3 digits), so that a reader gets it by hand.
const printed = (r) => ({ ppl: Number(f(r.ppl)), kl: Number(r.kl.toExponential(2)) });
const recovered = (s, rtnRes, rowRes, fp16Res) => {
  const [rtn, row, fp16] = [rtnRes, rowRes, fp16Res].map(printed);
  return `${((byKl(s) ? (rtn.kl - row.kl) / rtn.kl : (rtn.ppl - row.ppl) / (rtn.ppl - fp16.ppl)) * 100).toFixed(0)}%${byKl(s) ? " of KL" : ""}`;
};
// Summary: the full pipeline (grid-searched smoothing) against RTN of the same variant, as the
// paper runs it and with our key-pair rotation added.
for (const [title, label] of [
  ["## Summary: full QoQ pipeline (grid-searched smoothing) vs RTN", GRID_ROW],
  ["## Summary: the same with the key-pair rotation (ours, off by default) vs RTN", GRID_KEY_ROW],
  ["## Summary: the same with the steps selected on held-out text (ours, `--select-steps`) vs RTN", SELECT_ROW],
  [`## Summary: the same with the searches on ${SEARCH_WINDOWS} calibration windows (ours, \`--keep-windows ${SEARCH_WINDOWS}\`) vs RTN`, SELECT_WINDOWS_ROW],
]) {
  const present = sections.filter((s) => s.rows.some((r) => r.label === label));
  if (present.length === 0) continue;
  lines.push(title, "");
  lines.push(`| model | variant | ${TEXTS.map((t) => `${t.name}: FP16 → RTN → QoQ (recovered)`).join(" | ")} |`);
  lines.push(`|---|---|${TEXTS.map(() => "---").join("|")}|`);
  for (const s of present) {
    const fp16 = rowOf(s, "", "FP16-ONNX").res;
    for (const variant of ["g128", "chn"]) {
      const rtn = rowOf(s, variant, "W4A8KV4 RTN").res;
      const row = rowOf(s, variant, label);
      // A row run for one variant only (a part completed by hand) has no line for the other.
      if (row === undefined) continue;
      const qoq = row.res;
      const cells = TEXTS.map((_, i) => `${f(fp16[i].ppl)} → ${f(rtn[i].ppl)} → ${f(qoq[i].ppl)} (${recovered(s, rtn[i], qoq[i], fp16[i])}; KL ${rtn[i].kl.toExponential(2)} → ${qoq[i].kl.toExponential(2)})`);
      lines.push(`| ${s.model.name} | ${variant === "g128" ? `per-group g${s.model.group}` : "per-channel"}${row.detail !== undefined ? ` (${row.detail})` : ""} | ${cells.join(" | ")} |`);
    }
  }
  lines.push("");
}
// Where the loss comes from: the KV4 cache and the W4 weights, each alone and together, on the first text.
const DECOMPOSITION = [
  ["W8A8, KV not quantized", "w8a8", KV16_ROW],
  ["W8A8KV4 (KV4 cache alone)", "w8a8", "W8A8KV4 RTN"],
  ["W8A8KV4 + key-pair rotation", "w8a8", W8_KEY_ROW],
  ["W4A8 per-group, KV not quantized (W4 alone)", "g128", W4_KV16_ROW],
  ["W4A8KV4 per-group RTN (both)", "g128", "W4A8KV4 RTN"],
  ["W4A8 per-channel, KV not quantized (W4 alone)", "chn", W4_KV16_ROW],
  ["W4A8KV4 per-channel RTN (both)", "chn", "W4A8KV4 RTN"],
];
const decomposed = sections.filter((s) => DECOMPOSITION.every(([, v, l]) => rowOf(s, v, l) !== undefined));
if (decomposed.length > 0) {
  const at = (s, v, l) => rowOf(s, v, l).res[0];
  lines.push(`## Where the loss comes from (${TEXTS[0].name})`, "");
  lines.push(
    "Perplexity (KL from FP32) of RTN with the KV4 cache and the W4 weights each alone and together. *KV4 share* is the KV4 cache's",
    "own loss (W8A8KV4 against W8A8 with the KV cache not quantized) as a share of W4A8KV4 RTN's loss (against FP16-ONNX), per",
    "variant, and the same with the key-pair rotation; in KL for the synthetic model. Where it is above 50%, recovering half of",
    "RTN's loss needs the KV4 keys' error cut, which only SmoothAttention and the key-pair rotation act on: the weight-side steps",
    "(rotation, smoothing, reordering, clipping, GPTQ) cannot reach it alone. The key-pair rotation row's search scores W4",
    "per-channel q/k_proj weights (its only objective).",
    "",
  );
  lines.push(`| model | FP16-ONNX | ${DECOMPOSITION.map(([h]) => h).join(" | ")} | KV4 share → after key-pair rotation, per-group / per-channel |`);
  lines.push(`|---|---:|${DECOMPOSITION.map(() => "---:").join("|")}|---:|`);
  for (const s of decomposed) {
    const fp16 = printed(at(s, "", "FP16-ONNX"));
    const kv16 = printed(at(s, "w8a8", KV16_ROW));
    const kv4 = at(s, "w8a8", "W8A8KV4 RTN");
    const turned = at(s, "w8a8", W8_KEY_ROW);
    // The KV4 cache's loss (of `kv`: plain or after the key-pair rotation) as a share of RTN's loss in variant v.
    const share = (v, kvRes) => {
      const [rtn, kv] = [at(s, v, "W4A8KV4 RTN"), kvRes].map(printed);
      const x = byKl(s) ? (kv.kl - kv16.kl) / rtn.kl : (kv.ppl - kv16.ppl) / (rtn.ppl - fp16.ppl);
      return `${(x * 100).toFixed(0)}%`;
    };
    const cells = DECOMPOSITION.map(([, v, l]) => {
      const r = at(s, v, l);
      return `${f(r.ppl)} (${r.kl.toExponential(2)})`;
    });
    lines.push(`| ${s.model.name} | ${f(fp16.ppl)} | ${cells.join(" | ")} | ${share("g128", kv4)} → ${share("g128", turned)} / ${share("chn", kv4)} → ${share("chn", turned)} |`);
  }
  lines.push("");
}
for (const s of sections) {
  const c = s.config;
  lines.push(`## ${s.model.name}`, "");
  lines.push(
    `dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nLayers} layers, ${c.nHeads} heads / ${c.nKvHeads} KV heads, head dim ${c.dim / c.nHeads}, ${c.ropeStyle} RoPE; ` +
      `per-group variant with group ${s.model.group}; ${s.samples} calibration windows; ${s.model.maxChars} characters of each text (${s.rows[0].res.map((r) => r.tokens).join(" / ")} tokens).`,
    "",
  );
  // A section whose run was completed from an earlier run's rows says so (parts merged by hand, see s.note).
  if (s.note !== undefined) lines.push(s.note, "");
  const fp16 = rowOf(s, "", "FP16-ONNX").res;
  lines.push(`| variant | row | ${TEXTS.map((t) => `ppl ${t.name} | KL | recovered`).join(" | ")} |`);
  lines.push(`|---|---|${TEXTS.map(() => "---:|---:|---:").join("|")}|`);
  for (const r of s.rows) {
    const rtn = r.variant === "" ? undefined : rowOf(s, r.variant, r.variant === "w8a8" ? "W8A8KV4 RTN" : "W4A8KV4 RTN");
    const cells = r.res.map((x, i) => {
      // Recovered is a QoQ row's measure: not for the W8 rows or the RTN row run with the KV cache not quantized.
      const rec = rtn !== undefined && r !== rtn && r.variant !== "w8a8" && r.label !== W4_KV16_ROW ? recovered(s, rtn.res[i], x, fp16[i]) : "";
      return `${f(x.ppl)} | ${r.label === "FP32" ? "" : x.kl.toExponential(2)} | ${rec}`;
    });
    const variant = r.variant === "g128" ? `W4 per-group (g${s.model.group})` : r.variant === "chn" ? "W4 per-channel" : r.variant === "w8a8" ? "W8 per-channel" : "float";
    lines.push(`| ${variant} | ${r.label}${r.detail !== undefined ? ` (${r.detail})` : ""} | ${cells.join(" | ")} |`);
  }
  lines.push("");
}
writeFileSync(out, lines.join("\n"));
process.stderr.write(`wrote ${out}\n`);
