/**
 * The shape of a reference op implementation.
 * @module
 */
import type { Dims, NamedTensors, ResolvedParams } from "@qoq/core";

/**
 * A reference op: takes inputs already checked against the op's signature (dtypes, ranks, shape
 * symbols bound in `dims`) and parameters with defaults filled; checks the op-specific rules
 * itself (value ranges, divisibility, finiteness) and returns the outputs.
 */
export type ReferenceImpl = (inputs: NamedTensors, params: ResolvedParams, dims: Dims) => NamedTensors;
