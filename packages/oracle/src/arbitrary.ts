/**
 * fast-check arbitraries over an op's cases. A case is drawn from a seed (the spec's generator
 * draws shapes, data kinds and parameters from it), so a counterexample fast-check reports is
 * replayable both by fast-check's seed/path and by the case id, which carries the seed
 * (`qoq conform --op '<id>'`). Shrinking moves towards smaller seeds, not smaller shapes.
 * @module
 */
import fc from "fast-check";
import type { OpCase, OpName } from "@qoq/core";
import { OP_SPECS } from "./specs/index.js";

/** Arbitrary random cases of `op`: a 32-bit seed mapped through the op's spec. */
export function opCaseArbitrary(op: OpName): fc.Arbitrary<OpCase> {
  return fc.nat({ max: 0xffffffff }).map((seed) => OP_SPECS[op].randomCase(seed));
}

/** Arbitrary cases of `op` that include its fixed edge cases as well as random ones. */
export function opCaseWithEdgesArbitrary(op: OpName): fc.Arbitrary<OpCase> {
  const edges = OP_SPECS[op].edgeCases();
  return fc.oneof(opCaseArbitrary(op), fc.constantFrom(...edges));
}
