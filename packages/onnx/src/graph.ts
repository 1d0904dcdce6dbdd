/**
 * A small builder for ONNX graphs: named values, nodes with attributes, initializers from typed
 * arrays, and serialization to a model with opset 21.
 * @module
 */
import { ShapeError } from "@qoq/core";
import {
  encodeModel,
  IR_VERSION,
  OnnxAttributeType,
  OnnxDataType,
  OPSET_VERSION,
  type AttributeMessage,
  type NodeMessage,
  type OnnxDataTypeCode,
  type TensorMessage,
  type ValueInfoMessage,
} from "./proto.js";

/** An attribute value: a number is INT when integral unless given as `{ f }`; arrays are INTS / FLOATS likewise. */
export type AttrValue = number | { readonly f: number } | string | readonly number[] | { readonly floats: readonly number[] } | TensorMessage;

/** A dimension of a graph input or output: a size, or a symbol bound at run time. */
export type DimSpec = number | string;

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function attribute(name: string, v: AttrValue): AttributeMessage {
  if (typeof v === "number") return Number.isInteger(v) ? { name, type: OnnxAttributeType.INT, i: v } : { name, type: OnnxAttributeType.FLOAT, f: v };
  if (typeof v === "string") return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: OnnxAttributeType.INTS, ints: [...(v as readonly number[])] };
  if ("f" in v && typeof v.f === "number") return { name, type: OnnxAttributeType.FLOAT, f: v.f };
  if ("floats" in v) return { name, type: OnnxAttributeType.FLOATS, floats: [...v.floats] };
  return { name, type: OnnxAttributeType.TENSOR, t: v as TensorMessage };
}

/** A tensor message from a typed array (element bytes copied as raw little-endian data). */
export function tensorMessage(dataType: OnnxDataTypeCode, dims: readonly number[], data: ArrayBufferView, name?: string): TensorMessage {
  const n = dims.reduce((a, b) => a * b, 1);
  const size = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8 }[dataType];
  if (data.byteLength !== n * size) throw new ShapeError(`onnx tensor '${name ?? "constant"}': ${data.byteLength} bytes do not fill dims [${dims.join(", ")}]`);
  return { ...(name !== undefined ? { name } : {}), dims: [...dims], dataType, rawData: bytesOf(data) };
}

/** Builds one ONNX graph; values are referred to by name. */
export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly inits: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private counter = 0;

  /** @param name graph name (shows up in onnxruntime's messages) */
  constructor(readonly name: string) {}

  private valueInfo(name: string, elemType: OnnxDataTypeCode, dims: readonly DimSpec[]): ValueInfoMessage {
    return {
      name,
      type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
    };
  }

  /** Declare a graph input. */
  input(name: string, elemType: OnnxDataTypeCode, dims: readonly DimSpec[]): string {
    this.inputs.push(this.valueInfo(name, elemType, dims));
    return name;
  }

  /** Declare a graph output (a value some node produces). */
  output(name: string, elemType: OnnxDataTypeCode, dims: readonly DimSpec[]): void {
    this.outputs.push(this.valueInfo(name, elemType, dims));
  }

  /** Add an initializer (a constant weight) and return its name. */
  init(name: string, dataType: OnnxDataTypeCode, dims: readonly number[], data: ArrayBufferView): string {
    this.inits.push(tensorMessage(dataType, dims, data, name));
    return name;
  }

  /** An int64 constant initializer (shapes, axes, indices), named uniquely. */
  ints(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.init(this.fresh("i64"), OnnxDataType.INT64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** A float32 scalar-or-tensor constant, named uniquely. */
  f32(values: readonly number[], dims: readonly number[] = []): string {
    return this.init(this.fresh("f32"), OnnxDataType.FLOAT, dims, Float32Array.from(values));
  }

  /** A float16 constant from binary16 bit patterns, named uniquely. */
  f16bits(bits: readonly number[], dims: readonly number[] = []): string {
    return this.init(this.fresh("f16"), OnnxDataType.FLOAT16, dims, Uint16Array.from(bits));
  }

  /** A unique value name with a prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /**
   * Add a node; returns its output names (one fresh name per output unless `outputs` names them).
   * `domain` "" is ai.onnx.
   */
  node(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, outputs: number | readonly string[] = 1): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : [...outputs];
    this.nodes.push({
      name: this.fresh(`n_${opType}`),
      opType,
      domain: "",
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** Add a one-output node and return its output name. */
  op(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, output?: string): string {
    return this.node(opType, inputs, attrs, output === undefined ? 1 : [output])[0]!;
  }

  /** Cast a value to an element type. */
  cast(x: string, to: OnnxDataTypeCode): string {
    return this.op("Cast", [x], { to });
  }

  /** Serialize the graph as a model (IR 10, ai.onnx opset 21). */
  build(): Uint8Array {
    return encodeModel({
      irVersion: IR_VERSION,
      producerName: "qoq-onnx",
      producerVersion: "0.1.0",
      opsetImport: [{ domain: "", version: OPSET_VERSION }],
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    });
  }
}
