import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { OP_NAMES, propertyOptions, type Backend } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import { opCaseArbitrary, opCaseWithEdgesArbitrary, plantedBugs, runConformance } from "../src/index.js";

describe("fast-check arbitraries over op cases", () => {
  it("every op's arbitrary yields valid cases whose id carries the seed and replays to the same case", () => {
    for (const op of OP_NAMES) {
      fc.assert(
        fc.property(opCaseArbitrary(op), (c) => {
          expect(c.op).toBe(op);
          const seed = /[(,]seed=(\d+)[,)]/.exec(c.id);
          expect(seed).not.toBeNull();
        }),
        propertyOptions(3),
      );
    }
  });

  it("a property over the arbitrary finds a planted bug and reports a case that replays it alone", async () => {
    const bug = plantedBugs().find((b) => b.name === "bug-clamp")!;
    const backend: Backend = bug.backend;
    let counterexample: string | undefined;
    await fc
      .assert(
        fc.asyncProperty(opCaseWithEdgesArbitrary(bug.op), async (c) => {
          const [s] = await runConformance({ backends: [backend], filter: c.id, runs: 0, seed: 0 });
          if (s!.status === "fail") counterexample = c.id;
          return s!.status !== "fail";
        }),
        propertyOptions(30),
      )
      .catch(() => undefined);
    expect(counterexample).toBeDefined();
    const [again] = await runConformance({ backends: [backend], filter: counterexample!, runs: 0, seed: 0 });
    expect(again!.status).toBe("fail");
    const [ref] = await runConformance({ backends: [createReferenceBackend()], filter: counterexample!, runs: 0, seed: 0 });
    expect(ref!.status).toBe("pass");
  });
});
