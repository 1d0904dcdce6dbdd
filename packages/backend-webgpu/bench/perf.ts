/**
 * WebGPU performance of the W4A8 kernels and KV4 decode attention, on whatever adapter Dawn finds
 * (the GPU machine: Dawn on NVIDIA Vulkan). One process measures, in order:
 *   1. the bandwidth ceiling: WGSL copy kernels over 256 MiB (bytes read + bytes written counted);
 *   2. the INT8 dot-product rate (dot4I8Packed in a register loop), to explain compute-bound cases;
 *   3. the packed W4A8 kernel (gemv_w4a8.wgsl) on Llama-3-8B layer shapes at M = 1 and 16
 *      (GB/s of the bytes it must read and write, % of the ceiling) and at M = 64, 256, 1024
 *      (TOP/s), every tile at M = 1 and 16, outputs checked bit for bit against the reference;
 *   4. KV4 decode attention (32 query heads, 8 KV heads, head_dim 128) at 1K, 4K and 32K context:
 *      the three-dispatch kernels (subgroups on and off) and the one-dispatch kernel, checked
 *      bit for bit against the reference;
 *   5. (`--ort DIR`, an unpacked onnxruntime-web package) the peer: onnxruntime-web's WebGPU
 *      MatMulNBits on the same shapes at M = 1 and 16 (bench/ort_peer.ts);
 *   6. (`--only …,conform`) the conformance suite on this adapter, subgroups on and off.
 * GEMV cases run with subgroups on and off (`--sg on,off`; only off without the feature).
 * Attention: `--ctx 1024,4096` picks the contexts, `--attn-variants split` leaves out the
 * one-dispatch kernel, `--no-attn-check` the comparison with the reference; `--conform-runs N`.
 * Timing: GPU timestamps around each dispatch (one compute pass per dispatch, Dawn's timestamp
 * quantization disabled), median of many; weights rotate over enough buffer copies that each
 * dispatch reads past the L2 cache. Prints a markdown table and writes JSON to `--json FILE`.
 *
 * Build: `esbuild bench/perf.ts --bundle --platform=node --format=esm --external:webgpu`
 * (scripts/perf-webgpu.sh does it and says how to run it on the device machine).
 */
import { writeFileSync } from "node:fs";
import { create, globals } from "webgpu";
import { bindInputs, getSignature, resolveParams, type NamedTensors, type Tensor } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { composeModule } from "../src/wgsl.js";
import { wgslFromDir } from "../src/kernels.js";
import { kv4DecodePlan, rowWords, words, type KernelPlan } from "../src/plans.js";
import { createWebGpuBackendOn } from "../src/portable.js";
import { runConformance } from "@qoq/oracle/browser";
import { gemvGrid, gemvPlan, GEMV_TILES, gemvTileFor, gemvTileName, type GemvTile } from "../src/gemv.js";
import { ortPeer } from "./ort_peer.js";

const STORAGE = 128;
const COPY_DST = 8;
const COPY_SRC = 4;
const UNIFORM = 64;
const MAP_READ = 1;
const QUERY_RESOLVE = 512;

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = args.includes("--quick");
const ITERS = Number(opt("--iters") ?? (QUICK ? 10 : 100));
const ROTATE_BYTES = Number(opt("--rotate-mib") ?? (QUICK ? 8 : 256)) * 2 ** 20;
const source = wgslFromDir(opt("--wgsl"));
/** Parts to run (`--only copy,copysame,dot4,gemv1,gemv16,large,attn,ort,strip`; default all but strip; `--tiles m1r2,…` limits the GEMV tiles; `ort` needs `--ort DIR`). */
const ONLY = new Set((opt("--only") ?? "copy,copysame,dot4,gemv1,gemv16,large,attn,ort").split(","));

const log = (s: string) => process.stdout.write(s + "\n");
const trace = (s: string) => { if (process.env.PERF_TRACE) process.stderr.write(`[trace] ${s}\n`); };
const results: Record<string, unknown>[] = [];
/** Writes the results so far to `--json FILE` (after every case, so a run cut short keeps them). */
const flushJson = (final = false) => {
  const path = opt("--json");
  if (path) writeFileSync(path, JSON.stringify({ date: new Date().toISOString(), complete: final, ceilingGBs: ceiling, results }, null, 1));
};

// ---------- device ----------
const gpu = create(process.env.PERF_DAWN_FLAGS !== undefined ? process.env.PERF_DAWN_FLAGS.split(" ").filter(Boolean) : ["disable-dawn-features=timestamp_quantization"]);
const adapter = (await gpu.requestAdapter({ powerPreference: "high-performance" }))!;
if (adapter === null) throw new Error("no WebGPU adapter");
const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
const langs = [...(gpu.wgslLanguageFeatures as ReadonlySet<string>)];
const dot4 = langs.includes("packed_4x8_integer_dot_product");
const features = [...(adapter.features as ReadonlySet<string>)].sort();
const hasTs = features.includes("timestamp-query");
const hasSg = features.includes("subgroups");
/** Subgroup modes to measure (`--sg on,off`); "on" needs the adapter's `subgroups` feature. */
const SG_MODES = (opt("--sg") ?? "on,off").split(",").filter((m) => m === "off" || hasSg).map((m) => m === "on");
const device = await adapter.requestDevice({
  requiredFeatures: [...(hasTs ? ["timestamp-query"] : []), ...(hasSg ? ["subgroups"] : [])] as GPUFeatureName[],
  requiredLimits: {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, 16),
  },
});
device.addEventListener("uncapturederror", (e) => log(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
log(`adapter: ${info.vendor} / ${info.architecture} / ${info.device} / ${info.description}; subgroups ${info.subgroupMinSize}-${info.subgroupMaxSize}; dot4I8Packed ${dot4}; timestamp-query ${hasTs}`);
log(`features: ${features.join(", ")}`);
results.push({ kind: "adapter", vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, dot4, timestamps: hasTs, features, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize });

function buf(size: number, usage: number, init?: ArrayBufferView): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage: usage | COPY_DST });
  if (init !== undefined) {
    const bytes = new Uint8Array(init.buffer, init.byteOffset, init.byteLength);
    // writeBuffer wants a multiple of 4 bytes.
    const padded = bytes.length % 4 === 0 ? bytes : (() => { const p = new Uint8Array(Math.ceil(bytes.length / 4) * 4); p.set(bytes); return p; })();
    device.queue.writeBuffer(b, 0, padded as Uint8Array<ArrayBuffer>);
  }
  return b;
}

async function pipelineOf(code: string, label: string): Promise<GPUComputePipeline> {
  trace(`compile ${label}`);
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code, label });
  const ci = await module.getCompilationInfo();
  for (const m of ci.messages) if (m.type === "error") throw new Error(`${label}: line ${m.lineNum}: ${m.message}`);
  const p = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" }, label });
  const err = await device.popErrorScope();
  if (err) throw new Error(`${label}: ${err.message}`);
  return p;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Seconds per dispatch: median of GPU timestamps around each dispatch (one pass per dispatch),
 * cycling through `groups`; also the wall time per dispatch of one submit of all of them.
 */
async function timeDispatch(pipeline: GPUComputePipeline, groups: GPUBindGroup[], grid: readonly [number, number], iters = ITERS): Promise<{ ts: number | undefined; wall: number; min: number | undefined }> {
  return timeRecorded((pass, i) => {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, groups[i % groups.length]!);
    pass.dispatchWorkgroups(grid[0], grid[1]);
  }, iters);
}

/** As timeDispatch, for whatever `record` puts into iteration i's compute pass (e.g. several dispatches). */
async function timeRecorded(record: (pass: GPUComputePassEncoder, i: number) => void, iters = ITERS): Promise<{ ts: number | undefined; wall: number; min: number | undefined }> {
  const run = async (n: number, timed: boolean) => {
    trace(`run ${n} timed=${timed}`);
    const qs = timed && hasTs ? device.createQuerySet({ type: "timestamp", count: 2 * n }) : undefined;
    const enc = device.createCommandEncoder();
    for (let i = 0; i < n; i++) {
      const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } } : {});
      record(pass, i);
      pass.end();
    }
    let rb: GPUBuffer | undefined;
    if (qs) {
      const res = device.createBuffer({ size: 16 * n, usage: QUERY_RESOLVE | COPY_SRC });
      rb = device.createBuffer({ size: 16 * n, usage: MAP_READ | COPY_DST });
      enc.resolveQuerySet(qs, 0, 2 * n, res, 0);
      enc.copyBufferToBuffer(res, 0, rb, 0, 16 * n);
    }
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    const wall = (performance.now() - t0) / 1e3 / n;
    let per: number[] | undefined;
    if (rb) {
      await rb.mapAsync(MAP_READ);
      const t = new BigUint64Array(rb.getMappedRange().slice(0));
      rb.unmap();
      per = [];
      for (let i = 0; i < n; i++) per.push(Number(t[2 * i + 1]! - t[2 * i]!) / 1e9);
    }
    return { wall, per };
  };
  await run(Math.min(10, iters), false); // warm-up
  const { per } = await run(iters, true);
  const { wall } = await run(iters, false);
  return { ts: per ? median(per) : undefined, min: per ? Math.min(...per) : undefined, wall };
}

/**
 * Seconds per dispatch back to back: `n` dispatches in one compute pass (timestamps at its start
 * and end), cycling through `groups` (which should not share an output, so no barrier orders them).
 */
async function timeBatched(pipeline: GPUComputePipeline, groups: GPUBindGroup[], grid: readonly [number, number], n = ITERS): Promise<number | undefined> {
  if (!hasTs) return undefined;
  const per: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const qs = device.createQuerySet({ type: "timestamp", count: 2 });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    pass.setPipeline(pipeline);
    for (let i = 0; i < n; i++) {
      pass.setBindGroup(0, groups[i % groups.length]!);
      pass.dispatchWorkgroups(grid[0], grid[1]);
    }
    pass.end();
    const res = device.createBuffer({ size: 16, usage: QUERY_RESOLVE | COPY_SRC });
    const rb = device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST });
    enc.resolveQuerySet(qs, 0, 2, res, 0);
    enc.copyBufferToBuffer(res, 0, rb, 0, 16);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(MAP_READ);
    const t = new BigUint64Array(rb.getMappedRange().slice(0));
    rb.unmap();
    per.push(Number(t[1]! - t[0]!) / 1e9 / n);
  }
  return median(per);
}

const secs = (t: { ts: number | undefined; wall: number }) => t.ts ?? t.wall;
const fmtUs = (s: number | undefined) => (s === undefined ? "-" : (s * 1e6).toFixed(1));

// ---------- 1. copy ceiling ----------
const COPY_WGSL = (per: number) => `
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = arrayLength(&src);
  let wg = wid.x + wid.y * nw.x;
  let base = wg * ${256 * per}u + lid;
  for (var i = 0u; i < ${per}u; i++) { let j = base + i * 256u; if (j < n) { dst[j] = src[j]; } }
}`;
const copyBytes = Math.min(256 * 2 ** 20, Math.floor(adapter.limits.maxStorageBufferBindingSize / 16) * 16, QUICK ? 16 * 2 ** 20 : Infinity);
let ceiling = Number(opt("--ceiling") ?? 0);
if (ONLY.has("copy")) {
  const words = new Uint32Array(copyBytes / 4);
  for (let i = 0; i < words.length; i++) words[i] = (i * 2654435761) >>> 0;
  const src = buf(copyBytes, STORAGE | COPY_SRC, words);
  const dst = buf(copyBytes, STORAGE | COPY_SRC);
  for (const per of [1, 4, 8]) {
    const p = await pipelineOf(COPY_WGSL(per), `copy${per}`);
    const groups = Math.ceil(copyBytes / 16 / (256 * per));
    const grid: [number, number] = [Math.min(groups, 65535), Math.ceil(groups / 65535)];
    const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
    const t = await timeDispatch(p, [bg], grid, Math.min(ITERS, 50));
    const tb = await timeBatched(p, [bg], grid, 20);
    if (tb !== undefined) log(`  back to back (20 in one pass): ${fmtUs(tb)} µs = ${((2 * copyBytes) / tb / 1e9).toFixed(0)} GB/s read+write`);
    results.push({ kind: "copyBatched", vec4PerInvocation: per, batch: tb });
    const gbs = (2 * copyBytes) / secs(t) / 1e9;
    ceiling = Math.max(ceiling, gbs);
    log(`copy kernel (${per} vec4/invocation, ${copyBytes / 2 ** 20} MiB → ${copyBytes / 2 ** 20} MiB): ${fmtUs(t.ts)} µs (wall ${fmtUs(t.wall)} µs) = ${gbs.toFixed(0)} GB/s read+write`);
    results.push({ kind: "copy", vec4PerInvocation: per, bytes: 2 * copyBytes, ts: t.ts, wall: t.wall, gbs });
  }
  // The driver's own copy (vkCmdCopyBuffer), wall clock over 20 copies in one submit.
  const enc = device.createCommandEncoder();
  for (let i = 0; i < 20; i++) enc.copyBufferToBuffer(src, 0, dst, 0, copyBytes);
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  const wall = (performance.now() - t0) / 1e3 / 20;
  log(`copyBufferToBuffer (wall, 20 in one submit): ${(wall * 1e6).toFixed(1)} µs = ${((2 * copyBytes) / wall / 1e9).toFixed(0)} GB/s read+write`);
  results.push({ kind: "copyBufferToBuffer", bytes: 2 * copyBytes, wall, gbs: (2 * copyBytes) / wall / 1e9 });
  src.destroy();
  dst.destroy();
}
log(`ceiling (best copy kernel): ${ceiling.toFixed(0)} GB/s`);

// ---------- 2. dot4I8Packed rate, and the cost of an empty dispatch ----------
if (ONLY.has("dot4")) {
  const body = [...Array(8).keys()].map((j) => `    s${j} = s${j} + ${dot4 ? `dot4I8Packed(a${j}, a${(j + 1) % 8} ^ i)` : `i32(a${j} * (a${(j + 1) % 8} ^ i))`};`).join("\n");
  const code = `${dot4 ? "requires packed_4x8_integer_dot_product;\n" : ""}
@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let a0 = gid.x; let a1 = gid.x ^ 0x01020304u; let a2 = gid.x * 3u; let a3 = gid.x + 7u;
  let a4 = gid.x * 5u; let a5 = gid.x ^ 0x7f7f7f7fu; let a6 = gid.x + 11u; let a7 = gid.x * 9u;
  var s0 = 0; var s1 = 0; var s2 = 0; var s3 = 0; var s4 = 0; var s5 = 0; var s6 = 0; var s7 = 0;
  for (var i = 0u; i < 1024u; i++) {
${body}
  }
  out[gid.x] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}`;
  const p = await pipelineOf(code, "dot4rate");
  const threads = 256 * 4096;
  const o = buf(threads * 4, STORAGE);
  const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: o } }] });
  const t = await timeDispatch(p, [bg], [4096, 1], Math.min(ITERS, 20));
  const rate = (threads * 1024 * 8) / secs(t);
  log(`dot4I8Packed rate: ${(rate / 1e12).toFixed(2)} T dot4/s (${((rate * 8) / 1e12).toFixed(1)} TOP/s counting 4 multiplies + 4 adds each)`);
  results.push({ kind: "dot4rate", ts: t.ts, wall: t.wall, dot4PerSecond: rate });
  const e = await pipelineOf("@group(0) @binding(0) var<storage, read_write> out: array<i32>;\n@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) gid: vec3<u32>) { if (gid.x == 0xffffffffu) { out[0] = 1; } }", "empty");
  const ebg = device.createBindGroup({ layout: e.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: o } }] });
  const te = await timeDispatch(e, [ebg], [132, 1]);
  log(`empty dispatch (132 workgroups): ${fmtUs(te.ts)} µs GPU timestamps, ${fmtUs(te.wall)} µs wall per dispatch`);
  results.push({ kind: "empty", ts: te.ts, wall: te.wall });
  o.destroy();
}

// ---------- 3. W4A8 GEMV / GEMM ----------
class Rng32 {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0 || 1; }
  u32(): number { let x = this.s; x ^= x << 13; x ^= x >>> 17; x ^= x << 5; this.s = x >>> 0; return this.s; }
}
function f16Vec(rng: Rng32, n: number): Tensor {
  const d = new Uint16Array(n);
  // Positive normal binary16 values in [2^-10, 2^-6).
  for (let i = 0; i < n; i++) d[i] = ((5 + (rng.u32() % 4)) << 10) | (rng.u32() & 1023);
  return { dtype: "f16", shape: [n], data: d };
}
function gemmInputs(op: "gemm_w4a8_g128" | "gemm_w4a8_chn", m: number, n: number, k: number, seed: number): NamedTensors {
  const rng = new Rng32(seed);
  const xq = new Int8Array(m * k);
  for (let i = 0; i < xq.length; i++) xq[i] = (rng.u32() % 255) - 127;
  const q = new Uint8Array(n * k);
  for (let i = 0; i < q.length; i += 4) { const w = rng.u32(); q[i] = w & 15; q[i + 1] = (w >>> 8) & 15; q[i + 2] = (w >>> 16) & 15; q[i + 3] = (w >>> 24) & 15; }
  const xscale = f16Vec(rng, m);
  if (op === "gemm_w4a8_chn") {
    const xqsum = new Int32Array(m);
    for (let r = 0; r < m; r++) for (let i = 0; i < k; i++) xqsum[r]! += xq[r * k + i]!;
    const zero = new Uint8Array(n);
    for (let i = 0; i < n; i++) zero[i] = rng.u32() % 16;
    return { xq: { dtype: "i8", shape: [m, k], data: xq }, xscale, xqsum: { dtype: "i32", shape: [m], data: xqsum }, q: { dtype: "u8", shape: [n, k], data: q }, zero: { dtype: "u8", shape: [n], data: zero }, scale: f16Vec(rng, n) };
  }
  const g = k / 128;
  const zero = new Uint8Array(n * g).fill(8);
  const s2 = new Uint8Array(n * g);
  for (let i = 0; i < s2.length; i++) s2[i] = 1 + (rng.u32() % 8); // (q − 8)·s2 ∈ [−64, 56]
  return { xq: { dtype: "i8", shape: [m, k], data: xq }, xscale, q: { dtype: "u8", shape: [n, k], data: q }, zero: { dtype: "u8", shape: [n, g], data: zero }, s2: { dtype: "u8", shape: [n, g], data: s2 }, s1: f16Vec(rng, n) };
}

const GW_BYTES = 64;
const pipes = new Map<string, GPUComputePipeline>();
async function planPipeline(plan: { readonly kernel: string; readonly includes: readonly string[] }, sg = false, strip: readonly Strip[] = []): Promise<GPUComputePipeline> {
  const key = [plan.kernel, ...plan.includes, sg ? "sg" : "nosg", ...strip].join("+");
  let p = pipes.get(key);
  if (!p) {
    p = await pipelineOf(stripped(composeModule(plan.kernel, plan.includes, dot4, source, sg), strip), key);
    pipes.set(key, p);
  }
  return p;
}

/**
 * Parts of the GEMV kernel that `--only strip` removes, one at a time and together, to split its
 * time (the outputs are then wrong, and not checked): `epilogue` (the exact integer→binary16
 * path; the scale loads stay), `reduce` (the workgroup-memory and subgroup reduction: the first
 * lanes write their own partial sums), `dot` (dot4I8Packed becomes an xor), `empty` (main returns
 * at once, behind a uniform the compiler cannot see through: the dispatch alone).
 */
type Strip = "epilogue" | "reduce" | "dot" | "empty";
function replaceFn(code: string, name: string, def: string): string {
  const at = code.indexOf(`fn ${name}(`);
  if (at < 0) throw new Error(`strip: no fn ${name}`);
  // A one-line function ends with its line; a longer one at the first "}" starting a line.
  const eol = code.indexOf("\n", at);
  const line = code.slice(at, eol);
  const end = line.split("{").length === line.split("}").length ? eol : code.indexOf("\n}", at) + 2;
  return code.slice(0, at) + def + code.slice(end);
}
function stripped(code: string, strip: readonly Strip[]): string {
  let c = code;
  if (strip.includes("epilogue")) c = replaceFn(c, "epilogue", "fn epilogue(acc: i32, swb: u32, sxb: u32) -> u32 { return bitcast<u32>(acc) ^ swb ^ sxb; }");
  if (strip.includes("dot")) c = replaceFn(c, "dot4", "fn dot4(a: u32, b: u32) -> i32 { return bitcast<i32>(a ^ b); }");
  if (strip.includes("reduce")) {
    const own = (tpr: string) => `{ let lane = lid % ${tpr}; if (lane < ob) { let oi = b + lane; let m = m0 + oi / r; let n = n0 + oi % r; if (m < P.n0 && n < P.n1) { Y[GW + m * P.n1 + n] = epilogue(red[lane * WG + lid], h16(WS[n >> 1u], n), h16(XS[m >> 1u], m)); } } }`;
    c = replaceFn(c, "reduce_tree", `fn reduce_tree(b: u32, ob: u32, r: u32, tpr: u32, lid: u32, n0: u32, m0: u32, w: u32) ${own("tpr")}`);
    c = replaceFn(c, "reduce_write", `fn reduce_write(b: u32, ob: u32, r: u32, lid: u32, n0: u32, m0: u32, w: u32) ${own("TPR")}`);
  }
  if (strip.includes("empty")) c = c.replace(/(fn main\([^)]*\)[^{]*\{)/, "$1\n  if (P.zero == 0u) { return; }");
  return c;
}

/** Buffers of a plan; `copies` sets of its inputs (input `rotate` indices get distinct buffers per set). */
function planBuffers(plan: KernelPlan, pipeline: GPUComputePipeline, copies: number) {
  const params = new Uint32Array(8);
  plan.params.forEach((v, i) => (params[1 + i] = v >>> 0));
  const uni = buf(32, UNIFORM, params);
  const scratch = plan.scratch !== undefined ? buf(plan.scratch * 4, STORAGE) : undefined;
  const sets: GPUBuffer[][] = [];
  const outSets: GPUBuffer[][] = [];
  for (let c = 0; c < copies; c++) {
    sets.push(plan.inputs.map((w) => buf(w.byteLength, STORAGE, w)));
    outSets.push(plan.outputs.map((o) => buf(o.shape.reduce((a, b) => a * b, 1) * 4 + 2 * GW_BYTES, STORAGE | COPY_SRC)));
  }
  const outs = outSets[0]!;
  const entrySets = sets.map((ins, c): GPUBindGroupEntry[] => [
    { binding: 0, resource: { buffer: uni } },
    ...ins.map((b, i) => ({ binding: 1 + i, resource: { buffer: b } })),
    ...outSets[c]!.map((b, i) => ({ binding: 1 + ins.length + i, resource: { buffer: b } })),
    ...(scratch ? [{ binding: 1 + ins.length + outs.length, resource: { buffer: scratch } }] : []),
  ]);
  // A multi-dispatch plan binds a subset per dispatch: its caller makes the bind groups from `entries`.
  const groups = plan.passes !== undefined ? [] : entrySets.map((entries) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
  const destroy = () => { for (const b of [uni, ...(scratch ? [scratch] : []), ...sets.flat(), ...outSets.flat()]) b.destroy(); };
  return { groups, outs, destroy, entries: entrySets[0]! };
}

async function readOut(b: GPUBuffer, count: number): Promise<Uint32Array> {
  const size = count * 4;
  const rb = device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage: MAP_READ | COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(b, GW_BYTES, rb, 0, Math.ceil(size / 4) * 4);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(MAP_READ);
  const w = new Uint32Array(rb.getMappedRange().slice(0, size));
  rb.unmap();
  rb.destroy();
  return w;
}

function gemvBytes(op: string, m: number, n: number, k: number): number {
  const kp = Math.ceil(k / 32) * 32;
  const groups = op === "gemm_w4a8_g128" ? k / 128 : 1;
  // Packed weights + 16-bit zero/s2 per group + fp16 weight scales + INT8 activations + fp16 token
  // scales + the output as the kernel writes it (one 32-bit word per element).
  return (n * kp) / 2 + 2 * n * groups + 2 * n + m * kp + 2 * m + 4 * m * n;
}

const SHAPES: [string, number, number][] = QUICK
  ? [["qkv", 768, 512], ["down", 512, 1792]]
  : [["qkv_proj", 6144, 4096], ["o_proj", 4096, 4096], ["gate_up_proj", 28672, 4096], ["down_proj", 4096, 14336]];

const inputCache = new Map<string, { inputs: NamedTensors; want?: Uint16Array; packed?: KernelPlan }>();
function cachedInputs(op: "gemm_w4a8_g128" | "gemm_w4a8_chn", m: number, n: number, k: number) {
  const key = `${op}:${m}:${n}:${k}`;
  let e = inputCache.get(key);
  if (!e) {
    inputCache.clear();
    e = { inputs: gemmInputs(op, m, n, k, 0x9e3779b9 ^ (m * 131 + n * 7 + k)) };
    inputCache.set(key, e);
  }
  return e;
}

/** The correctness-first byte-per-code g128 kernel's plan (what the backend used before the packed one). */
function bytePlan(inputs: NamedTensors, m: number, n: number, k: number): KernelPlan {
  const g = k / 128;
  const x = rowWords(inputs.xq!.data as Int8Array, m, k);
  const w = rowWords(inputs.q!.data as Uint8Array, n, k);
  const zs = new Uint32Array(n * g);
  const z = inputs.zero!.data as Uint8Array;
  const s2 = inputs.s2!.data as Uint8Array;
  for (let i = 0; i < n * g; i++) zs[i] = z[i]! | (s2[i]! << 8);
  return { kernel: "gemm_w4a8_g128.wgsl", includes: ["epilogue.wgsl"], inputs: [x.words, words(inputs.xscale!), w.words, zs, words(inputs.s1!)], outputs: [{ name: "y", dtype: "f16", shape: [m, n] }], params: [m, n, x.kw, k, 128, g], grid: [Math.ceil(n / 64), m] };
}

async function gemv(op: "gemm_w4a8_g128" | "gemm_w4a8_chn", label: string, m: number, n: number, k: number, tile: GemvTile | "bytes", check: boolean, sg = SG_MODES[0] ?? false, strip: readonly Strip[] = []) {
  const cached = cachedInputs(op, m, n, k);
  const inputs = cached.inputs;
  const dims = { M: m, N: n, K: k, G: op === "gemm_w4a8_g128" ? k / 128 : 1 };
  // Packed inputs do not depend on the tile: pack once per case, then swap the entry point and grid.
  let plan: KernelPlan;
  if (tile === "bytes") plan = bytePlan(inputs, m, n, k);
  else {
    cached.packed ??= gemvPlan(op, inputs, dims, tile)!;
    plan = { ...cached.packed, includes: ["epilogue.wgsl", `gemv_tile_${gemvTileName(tile)}.wgsl`], grid: gemvGrid(tile, m, n) };
  }
  const tileName = (tile === "bytes" ? "byte-per-code" : gemvTileName(tile)) + (sg ? " sg" : "") + strip.map((x) => ` −${x}`).join("");
  const pipeline = await planPipeline(plan, sg, strip);
  const wbytes = plan.inputs[2]!.byteLength;
  const copies = Math.max(1, Math.min(16, Math.ceil(ROTATE_BYTES / wbytes)));
  const { groups, outs, destroy } = planBuffers(plan, pipeline, copies);
  let exact: boolean | undefined;
  if (check && strip.length === 0) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, groups[0]!);
    pass.dispatchWorkgroups(plan.grid[0], plan.grid[1]);
    pass.end();
    device.queue.submit([enc.finish()]);
    const got = await readOut(outs[0]!, m * n);
    cached.want ??= runReference(op, inputs).y!.data as Uint16Array;
    const want = cached.want;
    exact = want.every((v, i) => v === (got[i]! & 0xffff));
  }
  const t = await timeDispatch(pipeline, groups, plan.grid, tile === "bytes" ? Math.min(ITERS, 10) : ITERS);
  const tb = tile === "bytes" ? undefined : await timeBatched(pipeline, groups, plan.grid);
  destroy();
  const s = secs(t);
  const bytes = gemvBytes(op, m, n, k);
  const gbs = bytes / s / 1e9;
  const tops = (2 * m * n * k) / s / 1e12;
  const gbsBatch = tb === undefined ? undefined : bytes / tb / 1e9;
  const row = { kind: "gemm", op, shape: label, m, n, k, tile: tileName, strip, subgroups: sg, copies, ts: t.ts, tsMin: t.min, wall: t.wall, batch: tb, bytes, gbs, pctCeiling: (100 * gbs) / ceiling, gbsBatch, pctCeilingBatch: gbsBatch === undefined ? undefined : (100 * gbsBatch) / ceiling, tops, exact };
  results.push(row);
  flushJson();
  log(`| ${op} | ${label} ${n}×${k} | ${m} | ${tileName} | ${fmtUs(t.ts)} | ${fmtUs(t.wall)} | ${gbs.toFixed(0)} | ${row.pctCeiling.toFixed(1)}% | ${fmtUs(tb)} | ${gbsBatch === undefined ? "-" : `${gbsBatch.toFixed(0)} (${row.pctCeilingBatch!.toFixed(1)}%)`} | ${tops.toFixed(2)} | ${exact === undefined ? "" : exact ? "exact" : "MISMATCH"} |`);
}

/**
 * The copy kernel (4 vec4 per invocation) moving as many bytes as one GEMV case (half read, half
 * written), sources rotating past L2 like the GEMV weights: the floor a kernel of that size meets.
 */
async function copySame(label: string, bytes: number) {
  const half = Math.max(16, Math.floor(bytes / 2 / 16) * 16);
  const p = await pipelineOf(COPY_WGSL(4), "copy4");
  const copies = Math.max(1, Math.min(16, Math.ceil(ROTATE_BYTES / half)));
  const srcs = [...Array(copies).keys()].map(() => buf(half, STORAGE));
  const dsts = [...Array(copies).keys()].map(() => buf(half, STORAGE));
  const groups = srcs.map((src, c) => device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dsts[c]! } }] }));
  const wg = Math.ceil(half / 16 / 1024);
  const grid: [number, number] = [Math.min(wg, 65535), Math.ceil(wg / 65535)];
  const t = await timeDispatch(p, groups, grid);
  const tb = await timeBatched(p, groups, grid);
  for (const b of [...srcs, ...dsts]) b.destroy();
  const row = { kind: "copySame", shape: label, bytes: 2 * half, ts: t.ts, wall: t.wall, batch: tb, gbs: (2 * half) / secs(t) / 1e9, gbsBatch: tb === undefined ? undefined : (2 * half) / tb / 1e9 };
  results.push(row);
  flushJson();
  log(`copy of the same bytes as ${label} M = 1 (${(2 * half / 1e6).toFixed(1)} MB): ${fmtUs(t.ts)} µs = ${row.gbs.toFixed(0)} GB/s (${((100 * row.gbs) / ceiling).toFixed(1)}% of ceiling); back to back ${fmtUs(tb)} µs = ${row.gbsBatch?.toFixed(0)} GB/s`);
}
if (ONLY.has("copysame")) for (const [label, n, k] of SHAPES) await copySame(label, gemvBytes("gemm_w4a8_g128", 1, n, k));

log("\n| op | shape N×K | M | tile | µs (GPU ts, median) | µs (wall/dispatch) | GB/s | % of copy ceiling | µs back to back | GB/s back to back (% of ceiling) | TOP/s | vs reference |");
log("|---|---|---|---|---|---|---|---|---|---|---|---|");
// g128 at M = 1 then 16 (every tile), larger M, then per-channel weights (the backend's tile only):
// the order of importance, so a run cut short keeps what matters most.
const gemvCase = async (op: "gemm_w4a8_g128" | "gemm_w4a8_chn", label: string, n: number, k: number, m: number) => {
  const only = opt("--tiles")?.split(",");
  const tiles = op === "gemm_w4a8_g128" ? GEMV_TILES.filter((t) => (m === 1 ? t.mt === 1 : t.mt === 16 || t.mt === 8) && (only === undefined || only.includes(gemvTileName(t)))) : [gemvTileFor(m)];
  for (const tile of tiles) for (const sg of SG_MODES) await gemv(op, label, m, n, k, tile, m === 1 || op === "gemm_w4a8_g128" || label === SHAPES[1]![0], sg);
  if (op === "gemm_w4a8_g128" && label === SHAPES[1]![0] && !args.includes("--no-bytes")) await gemv(op, label, m, n, k, "bytes", true);
};
for (const m of [1, 16].filter((x) => ONLY.has(`gemv${x}`))) for (const [label, n, k] of SHAPES) await gemvCase("gemm_w4a8_g128", label, n, k, m);
for (const [label, n, k] of SHAPES) {
  for (const m of !ONLY.has("large") ? [] : QUICK ? [64] : [64, 256, 1024]) await gemv("gemm_w4a8_g128", label, m, n, k, gemvTileFor(m), m === 64 && label === SHAPES[1]![0]);
}
if (!args.includes("--no-chn")) for (const m of [1, 16].filter((x) => ONLY.has(`gemv${x}`))) for (const [label, n, k] of SHAPES) await gemvCase("gemm_w4a8_chn", label, n, k, m);
if (ONLY.has("strip")) {
  // The backend's M = 1 tile with parts removed (see Strip), then everything but the loads, then nothing.
  const variants: Strip[][] = [[], ["epilogue"], ["reduce"], ["dot"], ["epilogue", "reduce", "dot"], ["empty"]];
  for (const [label, n, k] of SHAPES) for (const v of variants) await gemv("gemm_w4a8_g128", label, 1, n, k, gemvTileFor(1), v.length === 0, false, v);
}

// ---------- 4. KV4 decode attention ----------
function decodeInputs(ctx: number): NamedTensors {
  const rng = new Rng32(0xdec0de + ctx);
  const [hq, hkv, d, page] = [32, 8, 128, 64];
  const pages = Math.ceil(ctx / page);
  const rows = pages * hkv * page;
  const order = Array.from({ length: pages }, (_, i) => i);
  for (let i = pages - 1; i > 0; i--) { const j = rng.u32() % (i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
  const codes = () => { const a = new Uint8Array(rows * d); for (let i = 0; i < a.length; i++) a[i] = rng.u32() & 15; return { dtype: "u8", shape: [pages, hkv, page, d], data: a } as Tensor; };
  const f16r = (hi: number) => { const a = new Uint16Array(rows); for (let i = 0; i < rows; i++) a[i] = (hi << 10) | (rng.u32() & 1023); return { dtype: "f16", shape: [pages, hkv, page], data: a } as Tensor; };
  const vec = (h: number) => { const a = new Uint16Array(h * d); for (let i = 0; i < a.length; i++) a[i] = (((rng.u32() & 1) << 15) | ((12 + (rng.u32() % 3)) << 10) | (rng.u32() & 1023)); return { dtype: "f16", shape: [1, h, d], data: a } as Tensor; };
  return {
    q: vec(hq), k: vec(hkv), v: vec(hkv),
    k_cache: codes(), k_scale: f16r(11), k_min: f16r(0x2f), v_cache: codes(), v_scale: f16r(11), v_min: f16r(0x2f),
    block_table: { dtype: "i32", shape: [1, pages], data: new Int32Array(order) },
    ctx_len: { dtype: "i32", shape: [1], data: new Int32Array([ctx]) },
  };
}
log("\n| attention_kv4_decode | context | kernel | µs (GPU ts, median) | µs (wall) | GB/s (4-bit codes counted) | GB/s (bytes of the uploaded layout) | % of ceiling (4-bit) | vs reference |");
log("|---|---|---|---|---|---|---|---|---|");
const CTXS = opt("--ctx")?.split(",").map(Number) ?? (QUICK ? [256] : [1024, 4096, 32768]);
for (const ctx of !ONLY.has("attn") ? [] : CTXS) {
  const op = "attention_kv4_decode";
  const inputs = decodeInputs(ctx);
  const dims = bindInputs(getSignature(op), inputs);
  let want: Uint16Array | undefined;
  // `--attn-variants split` leaves out the one-dispatch kernel (82 ms at 32K on an H100).
  const only = (opt("--attn-variants") ?? "split,single").split(",");
  const variants: ["split" | "single", boolean][] = [...SG_MODES.map((sg): ["split", boolean] => ["split", sg]), ["single", false] as ["single", boolean]].filter(([v]) => only.includes(v));
  for (const [variant, sg] of variants) {
    const plan = kv4DecodePlan(inputs, dims, variant);
    const passes = plan.passes ?? [{ kernel: plan.kernel, includes: plan.includes, grid: plan.grid, bindings: undefined }];
    const pipelines = await Promise.all(passes.map((p) => planPipeline(p, sg)));
    const { outs, destroy, entries } = planBuffers(plan, pipelines[0]!, 1);
    const groups = passes.map((p, i) => device.createBindGroup({ layout: pipelines[i]!.getBindGroupLayout(0), entries: p.bindings === undefined ? entries : entries.filter((e) => e.binding === 0 || p.bindings!.includes(e.binding)) }));
    const record = (pass: GPUComputePassEncoder) => passes.forEach((p, i) => { pass.setPipeline(pipelines[i]!); pass.setBindGroup(0, groups[i]!); pass.dispatchWorkgroups(p.grid[0], p.grid[1]); });
    let exact: boolean | undefined;
    if (!args.includes("--no-attn-check")) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      record(pass);
      pass.end();
      device.queue.submit([enc.finish()]);
      const got = await readOut(outs[0]!, 32 * 128);
      want ??= runReference(op, inputs).o!.data as Uint16Array;
      exact = want.every((v, i) => v === (got[i]! & 0xffff));
    }
    const t = await timeRecorded(record, variant === "single" ? Math.min(ITERS, ctx > 8192 ? 5 : 20) : ITERS);
    // Each dispatch of a multi-dispatch plan alone (its own compute pass, over the scratch the full runs left).
    const perPass: number[] = [];
    if (passes.length > 1) {
      for (let i = 0; i < passes.length; i++) {
        const tp = await timeRecorded((pass) => { pass.setPipeline(pipelines[i]!); pass.setBindGroup(0, groups[i]!); pass.dispatchWorkgroups(passes[i]!.grid[0], passes[i]!.grid[1]); }, Math.min(ITERS, 50));
        perPass.push(secs(tp));
      }
    }
    destroy();
    const s = secs(t);
    const [hq, hkv, d] = [32, 8, 128];
    // Past keys and values: 4-bit codes + fp16 scale and min per token and KV head; q, new k/v, o.
    const bytes4 = 2 * ctx * hkv * (d / 2 + 4) + 2 * (hq * d * 2) + 2 * hkv * d * 2;
    const bytesLayout = plan.inputs.reduce((a, w) => a + w.byteLength, 0) + hq * d * 4;
    const name = variant === "single" ? plan.kernel : `3 dispatches${sg ? " sg" : ""}`;
    const row = { kind: "attention_kv4_decode", ctx, variant, subgroups: sg, perPass, ts: t.ts, wall: t.wall, bytes4, bytesLayout, gbs4: bytes4 / s / 1e9, gbsLayout: bytesLayout / s / 1e9, pctCeiling: (100 * bytes4) / s / 1e9 / ceiling, kernel: name, exact };
    results.push(row);
    flushJson();
    log(`| ${op} | ${ctx} | ${name}${perPass.length ? ` (${perPass.map((x) => fmtUs(x)).join(" + ")})` : ""} | ${fmtUs(t.ts)} | ${fmtUs(t.wall)} | ${row.gbs4.toFixed(1)} | ${row.gbsLayout.toFixed(1)} | ${row.pctCeiling.toFixed(2)}% | ${exact === undefined ? "" : exact ? "exact" : "MISMATCH"} |`);
  }
}

// ---------- 5. the onnxruntime-web peer ----------
const ortDir = opt("--ort");
if (ortDir !== undefined && ONLY.has("ort")) {
  // onnxruntime-web expects the browser's globals (GPUBufferUsage, GPUMapMode, …) besides navigator.gpu.
  Object.assign(globalThis, globals);
  try {
    const rows = await ortPeer(ortDir, gpu, device.queue, SHAPES, [1, 16], { rotateBytes: ROTATE_BYTES, runs: QUICK ? 10 : 50, log });
    results.push(...rows.map((r) => ({ ...r })));
  } catch (e) {
    log(`onnxruntime-web peer could not run: ${(e as Error).message.split("\n")[0]}`);
    results.push({ kind: "ort-matmulnbits", error: (e as Error).message });
  }
  flushJson();
}

// ---------- 6. conformance on this adapter ----------
if (ONLY.has("conform")) {
  // "all" puts the subgroup path in every kernel (the GEMV and KV4 plans skip it under "auto"); "off" in none.
  for (const mode of SG_MODES.map((sg) => (sg ? ("all" as const) : ("off" as const)))) {
    const backend = await createWebGpuBackendOn(gpu, source, { subgroups: mode });
    const runs = Number(opt("--conform-runs") ?? 5);
    const res = await runConformance({ backends: [backend], runs, seed: 20261127 });
    const bad = res.filter((r) => r.status !== "pass" && r.status !== "unsupported");
    log(`conformance, subgroups ${backend.info.subgroups ? mode : "off"} (${runs} random cases per op, seed 20261127): ${res.filter((r) => r.status === "pass").length} ops pass, ${bad.length} fail, ${res.filter((r) => r.status === "unsupported").length} unsupported; worst ULP ${Math.max(0, ...res.map((r) => r.worstUlp ?? 0))}${bad.length ? `; failing: ${bad.map((r) => `${r.op} (${r.failures[0]?.message ?? r.note ?? r.status})`).join("; ")}` : ""}`);
    results.push({ kind: "conformance", subgroups: backend.info.subgroups, runs, ops: res.map((r) => ({ op: r.op, status: r.status, executed: r.executed, worstUlp: r.worstUlp })) });
    flushJson();
    await backend.dispose();
  }
}

flushJson(true);
device.destroy();
log("done");
process.exit(0);
