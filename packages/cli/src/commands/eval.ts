/**
 * `qoq eval ppl`: perplexity of a model on a text file under the fixed protocol of
 * `@qoq/model`'s `perplexity` (blank-line-separated documents, BOS each, windows of seqLen + 1).
 * @module
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { IoError } from "@qoq/core";
import { perplexity } from "@qoq/model";
import { intOption, need, UsageError, type Command } from "../command.js";
import { loadModel, modelOptions, openModel, tokenizerFor } from "../models.js";

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

/** `qoq eval …` */
export const evalCommand: Command = {
  usage: `qoq eval ppl --model PATH|synthetic[:SEED] --tokenizer tok.bin --text PATH [--max-chars N] [--precision fp32|fp16|fp16-onnx|w4a8kv4|w4a8kv4-chn|w8a8] [--group N]
                 [--backend NAME] [--json]   perplexity; with --json the last stdout line is a JSON object`,
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
      },
    });
    const [sub, ...rest] = positionals;
    if (sub !== "ppl" || rest.length > 0) throw new UsageError(`unknown command 'eval ${positionals.join(" ")}' (expected 'eval ppl')`);
    const modelPath = need(values.model, "--model");
    const textPath = need(values.text, "--text");
    const maxChars = values["max-chars"] !== undefined ? intOption(values["max-chars"], "max-chars", 0) : undefined;
    const precision = values.precision ?? "fp32";
    const weights = loadModel(modelPath);
    const tok = tokenizerFor(values.tokenizer, weights);
    let text: string;
    try {
      text = readFileSync(textPath, "utf8");
    } catch (e) {
      throw new IoError(`cannot read '${textPath}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const model = await openModel(weights, precision, modelOptions(values));
    const bar = progress();
    const r = await perplexity(model, tok, text, { ...(maxChars !== undefined ? { maxChars } : {}), onProgress: bar.update });
    bar.end();
    if (values.json) {
      process.stdout.write(JSON.stringify({ ppl: r.ppl, tokens: r.tokens, nll: r.nll, precision, model: modelPath, documents: r.documents, windows: r.windows }) + "\n");
    } else {
      process.stdout.write(`ppl ${r.ppl.toFixed(4)}  (mean NLL ${r.nll.toFixed(4)} nats/token over ${r.tokens} tokens, ${r.documents} documents, ${r.windows} windows; ${precision}, ${modelPath})\n`);
    }
    return 0;
  },
};
