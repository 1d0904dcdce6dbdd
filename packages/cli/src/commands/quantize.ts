/**
 * `qoq quantize`: run the QoQ pipeline on an FP checkpoint and write a QoQ checkpoint
 * (docs/checkpoint.md), deterministic: the same model, calibration text and flags give the same
 * bytes.
 * @module
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { IoError, ParamError } from "@qoq/core";
import { checkpointInfo, saveQoqCheckpoint, type StepSelectionRecord } from "@qoq/quantize";
import { openBackend } from "../backends.js";
import { intOption, need, UsageError, type Command } from "../command.js";
import { loadModel, tokenizerFor } from "../models.js";
import { calibrationFrom, QOQ_ARG_OPTIONS, QOQ_USAGE, qoqOptionsFrom, runQoq, stageProgress } from "../quant_options.js";

/** `qoq quantize …` */
export const quantizeCommand: Command = {
  usage: `qoq quantize --model PATH|synthetic[:SEED] [--tokenizer PATH] --calib TEXT --out PATH [--variant g128|chn] [--group N] [--backend NAME]
                 ${QOQ_USAGE}
                                               the QoQ pipeline → a QoQ W4A8KV4 checkpoint (safetensors)`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        model: { type: "string" },
        tokenizer: { type: "string" },
        out: { type: "string" },
        variant: { type: "string" },
        group: { type: "string" },
        backend: { type: "string" },
        ...QOQ_ARG_OPTIONS,
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const modelPath = need(values.model, "--model");
    const out = need(values.out, "--out");
    const variant = values.variant ?? "g128";
    if (variant !== "g128" && variant !== "chn") throw new ParamError(`--variant must be g128 or chn, got '${variant}'`);
    if (values.group !== undefined && variant !== "g128") throw new ParamError("--group applies to --variant g128 only");
    const group = values.group !== undefined ? intOption(values.group, "group", 128) : undefined;
    const weights = loadModel(modelPath);
    const tok = tokenizerFor(values.tokenizer, weights);
    const { calib, select } = calibrationFrom(values, tok, weights);
    const backend = await openBackend(values.backend ?? "reference");
    const start = Date.now();
    const r = await runQoq(weights, calib, { ...qoqOptionsFrom(values, variant, group), backend, onProgress: stageProgress("quantize") }, select);
    const bytes = saveQoqCheckpoint(r.model, checkpointInfo(r.record));
    try {
      writeFileSync(out, bytes);
    } catch (e) {
      throw new IoError(`cannot write '${out}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const ran = Object.entries(r.record.steps)
      .filter(([, on]) => on)
      .map(([k]) => k);
    process.stdout.write(
      `wrote ${out}: ${bytes.length} bytes, sha256 ${createHash("sha256").update(bytes).digest("hex")}\n` +
        `  ${variant}${variant === "g128" ? ` group ${r.record.group}` : ""}; steps: ${ran.length > 0 ? ran.join(", ") : "none (RTN)"}; ` +
        `calibration ${calib.windows.length} × ${calib.windows[0]!.length} tokens (text sha256 ${calib.sha256.slice(0, 12)}…); ${((Date.now() - start) / 1000).toFixed(1)} s\n`,
    );
    if (select !== undefined) {
      const s = r.record.settings.selection as StepSelectionRecord;
      const kl = s.trials.map((t) => `${t.off.length > 0 ? `without ${t.off.join(", ")}` : "all"} ${t.kl.toExponential(3)}`);
      process.stdout.write(`  step selection (held-out KL from FP32): ${kl.join("; ")} → switched off: ${s.off.length > 0 ? s.off.join(", ") : "none"}\n`);
    }
    return 0;
  },
};
