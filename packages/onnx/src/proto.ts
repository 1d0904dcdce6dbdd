/**
 * The subset of the ONNX protobuf schema this package writes and reads, as protobufjs reflection
 * types. Only the messages needed to build inference graphs are defined; the field numbers are
 * those of `onnx.proto` (IR version 10, the one that goes with opset 21).
 * @module
 */
import protobuf from "protobufjs";

/** ONNX `TensorProto.DataType` codes of the element types used here. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

/** An ONNX element type code from {@link OnnxDataType}. */
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** ONNX `AttributeProto.AttributeType` codes of the attribute kinds used here. */
export const OnnxAttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** IR version written into every model (ONNX 1.16, the IR of opset 21). */
export const IR_VERSION = 10;

/** Default-domain opset every graph here declares. */
export const OPSET_VERSION = 21;

const rep = "repeated" as const;

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        OperatorSetIdProto: { fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } } },
        TensorShapeProto: {
          fields: { dim: { rule: rep, type: "Dimension", id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: { dimValue: { type: "int64", id: 1 }, dimParam: { type: "string", id: 2 } },
            },
          },
        },
        TypeProto: {
          fields: { tensorType: { type: "Tensor", id: 1 } },
          nested: { Tensor: { fields: { elemType: { type: "int32", id: 1 }, shape: { type: "TensorShapeProto", id: 2 } } } },
        },
        ValueInfoProto: { fields: { name: { type: "string", id: 1 }, type: { type: "TypeProto", id: 2 } } },
        TensorProto: {
          fields: {
            dims: { rule: rep, type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: rep, type: "float", id: 4 },
            int32Data: { rule: rep, type: "int32", id: 5 },
            int64Data: { rule: rep, type: "int64", id: 7 },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            floats: { rule: rep, type: "float", id: 7 },
            ints: { rule: rep, type: "int64", id: 8 },
            type: { type: "int32", id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: rep, type: "string", id: 1 },
            output: { rule: rep, type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: rep, type: "AttributeProto", id: 5 },
            domain: { type: "string", id: 7 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: rep, type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: rep, type: "TensorProto", id: 5 },
            input: { rule: rep, type: "ValueInfoProto", id: 11 },
            output: { rule: rep, type: "ValueInfoProto", id: 12 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: rep, type: "OperatorSetIdProto", id: 8 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(SCHEMA);

/** The protobufjs type of `onnx.ModelProto`. */
export const ModelProtoType: protobuf.Type = root.lookupType("onnx.ModelProto");

/** A tensor as the builder writes it (an initializer or a constant attribute). */
export interface TensorMessage {
  /** Name (initializers only). */
  name?: string;
  /** Dimensions. */
  dims: number[];
  /** Element type code. */
  dataType: number;
  /** Little-endian element bytes. */
  rawData?: Uint8Array;
  /** Elements of int32-backed types (used when reading models back). */
  int32Data?: number[];
  /** Float elements (used when reading models back). */
  floatData?: number[];
  /** Int64 elements (used when reading models back). */
  int64Data?: number[];
}

/** An attribute of a node. */
export interface AttributeMessage {
  /** Attribute name. */
  name: string;
  /** Attribute kind code ({@link OnnxAttributeType}). */
  type: number;
  /** FLOAT value. */
  f?: number;
  /** INT value. */
  i?: number;
  /** STRING value (UTF-8). */
  s?: Uint8Array;
  /** TENSOR value. */
  t?: TensorMessage;
  /** FLOATS value. */
  floats?: number[];
  /** INTS value. */
  ints?: number[];
}

/** One node of a graph. */
export interface NodeMessage {
  /** Input value names ("" for an omitted optional input). */
  input: string[];
  /** Output value names. */
  output: string[];
  /** Unique node name. */
  name: string;
  /** Operator type, e.g. `MatMul`. */
  opType: string;
  /** Operator domain ("" = ai.onnx). */
  domain?: string;
  /** Attributes. */
  attribute?: AttributeMessage[];
}

/** A graph input or output with its element type and (partly symbolic) shape. */
export interface ValueInfoMessage {
  /** Value name. */
  name: string;
  /** Type. */
  type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
}

/** A whole model as the builder writes it. */
export interface ModelMessage {
  /** IR version. */
  irVersion: number;
  /** Producer name. */
  producerName: string;
  /** Producer version. */
  producerVersion: string;
  /** Opsets. */
  opsetImport: { domain: string; version: number }[];
  /** The graph. */
  graph: {
    name: string;
    node: NodeMessage[];
    initializer: TensorMessage[];
    input: ValueInfoMessage[];
    output: ValueInfoMessage[];
  };
}

/** Serialize a model to ONNX protobuf bytes. */
export function encodeModel(model: ModelMessage): Uint8Array {
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}

/** The node list of a serialized model (for inspecting what onnxruntime wrote back after optimization). */
export function decodeModelNodes(bytes: Uint8Array): { opType: string; domain: string; name: string; input: string[]; output: string[] }[] {
  const msg = ModelProtoType.decode(bytes);
  const obj = ModelProtoType.toObject(msg, { defaults: true, arrays: true, longs: Number }) as { graph?: { node?: NodeMessage[] } };
  return (obj.graph?.node ?? []).map((n) => ({ opType: n.opType, domain: n.domain ?? "", name: n.name, input: n.input, output: n.output }));
}
