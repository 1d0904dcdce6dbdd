/**
 * Which ONNX operators onnxruntime's CPU provider runs natively on binary16 tensors. For each
 * operator a one-node graph with float16 inputs and outputs is loaded with the optimized model
 * written back to disk: when the CPU provider has no float16 kernel, onnxruntime silently inserts
 * `Cast` nodes around the node (its InsertCastTransformer) and runs it in float32, so a `Cast` in
 * the optimized graph means "not native". A graph onnxruntime refuses is reported as rejected.
 * @module
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toF16Bits } from "@qoq/core";
import { GraphBuilder, type AttrValue } from "./graph.js";
import { decodeModelNodes, OnnxDataType, type OnnxDataTypeCode } from "./proto.js";
import { OnnxModel, OnnxRuntimeError, type OrtTensorData } from "./runtime.js";

/** Result of probing one operator. */
export interface ProbeResult {
  /** Operator (with a note on the variant probed). */
  readonly op: string;
  /** native: float16 kernel; cast: onnxruntime inserted Casts to float32; rejected: the graph failed to load or run. */
  readonly status: "native" | "cast" | "rejected";
  /** Operators of the optimized graph, or the error. */
  readonly detail: string;
}

interface ProbeCase {
  readonly label: string;
  readonly opType: string;
  /** Float16 inputs: dims per input; `"i64:…"` entries are int64 inputs given by value. */
  readonly inputs: readonly (readonly number[] | { readonly i64: readonly number[] } | { readonly bool: readonly number[] })[];
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  /** Output dims (float16 unless `outType`). */
  readonly out: readonly number[];
  readonly outType?: number;
}

const V = [2, 8];
const CASES: readonly ProbeCase[] = [
  ...["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"].map((opType) => ({ label: opType, opType, inputs: [V, V], out: V })),
  ...["Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Sigmoid", "Tanh", "Erf", "Cos", "Sin", "Relu"].map((opType) => ({ label: opType, opType, inputs: [V], out: V })),
  { label: "Softmax (axis −1)", opType: "Softmax", inputs: [V], attrs: { axis: -1 }, out: V },
  { label: "MatMul", opType: "MatMul", inputs: [[2, 8], [8, 4]], out: [2, 4] },
  { label: "MatMul (batched 3-D)", opType: "MatMul", inputs: [[3, 2, 8], [3, 8, 4]], out: [3, 2, 4] },
  { label: "Gemm (transB)", opType: "Gemm", inputs: [[2, 8], [4, 8]], attrs: { transB: 1 }, out: [2, 4] },
  { label: "ReduceMean (axes input)", opType: "ReduceMean", inputs: [V, { i64: [-1] }], out: [2, 1] },
  { label: "ReduceSum", opType: "ReduceSum", inputs: [V, { i64: [-1] }], out: [2, 1] },
  { label: "ReduceMax", opType: "ReduceMax", inputs: [V, { i64: [-1] }], out: [2, 1] },
  { label: "SimplifiedLayerNormalization", opType: "SimplifiedLayerNormalization", inputs: [V, [8]], attrs: { axis: -1, epsilon: { f: 1e-5 } }, out: V },
  { label: "LayerNormalization", opType: "LayerNormalization", inputs: [V, [8]], attrs: { axis: -1, epsilon: { f: 1e-5 } }, out: V },
  { label: "Gather (float16 data, int64 indices)", opType: "Gather", inputs: [V, { i64: [1, 0] }], attrs: { axis: 0 }, out: V },
  { label: "Concat", opType: "Concat", inputs: [V, V], attrs: { axis: -1 }, out: [2, 16] },
  { label: "Reshape", opType: "Reshape", inputs: [V, { i64: [4, 4] }], out: [4, 4] },
  { label: "Transpose", opType: "Transpose", inputs: [V], attrs: { perm: [1, 0] }, out: [8, 2] },
  { label: "Slice", opType: "Slice", inputs: [V, { i64: [0] }, { i64: [4] }, { i64: [1] }], out: [2, 4] },
  { label: "Split (one part)", opType: "Split", inputs: [V, { i64: [8] }], attrs: { axis: 1 }, out: V },
  { label: "Squeeze", opType: "Squeeze", inputs: [[1, 2, 8], { i64: [0] }], out: V },
  { label: "Unsqueeze", opType: "Unsqueeze", inputs: [V, { i64: [0] }], out: [1, 2, 8] },
  { label: "Expand", opType: "Expand", inputs: [[1, 8], { i64: [2, 8] }], out: V },
  { label: "Tile", opType: "Tile", inputs: [V, { i64: [1, 2] }], out: [2, 16] },
  { label: "Where (bool condition)", opType: "Where", inputs: [{ bool: [1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1] }, V, V], out: V },
  { label: "Trilu (lower)", opType: "Trilu", inputs: [[8, 8]], attrs: { upper: 0 }, out: [8, 8] },
  { label: "Cast float16 → float32", opType: "Cast", inputs: [V], attrs: { to: OnnxDataType.FLOAT }, out: V, outType: OnnxDataType.FLOAT },
];

function randomF16(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = toF16Bits(Math.fround(0.25 + (s / 2 ** 32) * 1.5)); // positive, so Sqrt/Log/Pow stay finite
  }
  return out;
}

async function probeOne(c: ProbeCase, dir: string, index: number): Promise<ProbeResult> {
  const g = new GraphBuilder(`probe_${c.opType}`);
  const names: string[] = [];
  const feeds: Record<string, OrtTensorData> = {};
  c.inputs.forEach((spec, i) => {
    const name = `in${i}`;
    if ("i64" in spec) {
      names.push(g.init(name, OnnxDataType.INT64, [spec.i64.length], BigInt64Array.from(spec.i64.map((v) => BigInt(v)))));
    } else if ("bool" in spec) {
      names.push(g.init(name, OnnxDataType.BOOL, V, Uint8Array.from(spec.bool)));
    } else {
      names.push(g.input(name, OnnxDataType.FLOAT16, spec));
      feeds[name] = { type: "float16", dims: spec, data: randomF16(spec.reduce((a, b) => a * b, 1), i + 1) };
    }
  });
  g.op(c.opType, names, c.attrs ?? {}, "out");
  g.output("out", (c.outType ?? OnnxDataType.FLOAT16) as OnnxDataTypeCode, c.out);
  const path = join(dir, `probe_${index}.onnx`);
  try {
    const model = await OnnxModel.create(c.label, g.build(), { optimizedModelFilePath: path });
    await model.run(feeds);
    await model.dispose();
  } catch (e) {
    if (e instanceof OnnxRuntimeError) return { op: c.label, status: "rejected", detail: e.message.split("\n")[0]! };
    throw e;
  }
  const ops = decodeModelNodes(readFileSync(path)).map((n) => n.opType);
  const casts = ops.filter((o) => o === "Cast").length - (c.opType === "Cast" ? 1 : 0);
  return { op: c.label, status: casts > 0 ? "cast" : "native", detail: ops.join(" → ") };
}

/** Probe every operator of the list above; returns one result per operator. */
export async function probeFp16Ops(): Promise<ProbeResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "qoq-onnx-probe-"));
  try {
    const results: ProbeResult[] = [];
    for (let i = 0; i < CASES.length; i++) results.push(await probeOne(CASES[i]!, dir, i));
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
