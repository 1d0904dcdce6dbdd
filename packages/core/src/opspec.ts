/**
 * Types of the conformance specification of an op (DESIGN.md §2): the single source from which
 * tests, benchmarks and the support matrix are driven. The oracle package provides one per op.
 * @module
 */
import type { Dims, OpName, ParamValues } from "./ops.js";
import type { NamedTensors } from "./tensor.js";

/** How a backend's output must relate to the reference's. */
export type Contract =
  | { readonly kind: "exact" }
  | { readonly kind: "tolerance"; readonly name: string; readonly maxUlp?: number; readonly maxAbs?: number; readonly maxNmse?: number; readonly why: string };

/** One concrete call of an op. */
export interface OpCase {
  /** Canonical id, e.g. `gemm_w4a8_g128(m=16,n=256,k=512)`; also the CLI filter and the replay key. */
  readonly id: string;
  /** The op. */
  readonly op: OpName;
  /** Parameters. */
  readonly params: ParamValues;
  /** Inputs. */
  readonly inputs: NamedTensors;
}

/** The conformance specification of one op. */
export interface OpSpec {
  /** The op. */
  readonly op: OpName;
  /** Fixed edge cases (all-zero rows, all-equal rows, fp16 extremes, odd sizes). */
  edgeCases(): OpCase[];
  /** A random case from a seed (shapes, data distribution and params all drawn from it). */
  randomCase(seed: number): OpCase;
  /** Inputs that must be rejected with a typed error, with a label saying what is wrong. */
  errorCases(): { readonly label: string; readonly case: OpCase }[];
  /** Arithmetic operations of one call (multiply-adds count 2). */
  flops(dims: Dims): number;
  /** Bytes a backend must at least read and write for one call. */
  bytes(dims: Dims): number;
  /** Contract per backend name; backends not listed are held to `exact`. */
  readonly contracts: Readonly<Record<string, Contract>>;
}
