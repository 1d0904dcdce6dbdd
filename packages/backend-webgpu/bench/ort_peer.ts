/**
 * The peer of the packed W4A8 GEMV (issue: "onnxruntime-web's 4-bit MatMulNBits on the same
 * shapes is the peer to beat"): onnxruntime-web's WebGPU execution provider, in this process, on
 * a device of its own from the same Dawn `GPU` object, running `com.microsoft` MatMulNBits with
 * 4-bit weights in blocks of 128 (QoQ's g128), uint8 zero points and binary32 activations and
 * scales (the NVIDIA Vulkan adapter has no shader-f16, so binary16 is not an option there).
 *
 * onnxruntime-web is not a dependency of the workspace: `--ort DIR` names an unpacked package
 * (scripts/perf-webgpu.sh fetches it with `npm pack`), loaded with a dynamic import.
 *
 * Timing, comparable to the "back to back" column of the GEMV table: a model with `n` MatMulNBits
 * nodes on `n` distinct weights (enough copies to read past L2, as the GEMV bench rotates its
 * weights) and a model with one; outputs stay on the GPU (`preferredOutputLocation:
 * "gpu-buffer"`), `R` runs are issued back to back and the last run's output is read to wait for
 * the GPU. The time of one MatMulNBits is `(T_n − T_1) / (n − 1)` of the per-run times, so the
 * per-run overhead of onnxruntime (JS, wasm, the input upload) cancels.
 * @module
 */
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The slice of onnxruntime-web's API this bench uses. */
interface OrtTensor {
  readonly data: unknown;
  getData(): Promise<unknown>;
  dispose(): void;
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  env: { wasm: { numThreads: number }; logLevel?: string; versions?: Record<string, string> };
  InferenceSession: { create(model: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => OrtTensor;
}

/** One measured shape. */
export interface OrtPeerRow {
  readonly kind: "ort-matmulnbits";
  readonly shape: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** MatMulNBits nodes (distinct weights) in the timed model. */
  readonly copies: number;
  /** Seconds per run of the one-node and the n-node model. */
  readonly run1: number;
  readonly runN: number;
  /** Seconds per MatMulNBits, back to back: (runN − run1) / (copies − 1). */
  readonly perOp: number;
  /** Bytes one MatMulNBits must read and write: 4-bit codes, binary32 scales, 4-bit zero points, A and Y in binary32. */
  readonly bytes: number;
  readonly gbs: number;
}

// ---------- a minimal ONNX protobuf writer (just what these models need) ----------
const utf8 = new TextEncoder();
function varint(v: number): Uint8Array {
  const out: number[] = [];
  let n = BigInt(v);
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return Uint8Array.from(out);
}
function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const intField = (field: number, v: number) => concat([varint(field << 3), varint(v)]);
const bytesField = (field: number, b: Uint8Array) => concat([varint((field << 3) | 2), varint(b.length), b]);
const stringField = (field: number, s: string) => bytesField(field, utf8.encode(s));
const messageField = (field: number, parts: readonly Uint8Array[]) => bytesField(field, concat(parts));

const FLOAT = 1;
const UINT8 = 2;
/** TensorProto: dims (1), data_type (2), name (8), raw_data (9). */
const initializer = (name: string, type: number, dims: readonly number[], raw: Uint8Array) => [...dims.map((d) => intField(1, d)), intField(2, type), stringField(8, name), bytesField(9, raw)];
/** ValueInfoProto of a binary32 tensor: name (1), type (2) → tensor_type (1) → elem_type (1), shape (2) → dim (1) → dim_value (1). */
const floatValue = (name: string, dims: readonly number[]) => [stringField(1, name), messageField(2, [messageField(1, [intField(1, FLOAT), messageField(2, dims.map((d) => messageField(1, [intField(1, d)])))])])];
/** NodeProto: input (1), output (2), name (3), op_type (4), attribute (5: name 1, i 3, type 20 = INT), domain (7). */
const msNode = (op: string, inputs: readonly string[], output: string, ints: Readonly<Record<string, number>>) => [
  ...inputs.map((i) => stringField(1, i)),
  stringField(2, output),
  stringField(3, `node_${output}`),
  stringField(4, op),
  ...Object.entries(ints).map(([k, v]) => messageField(5, [stringField(1, k), intField(3, v), intField(20, 2)])),
  stringField(7, "com.microsoft"),
];

/** xorshift32 bytes: random 4-bit codes and zero points (their values do not change the time). */
function randomBytes(count: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(count / 4));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  return new Uint8Array(words.buffer, 0, count);
}

/** A model of `copies` MatMulNBits nodes Y_i = A · W_iᵀ (N×K, block 128), each Y_i a graph output. */
function matMulNBitsModel(m: number, n: number, k: number, copies: number): Uint8Array {
  const blocks = k / 128;
  const scales = new Float32Array(n * blocks).fill(1 / 64);
  const nodes: Uint8Array[][] = [];
  const inits: Uint8Array[][] = [];
  const outputs: Uint8Array[][] = [];
  for (let c = 0; c < copies; c++) {
    inits.push(initializer(`b${c}`, UINT8, [n, blocks, 64], randomBytes((n * k) / 2, 7 + c)));
    inits.push(initializer(`s${c}`, FLOAT, [n, blocks], new Uint8Array(scales.buffer)));
    inits.push(initializer(`z${c}`, UINT8, [n, Math.ceil(blocks / 2)], randomBytes(n * Math.ceil(blocks / 2), 1000 + c)));
    nodes.push(msNode("MatMulNBits", ["a", `b${c}`, `s${c}`, `z${c}`], `y${c}`, { K: k, N: n, bits: 4, block_size: 128 }));
    outputs.push(floatValue(`y${c}`, [m, n]));
  }
  const graph = concat([...nodes.map((x) => messageField(1, x)), stringField(2, "matmulnbits"), ...inits.map((x) => messageField(5, x)), messageField(11, floatValue("a", [m, k])), ...outputs.map((x) => messageField(12, x))]);
  // ModelProto: ir_version (1) 10, producer_name (2), graph (7), opset_import (8): ai.onnx 21, com.microsoft 1.
  return concat([intField(1, 10), stringField(2, "qoq-bench"), bytesField(7, graph), messageField(8, [stringField(1, ""), intField(2, 21)]), messageField(8, [stringField(1, "com.microsoft"), intField(2, 1)])]);
}

/**
 * Dawn's Node binding rejects `writeBuffer` from a view of a SharedArrayBuffer (onnxruntime-web's
 * threaded wasm memory is one): copy such data into an ordinary buffer first. Patches the shared
 * GPUQueue prototype once; other data is passed through untouched.
 */
function acceptSharedWrites(queue: GPUQueue): void {
  type Write = (this: GPUQueue, buffer: GPUBuffer, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number) => unknown;
  const proto = Object.getPrototypeOf(queue) as { writeBuffer: Write; __qoqShared?: boolean };
  if (proto.__qoqShared) return;
  const write = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: ArrayBufferView, dataOffset = 0, size?: number) {
    if (!(data.buffer instanceof SharedArrayBuffer)) return write.call(this, buffer, offset, data, dataOffset, size);
    const elem = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const count = size ?? data.byteLength / elem - dataOffset;
    const copy = new Uint8Array(count * elem);
    copy.set(new Uint8Array(data.buffer, data.byteOffset + dataOffset * elem, count * elem));
    return write.call(this, buffer, offset, copy, 0, copy.length);
  };
  proto.__qoqShared = true;
}

async function secondsPerRun(ort: OrtModule, model: Uint8Array, a: OrtTensor, last: string, runs: number): Promise<number> {
  const session = await ort.InferenceSession.create(model, { executionProviders: ["webgpu"], preferredOutputLocation: "gpu-buffer", graphOptimizationLevel: "disabled" });
  try {
    let out: Record<string, OrtTensor> = {};
    const release = () => Object.values(out).forEach((t) => t.dispose());
    for (let i = 0; i < 3; i++) {
      release();
      out = await session.run({ a });
      await out[last]!.getData();
    }
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) {
      release();
      out = await session.run({ a });
    }
    await out[last]!.getData();
    const s = (performance.now() - t0) / 1e3 / runs;
    release();
    return s;
  } finally {
    await session.release();
  }
}

/**
 * Time MatMulNBits on each shape at each M. `gpu` is the Dawn `GPU` object of this process (set as
 * `navigator.gpu` for onnxruntime-web), `queue` any queue of it (for {@link acceptSharedWrites}).
 */
export async function ortPeer(
  ortDir: string,
  gpu: GPU,
  queue: GPUQueue,
  shapes: readonly (readonly [string, number, number])[],
  ms: readonly number[],
  opts: { readonly rotateBytes: number; readonly runs: number; readonly log: (s: string) => void },
): Promise<OrtPeerRow[]> {
  Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  acceptSharedWrites(queue);
  const ort = (await import(pathToFileURL(join(resolve(ortDir), "dist", "ort.webgpu.min.mjs")).href)) as OrtModule;
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = "error";
  opts.log(`\nonnxruntime-web ${ort.env.versions?.web ?? "?"}, WebGPU EP, MatMulNBits (4-bit, block 128, fp32 A/scales, uint8 zero points):`);
  opts.log("| shape N×K | M | copies | run, 1 node (µs) | run, n nodes (µs) | µs per MatMulNBits, back to back | GB/s |");
  opts.log("|---|---|---|---|---|---|---|");
  const rows: OrtPeerRow[] = [];
  for (const m of ms) {
    for (const [label, n, k] of shapes) {
      const wbytes = (n * k) / 2;
      const copies = Math.max(2, Math.min(16, Math.ceil(opts.rotateBytes / wbytes)));
      const a = new ort.Tensor("float32", Float32Array.from({ length: m * k }, (_, i) => ((i * 7919) % 255) / 128 - 1), [m, k]);
      const run1 = await secondsPerRun(ort, matMulNBitsModel(m, n, k, 1), a, "y0", opts.runs);
      const runN = await secondsPerRun(ort, matMulNBitsModel(m, n, k, copies), a, `y${copies - 1}`, opts.runs);
      const perOp = (runN - run1) / (copies - 1);
      const bytes = wbytes + (n * k * 4) / 128 + (n * k) / 256 + m * k * 4 + m * n * 4;
      const row: OrtPeerRow = { kind: "ort-matmulnbits", shape: label, m, n, k, copies, run1, runN, perOp, bytes, gbs: bytes / perOp / 1e9 };
      rows.push(row);
      opts.log(`| ${label} ${n}×${k} | ${m} | ${copies} | ${(run1 * 1e6).toFixed(1)} | ${(runN * 1e6).toFixed(1)} | ${(perOp * 1e6).toFixed(1)} | ${row.gbs.toFixed(0)} |`);
    }
  }
  return rows;
}
