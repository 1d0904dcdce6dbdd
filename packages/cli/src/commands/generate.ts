/**
 * `qoq generate`: text generation with a model (llama2.c .bin, HF directory, or the synthetic one).
 * @module
 */
import { parseArgs } from "node:util";
import { BOS_ID, generate } from "@qoq/model";
import { intOption, need, UsageError, type Command } from "../command.js";
import { isSyntheticPath, loadModel, modelOptions, openModel, tokenizerFor } from "../models.js";

/** A finite number option ≥ 0 with a default. */
function numOption(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a finite number ≥ 0, got '${v}'`);
  return n;
}

/** `qoq generate …` */
export const generateCommand: Command = {
  usage: `qoq generate --model PATH|synthetic[:SEED] [--tokenizer tok.bin] --max-tokens N [--temperature 0] [--seed S]
                    [--prompt TEXT] [--precision fp32|fp16|fp16-onnx|w4a8kv4|w4a8kv4-chn|w8a8] [--group N] [--backend NAME]
                                               generate from BOS (+ prompt); prints only the generated text
                                               (without --tokenizer: the token ids, space-separated)`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        model: { type: "string" },
        tokenizer: { type: "string" },
        "max-tokens": { type: "string" },
        temperature: { type: "string" },
        seed: { type: "string" },
        prompt: { type: "string" },
        precision: { type: "string" },
        backend: { type: "string" },
        group: { type: "string" },
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' for generate`);
    const modelPath = need(values.model, "--model");
    if (values.tokenizer === undefined && !isSyntheticPath(modelPath)) throw new UsageError("--tokenizer is required unless --model is synthetic");
    const maxTokens = intOption(need(values["max-tokens"], "--max-tokens"), "max-tokens", 0);
    const temperature = numOption(values.temperature, "temperature", 0);
    const seed = intOption(values.seed, "seed", 0);
    const weights = loadModel(modelPath);
    const tok = tokenizerFor(values.tokenizer, weights);
    const model = await openModel(weights, values.precision ?? "fp32", modelOptions(values));
    const prompt = [BOS_ID, ...(values.prompt ? tok.encode(values.prompt) : [])];
    const ids = values.tokenizer === undefined;
    // Stream: bytes of each piece as soon as it is known (a UTF-8 character may span pieces).
    let first = true;
    await generate(model, {
      prompt,
      maxTokens,
      temperature,
      seed,
      onToken: (t, prev) => {
        if (ids) process.stdout.write(`${first ? "" : " "}${t}`);
        else process.stdout.write(tok.decodePiece(prev, t));
        first = false;
      },
    });
    process.stdout.write("\n");
    return 0;
  },
};

