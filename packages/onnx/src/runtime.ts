/**
 * Running ONNX models with onnxruntime-node's CPU execution provider. Every failure of
 * onnxruntime (a graph it rejects, a kernel it lacks, a run-time shape error) surfaces as an
 * {@link OnnxRuntimeError}, a typed {@link QoqError}.
 * @module
 */
import { QoqError } from "@qoq/core";
import ort from "onnxruntime-node";

/** Element types exchanged with onnxruntime here. */
export type OrtDType = "float16" | "float32" | "int64" | "int32" | "uint8" | "int8";

/** A tensor handed to or returned by onnxruntime. */
export interface OrtTensorData {
  /** onnxruntime element type (`float16` data are binary16 bits). */
  readonly type: OrtDType;
  /** Dimensions. */
  readonly dims: readonly number[];
  /** Elements. */
  readonly data: Uint16Array | Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;
}

/** onnxruntime rejected a model or failed to run it. */
export class OnnxRuntimeError extends QoqError {
  /** Whether creating the session (`load`) or running it (`run`) failed. */
  readonly stage: "load" | "run";
  constructor(stage: "load" | "run", graph: string, cause: unknown) {
    super("unsupported", `onnxruntime ${ort.env.versions.common} could not ${stage === "load" ? "load" : "run"} graph '${graph}': ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "OnnxRuntimeError";
    this.stage = stage;
  }
}

/** The onnxruntime version this package runs with. */
export function onnxruntimeVersion(): string {
  return ort.env.versions.common;
}

/** Options of {@link OnnxModel.create}. */
export interface OnnxModelOptions {
  /** Where onnxruntime writes the graph after its optimizations (to inspect inserted casts). */
  readonly optimizedModelFilePath?: string;
  /** Graph optimization level (default `all`). */
  readonly graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
}

/** A loaded model: one onnxruntime inference session on the CPU provider. */
export class OnnxModel {
  private constructor(
    /** Graph name (for messages). */
    readonly name: string,
    private readonly session: ort.InferenceSession,
  ) {}

  /** Load serialized model bytes; an {@link OnnxRuntimeError} if onnxruntime rejects the graph. */
  static async create(name: string, bytes: Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ["cpu"],
        graphOptimizationLevel: options.graphOptimizationLevel ?? "all",
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        logSeverityLevel: 3,
        ...(options.optimizedModelFilePath !== undefined ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
      });
      return new OnnxModel(name, session);
    } catch (e) {
      throw new OnnxRuntimeError("load", name, e);
    }
  }

  /** Run the model on named inputs; returns every graph output by name. */
  async run(feeds: Readonly<Record<string, OrtTensorData>>): Promise<Record<string, OrtTensorData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    try {
      for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(v.type, v.data, [...v.dims]);
      const out = await this.session.run(ortFeeds);
      const result: Record<string, OrtTensorData> = {};
      for (const [k, v] of Object.entries(out)) {
        result[k] = { type: v.type as OrtDType, dims: [...v.dims], data: v.data as OrtTensorData["data"] };
      }
      return result;
    } catch (e) {
      throw new OnnxRuntimeError("run", this.name, e);
    }
  }

  /** Release the session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
