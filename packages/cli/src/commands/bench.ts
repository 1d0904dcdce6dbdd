/**
 * `qoq bench`: µs per run, GB/s and G-ops/s of every op's bench cases per backend, as a table and
 * as JSON lines (one record per case and backend, with commit, device and date).
 * @module
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import type { Backend } from "@qoq/core";
import { BENCH_SHAPES, benchTable, runBench, type BenchShape } from "@qoq/oracle";
import { intOption, UsageError, type Command } from "../command.js";
import { openBackend } from "../backends.js";
import { cpuModel, currentCommit } from "../env_info.js";

/** `qoq bench …` */
export const benchCommand: Command = {
  usage: `qoq bench [--backend a,b] [--op FILTER] [--shape small|llama] [--repeat N] [--json PATH]
                                               time every op's bench cases: µs (median), GB/s, GOP/s; JSON lines`,
  async run(args) {
    const { values } = parseArgs({ args: [...args], options: { backend: { type: "string" }, op: { type: "string" }, shape: { type: "string" }, repeat: { type: "string" }, json: { type: "string" } } });
    const shape = (values.shape ?? "small") as BenchShape;
    if (!BENCH_SHAPES.includes(shape)) throw new UsageError(`--shape must be one of ${BENCH_SHAPES.join(", ")}, got '${values.shape}'`);
    const repeat = intOption(values.repeat, "repeat", 5);
    if (repeat < 1) throw new UsageError("--repeat must be at least 1");
    const backends: Backend[] = [];
    for (const name of (values.backend ?? "reference").split(",").map((s) => s.trim()).filter(Boolean)) {
      try {
        backends.push(await openBackend(name));
      } catch (e) {
        process.stderr.write(`qoq: backend '${name}' cannot start: ${(e as Error).message.split("\n")[0]}\n`);
      }
    }
    if (backends.length === 0) {
      process.stderr.write("qoq: no backend could start\n");
      return 1;
    }
    const commit = currentCommit();
    const date = new Date().toISOString();
    const deviceOf = (name: string) => (backends.find((b) => b.name === name) as { description?: string } | undefined)?.description ?? cpuModel();
    if (values.json) {
      mkdirSync(dirname(values.json), { recursive: true });
      writeFileSync(values.json, "");
    }
    let records;
    try {
      records = await runBench({
        backends,
        shape,
        repeat,
        ...(values.op !== undefined ? { filter: values.op } : {}),
        onRecord: (r) => {
          if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${r.backend} ${r.id}`.slice(0, (process.stderr.columns ?? 100) - 1));
          if (values.json) appendFileSync(values.json, JSON.stringify({ tool: "qoq bench", commit, device: deviceOf(r.backend), date, ...r }) + "\n");
        },
      });
    } finally {
      if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
      for (const b of backends) await b.dispose();
    }
    if (records.length === 0) {
      process.stderr.write(`qoq: no op has a '${shape}' bench case${values.op !== undefined ? ` matching '${values.op}'` : ""}\n`);
      return 2;
    }
    process.stdout.write(`${benchTable(records)}\n\n${records.length} record(s), shape ${shape}, median of ${repeat} after a warm-up · commit ${commit.slice(0, 12)} · ${cpuModel()} · ${date}\n`);
    return records.some((r) => r.status === "error") ? 1 : 0;
  },
};
