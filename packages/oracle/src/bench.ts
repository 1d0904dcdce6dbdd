/**
 * `qoq bench`: timing of every op spec's benchmark cases on each backend — µs per run (median
 * of N timed runs after a warm-up), GB/s from the spec's `bytes(dims)`, and G-ops/s from its
 * `flops(dims)` (integer multiply-adds count as 2 ops, like floating-point ones).
 * @module
 */
import { bindInputs, getSignature, OP_NAMES, type Backend, type OpCase, type OpName } from "@qoq/core";
import { selectOps } from "./runner.js";
import { BENCH_CASES, type BenchShape } from "./specs/bench_cases.js";
import { OP_SPECS } from "./specs/index.js";

/** One timed (case, backend) pair; one JSON line of `qoq bench --json`. */
export interface BenchRecord {
  /** The op. */
  readonly op: OpName;
  /** Case id. */
  readonly id: string;
  /** Backend name. */
  readonly backend: string;
  /** Shape set. */
  readonly shape: BenchShape;
  /** Dims bound by the case's inputs. */
  readonly dims: Readonly<Record<string, number>>;
  /** `ok`, `unsupported`, or `error` (the run threw). */
  readonly status: "ok" | "unsupported" | "error";
  /** Why unsupported, or the error. */
  readonly note?: string;
  /** Median µs per run. */
  readonly us?: number;
  /** Fastest run in µs. */
  readonly usMin?: number;
  /** Timed runs. */
  readonly repeat: number;
  /** Bytes moved per run (spec). */
  readonly bytes: number;
  /** Arithmetic operations per run (spec). */
  readonly flops: number;
  /** bytes / median time, GB/s. */
  readonly gbps?: number;
  /** flops / median time, G-ops/s. */
  readonly gops?: number;
}

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Backends to time. */
  readonly backends: readonly Backend[];
  /** Op filter (substring of op names). */
  readonly filter?: string;
  /** Shape set; default `small`. */
  readonly shape?: BenchShape;
  /** Timed runs per case (after one warm-up); default 5. */
  readonly repeat?: number;
  /** Called after each record. */
  readonly onRecord?: (r: BenchRecord) => void;
}

/** The benchmark cases of one op for a shape set: the `llama` generator where there is one, else (for `small`) the first edge case. */
export function benchCasesOf(op: OpName, shape: BenchShape): OpCase[] {
  const gen = BENCH_CASES[op];
  if (shape === "llama") return gen ? gen("llama") : [];
  const own = gen?.("small") ?? [];
  return own.length > 0 ? own : OP_SPECS[op].edgeCases().slice(0, 1);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Time every selected op's bench cases on every backend. Ops without a case for the shape are left out. */
export async function runBench(opts: BenchOptions): Promise<BenchRecord[]> {
  const shape = opts.shape ?? "small";
  const repeat = Math.max(1, opts.repeat ?? 5);
  const out: BenchRecord[] = [];
  for (const op of selectOps(opts.filter).filter((o) => OP_NAMES.includes(o))) {
    const spec = OP_SPECS[op];
    for (const c of benchCasesOf(op, shape)) {
      const dims = bindInputs(getSignature(op), c.inputs);
      const bytes = spec.bytes(dims);
      const flops = spec.flops(dims);
      for (const backend of opts.backends) {
        const base = { op, id: c.id, backend: backend.name, shape, dims, repeat, bytes, flops };
        const support = backend.supports(op, c.params);
        let r: BenchRecord;
        if (support !== "supported") r = { ...base, status: "unsupported", note: support.unsupported };
        else {
          try {
            await backend.run(op, c.inputs, c.params); // warm-up
            const times: number[] = [];
            for (let i = 0; i < repeat; i++) {
              const t0 = performance.now();
              await backend.run(op, c.inputs, c.params);
              times.push((performance.now() - t0) * 1000);
            }
            const us = median(times);
            const sec = us / 1e6;
            r = { ...base, status: "ok", us, usMin: Math.min(...times), gbps: sec > 0 ? bytes / sec / 1e9 : 0, gops: sec > 0 ? flops / sec / 1e9 : 0 };
          } catch (e) {
            r = { ...base, status: "error", note: (e as Error).message };
          }
        }
        out.push(r);
        opts.onRecord?.(r);
      }
    }
  }
  return out;
}

function num(x: number | undefined, digits = 3): string {
  if (x === undefined) return "-";
  if (x === 0) return "0";
  return x >= 1000 ? x.toFixed(0) : String(Number(x.toPrecision(digits)));
}

/** Plain-text table of bench records: case, backend, µs, GB/s, GOP/s. */
export function benchTable(records: readonly BenchRecord[]): string {
  const rows = [["case", "backend", "µs (median)", "GB/s", "GOP/s"], ...records.map((r) => [r.id, r.backend, r.status === "ok" ? num(r.us) : r.status, r.status === "ok" ? num(r.gbps) : "-", r.status === "ok" ? num(r.gops) : "-"])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 2 ? " ".repeat(widths[i]! - [...c].length) + c : c + " ".repeat(widths[i]! - [...c].length))).join("  ").trimEnd();
  return [line(rows[0]!), widths.map((w) => "─".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
