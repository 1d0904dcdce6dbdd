/**
 * `qoq eval ppl`: perplexity of a model on a text file under the fixed protocol of
 * `@qoq/model`'s `perplexity` (blank-line-separated documents, BOS each, windows of seqLen + 1).
 * @module
 */
import { parseArgs } from "node:util";
import { perplexity } from "@qoq/model";
import { intOption, need, UsageError, type Command } from "../command.js";
import { loadModel, modelOptions, openModel, openRecipe, tokenizerFor, type QuantSource } from "../models.js";
import { perplexityInWorkers } from "../parallel_perplexity.js";
import { calibrationFrom, prefillKvFrom, workersFrom, QOQ_ARG_OPTIONS, QOQ_USAGE, qoqOptionsFrom, readText, stageProgress, type QoqArgValues } from "../quant_options.js";
import type { LlamaWeights, Tokenizer } from "@qoq/model";

/**
 * The weights source of `--quant`: `rtn` (default), `qoq` (the pipeline, run now, calibrated
 * on `--calib`), or the path of a QoQ checkpoint. Only the W4A8KV4 precisions take it.
 */
export function quantSourceFrom(values: QoqArgValues & { quant?: string | undefined; group?: string | undefined }, precision: string, weights: LlamaWeights, tok: Tokenizer): QuantSource | undefined {
  const q = values.quant;
  // --workers also spreads the evaluation's windows: it applies to every precision.
  const pipelineFlags = Object.keys(QOQ_ARG_OPTIONS).filter((k) => k !== "workers" && values[k as keyof QoqArgValues] !== undefined);
  if (q === undefined || q === "rtn") {
    if (pipelineFlags.length > 0) throw new UsageError(`--${pipelineFlags[0]} applies to --quant qoq only`);
    return q === undefined ? undefined : { kind: "rtn" };
  }
  if (precision !== "w4a8kv4" && precision !== "w4a8kv4-chn") throw new UsageError(`--quant ${q} applies to precision w4a8kv4 or w4a8kv4-chn, not '${precision}'`);
  if (q !== "qoq") {
    if (pipelineFlags.length > 0) throw new UsageError(`--${pipelineFlags[0]} applies to --quant qoq, not to a checkpoint file`);
    return { kind: "file", path: q };
  }
  const group = values.group !== undefined ? Number(values.group) : undefined;
  const { calib, select } = calibrationFrom(values, tok, weights);
  return { kind: "qoq", calib, options: (variant) => qoqOptionsFrom(values, variant, group), onProgress: stageProgress("qoq"), select };
}

/** A progress reporter on stderr: a redrawn bar on a TTY, otherwise a plain line every ~10%. */
function progress(): { update: (done: number, total: number, tokens: number) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  const start = Date.now();
  return {
    update(done, total, tokens) {
      const frac = total > 0 ? done / total : 1;
      const secs = ((Date.now() - start) / 1000).toFixed(1);
      if (tty) {
        const w = 30;
        const n = Math.round(frac * w);
        process.stderr.write(`\r[${"#".repeat(n)}${".".repeat(w - n)}] ${done}/${total} documents, ${tokens} tokens, ${secs} s`);
      } else {
        const decile = Math.floor(frac * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`eval: ${done}/${total} documents, ${tokens} tokens, ${secs} s\n`);
        }
      }
    },
    end() {
      if (tty) process.stderr.write("\n");
    },
  };
}

/** The precisions with quantized weights and a KV4 cache. */
const QUANTIZED = ["w4a8kv4", "w4a8kv4-chn", "w8a8"];

/** `qoq eval …` */
export const evalCommand: Command = {
  usage: `qoq eval ppl --model PATH|synthetic[:SEED] --tokenizer tok.bin --text PATH [--max-chars N] [--precision fp32|fp16|fp16-onnx|w4a8kv4|w4a8kv4-chn|w8a8] [--group N]
                 [--backend NAME] [--quant rtn|qoq|CHECKPOINT] [--prefill-kv fp16|kv4] [--temperature T] [--json]
                 ${QOQ_USAGE}
                                               perplexity; with --json the last stdout line is a JSON object. --workers also scores the
                                               windows on that many threads (fp32, and the quantized precisions on the reference or cpu
                                               backend; the same bits as one thread); fp16, fp16-onnx and webgpu run in this thread`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        model: { type: "string" },
        tokenizer: { type: "string" },
        text: { type: "string" },
        "max-chars": { type: "string" },
        precision: { type: "string" },
        backend: { type: "string" },
        group: { type: "string" },
        json: { type: "boolean" },
        quant: { type: "string" },
        "prefill-kv": { type: "string" },
        temperature: { type: "string" },
        ...QOQ_ARG_OPTIONS,
      },
    });
    const [sub, ...rest] = positionals;
    if (sub !== "ppl" || rest.length > 0) throw new UsageError(`unknown command 'eval ${positionals.join(" ")}' (expected 'eval ppl')`);
    const modelPath = need(values.model, "--model");
    const textPath = need(values.text, "--text");
    const maxChars = values["max-chars"] !== undefined ? intOption(values["max-chars"], "max-chars", 0) : undefined;
    const precision = values.precision ?? "fp32";
    // A diagnostic, not the protocol: scores softmax(logits / T) (see PerplexityOptions.temperature).
    const temperature = values.temperature !== undefined ? Number(values.temperature) : 1;
    if (!(temperature > 0 && temperature < Infinity)) throw new UsageError(`--temperature must be a finite number > 0, got '${values.temperature}'`);
    const weights = loadModel(modelPath);
    const tok = tokenizerFor(values.tokenizer, weights);
    const text = readText(textPath);
    const quant = quantSourceFrom(values, precision, weights, tok);
    const prefillKv = prefillKvFrom(values["prefill-kv"]);
    if (prefillKv !== undefined && !QUANTIZED.includes(precision)) throw new UsageError(`--prefill-kv applies to the quantized precisions, not '${precision}'`);
    const options = { ...modelOptions(values), ...(quant ? { quant } : {}), ...(prefillKv ? { prefillKv } : {}) };
    const workers = workersFrom(values.workers);
    const recipe = workers > 1 ? await openRecipe(weights, precision, options) : undefined;
    const bar = progress();
    const evalOptions = { ...(maxChars !== undefined ? { maxChars } : {}), temperature, onProgress: bar.update };
    const r = recipe !== undefined ? await perplexityInWorkers(recipe, tok, text, { ...evalOptions, workers }) : await perplexity(await openModel(weights, precision, options), tok, text, evalOptions);
    bar.end();
    if (values.json) {
      process.stdout.write(JSON.stringify({ ppl: r.ppl, tokens: r.tokens, nll: r.nll, precision, ...(QUANTIZED.includes(precision) ? { quant: values.quant ?? "rtn", prefillKv: prefillKv ?? "fp16" } : {}), ...(temperature !== 1 ? { temperature } : {}), model: modelPath, documents: r.documents, windows: r.windows }) + "\n");
    } else {
      process.stdout.write(`ppl ${r.ppl.toFixed(4)}  (mean NLL ${r.nll.toFixed(4)} nats/token over ${r.tokens} tokens, ${r.documents} documents, ${r.windows} windows; ${precision}${temperature !== 1 ? `, temperature ${temperature}` : ""}, ${modelPath})\n`);
    }
    return 0;
  },
};
