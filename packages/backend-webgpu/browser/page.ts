/// <reference lib="dom" />
/**
 * The browser conformance page: starts the WebGPU backend on `navigator.gpu` (WGSL embedded by
 * `build.mjs`), runs `@qoq/oracle`'s conformance suite with the reference and the WebGPU backend
 * in the page (the GEMMs also without `dot4I8Packed`, the ops with subgroup code also with
 * subgroups off and with subgroups in every kernel), the exact-numerics probes of `test/numerics_cases.ts`, then planted bugs that
 * must be caught here too (an output with one bit flipped, a kernel launched one element too
 * wide, and, where the adapter has subgroups, a wrong shuffle partner in `subgroup_on.wgsl`'s
 * float butterfly, run on rmsnorm_quant), and publishes everything as
 * `window.__qoqResult` (see {@link PageResult}). Query parameters: `runs`, `seed`, `ops`
 * (comma-separated), `planted=0`, `numerics=0`, `verbose=1` (log every case with its time).
 */
import wgsl from "qoq:wgsl";
import { getSignature, OP_NAMES, type Backend, type NamedTensors, type OpName, type ParamValues } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { runConformance, type OpSummary } from "@qoq/oracle/browser";
import { createBrowserWebGpuBackend, SUBGROUP_OPS, type WebGpuBackend, type WebGpuInfo } from "../src/browser.js";
import { PROBE_GROUPS, runProbe, type ProbeOutcome } from "../test/numerics_cases.js";

/** One (op, backend) pair of the suite as the page reports it. */
export interface PageOpResult {
  readonly op: OpName;
  readonly backend: string;
  readonly status: OpSummary["status"];
  /** Cases executed (value and error cases). */
  readonly executed: number;
  /** Value cases compared with the reference. */
  readonly valueCases: number;
  readonly failed: number;
  readonly worstUlp: number;
  readonly worstAbs: number;
  readonly note?: string;
  readonly failures: readonly { readonly id: string; readonly message: string }[];
  /** Milliseconds of the runConformance call that produced this pair (shared by the pairs of one call). */
  readonly ms: number;
}

/** A planted bug and what the suite made of it. */
export interface PlantedResult {
  readonly name: string;
  readonly op: OpName;
  readonly status: OpSummary["status"];
  readonly failed: number;
  readonly firstFailure?: string;
}

/** One group of exact-numerics probes and its outcomes. */
export interface NumericsResult {
  readonly title: string;
  readonly outcomes: readonly ProbeOutcome[];
  readonly ms: number;
}

/** What the page publishes as `window.__qoqResult`. */
export interface PageResult {
  /** False when the page could not run the suite at all (then `error` says why). */
  readonly ok: boolean;
  readonly error?: string;
  readonly userAgent: string;
  readonly info?: WebGpuInfo;
  readonly runs: number;
  readonly seed: number;
  readonly ops: readonly PageOpResult[];
  readonly planted: readonly PlantedResult[];
  readonly numerics: readonly NumericsResult[];
  readonly totalMs: number;
}

declare global {
  interface Window {
    __qoqResult?: PageResult;
  }
}

const q = new URLSearchParams(location.search);
const RUNS = Number(q.get("runs") ?? "3");
const SEED = Number(q.get("seed") ?? "20261127");
const ONLY = q.get("ops")?.split(",").filter((s) => s !== "");
const PLANTED = q.get("planted") !== "0";
const NUMERICS = q.get("numerics") !== "0";
const VERBOSE = q.get("verbose") === "1";

let lastCase = performance.now();
/** `onProgress` of the runs: with `verbose=1`, one line per case with the milliseconds it took. */
function progress(done: number, total: number, label: string): void {
  const now = performance.now();
  if (VERBOSE) console.log(`  ${done}/${total} ${label} ${Math.round(now - lastCase)} ms`);
  lastCase = now;
}
/** The GEMMs, run a second time without `dot4I8Packed` (the portable shift-and-multiply fallback). */
const GEMMS: readonly OpName[] = ["gemm_w4a8_g128", "gemm_w4a8_chn", "gemm_w8a8"];

const logEl = document.getElementById("log");
const lines: string[] = [];
function log(line: string): void {
  lines.push(line);
  console.log(line);
  if (logEl) logEl.textContent = lines.join("\n");
}

function pageOp(s: OpSummary, ms: number): PageOpResult {
  return {
    op: s.op,
    backend: s.backend,
    status: s.status,
    executed: s.executed,
    valueCases: s.caseMaxUlp.length,
    failed: s.failed,
    worstUlp: s.worstUlp,
    worstAbs: s.worstAbs,
    ...(s.note !== undefined ? { note: s.note } : {}),
    failures: s.failures.map((f) => ({ id: f.id, message: f.message ?? "" })),
    ms,
  };
}

/** `inner` under another name (its guarded buffers still exposed to the runner). */
function renamed(inner: WebGpuBackend, name: string): Backend & { lastOutputBuffers: WebGpuBackend["lastOutputBuffers"] } {
  return {
    name,
    supports: (op: OpName, params: ParamValues) => inner.supports(op, params),
    run: (op: OpName, inputs: NamedTensors, params?: ParamValues) => inner.run(op, inputs, params),
    lastOutputBuffers: () => inner.lastOutputBuffers(),
    dispose: () => inner.dispose(),
  };
}

/** The WebGPU backend with the lowest bit of the first element of the first output flipped: a one-ULP (or one-code) error the comparison must catch. */
function flipOneBit(inner: WebGpuBackend): Backend {
  return {
    name: "webgpu-bitflip",
    supports: (op: OpName, params: ParamValues) => inner.supports(op, params),
    run: async (op: OpName, inputs: NamedTensors, params?: ParamValues) => {
      const out = await inner.run(op, inputs, params);
      const first = getSignature(op).outputs.map((o) => out[o.name]).find((t) => t !== undefined && t.data.length > 0);
      if (first !== undefined) {
        const d = first.data;
        new Uint8Array(d.buffer, d.byteOffset, d.byteLength)[0]! ^= 1; // little-endian: the lowest bit of element 0
      }
      return out;
    },
    dispose: () => Promise.resolve(),
  };
}

async function main(): Promise<PageResult> {
  const t0 = performance.now();
  const base = { userAgent: navigator.userAgent, runs: RUNS, seed: SEED };
  let gpu: WebGpuBackend;
  try {
    gpu = await createBrowserWebGpuBackend(wgsl);
  } catch (e) {
    return { ...base, ok: false, error: (e as Error).message, ops: [], planted: [], numerics: [], totalMs: performance.now() - t0 };
  }
  const info = gpu.info;
  log(`adapter: ${JSON.stringify(info.adapter)} dot4=${info.dot4} subgroups=${JSON.stringify(info.subgroupSizes ?? null)}`);
  const reference = createReferenceBackend();
  const wanted = OP_NAMES.filter((op) => (ONLY === undefined || ONLY.includes(op)) && gpu.supports(op, {}) === "supported");
  const ops: PageOpResult[] = [];
  const covered = new Set<OpName>();
  for (const op of wanted) {
    if (covered.has(op)) continue;
    // A filter is a substring of op names ("quant_kv4" also selects "dequant_kv4"): every pair
    // the call returns is kept once, so no op runs twice.
    const t = performance.now();
    const res = await runConformance({ backends: [reference, gpu], filter: op, runs: RUNS, seed: SEED, onProgress: progress });
    const ms = performance.now() - t;
    for (const s of res) {
      if (covered.has(s.op) || !wanted.includes(s.op)) continue;
      ops.push(pageOp(s, ms));
      log(`${s.op.padEnd(22)} ${s.backend.padEnd(10)} ${s.status.padEnd(5)} executed=${s.executed} failed=${s.failed} worstUlp=${s.worstUlp}`);
    }
    for (const s of res) if (wanted.includes(s.op)) covered.add(s.op);
    log(`  (${Math.round(ms)} ms)`);
  }
  const fallback = renamed(await createBrowserWebGpuBackend(wgsl, { dot4: false }), "webgpu-nodot4");
  for (const op of GEMMS.filter((o) => wanted.includes(o))) {
    const t = performance.now();
    const [s] = await runConformance({ backends: [fallback], filter: op, runs: RUNS, seed: SEED + 1, onProgress: progress });
    ops.push(pageOp(s!, performance.now() - t));
    log(`${s!.op.padEnd(22)} ${s!.backend.padEnd(10)} ${s!.status.padEnd(5)} executed=${s!.executed} failed=${s!.failed} worstUlp=${s!.worstUlp}`);
  }
  await fallback.dispose();
  const noSubgroups = renamed(await createBrowserWebGpuBackend(wgsl, { subgroups: "off" }), "webgpu-nosg");
  for (const op of SUBGROUP_OPS.filter((o) => wanted.includes(o))) {
    const t = performance.now();
    const [s] = await runConformance({ backends: [noSubgroups], filter: op, runs: RUNS, seed: SEED + 2, onProgress: progress });
    ops.push(pageOp(s!, performance.now() - t));
    log(`${s!.op.padEnd(22)} ${s!.backend.padEnd(10)} ${s!.status.padEnd(5)} executed=${s!.executed} failed=${s!.failed} worstUlp=${s!.worstUlp}`);
  }
  await noSubgroups.dispose();
  // The subgroup path also in the kernels whose plans opt out of it by default (GEMV, KV4 decode).
  const allSubgroups = renamed(await createBrowserWebGpuBackend(wgsl, { subgroups: "all" }), "webgpu-sgall");
  for (const op of SUBGROUP_OPS.filter((o) => wanted.includes(o))) {
    const t = performance.now();
    const [s] = await runConformance({ backends: [allSubgroups], filter: op, runs: RUNS, seed: SEED + 3, onProgress: progress });
    ops.push(pageOp(s!, performance.now() - t));
    log(`${s!.op.padEnd(22)} ${s!.backend.padEnd(10)} ${s!.status.padEnd(5)} executed=${s!.executed} failed=${s!.failed} worstUlp=${s!.worstUlp}`);
  }
  await allSubgroups.dispose();
  const numerics: NumericsResult[] = [];
  if (NUMERICS) {
    for (const g of PROBE_GROUPS) {
      const t = performance.now();
      const outcomes: ProbeOutcome[] = [];
      for (const c of g.checks(SEED)) outcomes.push(await runProbe(gpu, c));
      numerics.push({ title: g.title, outcomes, ms: performance.now() - t });
      log(`numerics: ${outcomes.map((o) => `${o.fn} ${o.differ}/${o.total} differ`).join(", ")} (${Math.round(performance.now() - t)} ms)${outcomes.flatMap((o) => o.misses).map((m) => `\n  ${m}`).join("")}`);
    }
  }
  const planted: PlantedResult[] = [];
  if (PLANTED) {
    const flipped = flipOneBit(gpu);
    for (const op of ["residual_add", "gemm_w4a8_g128"] as const) {
      const [s] = await runConformance({ backends: [flipped], filter: op, runs: 2, seed: SEED + 7 });
      planted.push({ name: "bitflip", op, status: s!.status, failed: s!.failed, ...(s!.failures[0] ? { firstFailure: `${s!.failures[0].id}: ${s!.failures[0].message}` } : {}) });
    }
    const overrun = await createBrowserWebGpuBackend(wgsl, { faults: { overrunOutput: ["residual_add"] } });
    const [s] = await runConformance({ backends: [overrun], filter: "residual_add", runs: 2, seed: SEED + 7 });
    planted.push({ name: "overrun", op: "residual_add", status: s!.status, failed: s!.failed, ...(s!.failures[0] ? { firstFailure: `${s!.failures[0].id}: ${s!.failures[0].message}` } : {}) });
    await overrun.dispose();
    if (info.subgroups) {
      // off ^ 1 pairs lane l with l ^ off ^ 1 in the float butterfly's shuffles: at off = 1 a lane adds itself.
      const on = wgsl["subgroup_on.wgsl"]!;
      const bad = on.replace("fn sg_xor_f32(v: f32, off: u32) -> f32 { return subgroupShuffleXor(v, off); }", "fn sg_xor_f32(v: f32, off: u32) -> f32 { return subgroupShuffleXor(v, off ^ 1u); }");
      const broken = await createBrowserWebGpuBackend({ ...wgsl, "subgroup_on.wgsl": bad });
      const [s] = await runConformance({ backends: [broken], filter: "rmsnorm_quant", runs: 2, seed: SEED + 7 });
      planted.push({ name: bad === on ? "subgroup-shuffle (not planted: text not found)" : "subgroup-shuffle", op: "rmsnorm_quant", status: s!.status, failed: s!.failed, ...(s!.failures[0] ? { firstFailure: `${s!.failures[0].id}: ${s!.failures[0].message}` } : {}) });
      await broken.dispose();
    }
    for (const p of planted) log(`planted ${p.name} on ${p.op}: ${p.status} (${p.failed} failed) ${p.firstFailure ?? ""}`);
  }
  await gpu.dispose();
  return { ...base, ok: true, info, ops, planted, numerics, totalMs: performance.now() - t0 };
}

main()
  .catch((e: unknown): PageResult => ({ ok: false, error: `page crashed: ${(e as Error).stack ?? String(e)}`, userAgent: navigator.userAgent, runs: RUNS, seed: SEED, ops: [], planted: [], numerics: [], totalMs: 0 }))
  .then((r) => {
    log(r.ok ? `done in ${Math.round(r.totalMs)} ms` : `error: ${r.error}`);
    window.__qoqResult = r;
  });
