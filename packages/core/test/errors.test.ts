/**
 * Typed errors (errors.ts) and the shared property-test settings (testing.ts).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_FC_SEED,
  DTypeError,
  IoError,
  NonFiniteError,
  OverflowError,
  ParamError,
  propertyOptions,
  QoqError,
  RangeViolationError,
  SafetensorsError,
  ShapeError,
  UnknownOpError,
  UnsupportedError,
} from "../src/index.js";

describe("typed errors", () => {
  it("every class is a QoqError and an Error with a stable code and its own name", () => {
    const cases: [Error, string, string][] = [
      [new ShapeError("m"), "shape", "ShapeError"],
      [new DTypeError("m"), "dtype", "DTypeError"],
      [new ParamError("m"), "param", "ParamError"],
      [new NonFiniteError("x", 3, NaN), "non_finite", "NonFiniteError"],
      [new RangeViolationError("q", 5, "m"), "range", "RangeViolationError"],
      [new OverflowError("m"), "overflow", "OverflowError"],
      [new SafetensorsError("m"), "safetensors", "SafetensorsError"],
      [new UnknownOpError("nope", ["a", "b"]), "unknown_op", "UnknownOpError"],
      [new UnsupportedError("m"), "unsupported", "UnsupportedError"],
      [new IoError("m"), "io", "IoError"],
    ];
    const codes = new Set<string>();
    for (const [e, code, name] of cases) {
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(QoqError);
      expect((e as QoqError).code).toBe(code);
      expect(e.name).toBe(name);
      codes.add(code);
    }
    expect(codes.size).toBe(cases.length);
    expect(new ShapeError("m")).not.toBeInstanceOf(DTypeError);
  });

  it("located errors carry and print their location", () => {
    const n = new NonFiniteError("gamma", 7, Infinity);
    expect([n.tensor, n.index]).toEqual(["gamma", 7]);
    expect(n.message).toContain("'gamma'");
    expect(n.message).toContain("7");
    expect(n.message).toContain("Infinity");
    const r = new RangeViolationError("codes", 2, "code 16 does not fit");
    expect([r.tensor, r.index]).toEqual(["codes", 2]);
    expect(r.message).toContain("'codes'");
    expect(r.message).toContain("code 16 does not fit");
    const s = new SafetensorsError("bad", { tensor: "w", offset: 40 });
    expect([s.tensor, s.offset]).toEqual(["w", 40]);
    expect(s.message).toBe("safetensors: bad (tensor 'w', byte offset 40)");
    expect(new SafetensorsError("bad", { offset: 0 }).message).toBe("safetensors: bad (byte offset 0)");
    expect(new SafetensorsError("bad").message).toBe("safetensors: bad");
    expect(new SafetensorsError("bad").tensor).toBeUndefined();
    expect(new UnknownOpError("nope", ["a", "b"]).message).toContain("a, b");
  });
});

describe("propertyOptions", () => {
  afterEach(() => vi.unstubAllEnvs());

  it("defaults to the fixed seed and the given number of runs", () => {
    vi.stubEnv("FC_SEED", undefined);
    vi.stubEnv("FC_RUNS", undefined);
    vi.stubEnv("FC_PATH", undefined);
    const o = propertyOptions(37);
    expect(o.seed).toBe(DEFAULT_FC_SEED);
    expect(o.numRuns).toBe(37);
    expect(o.path).toBeUndefined();
    expect(o.verbose).toBeGreaterThanOrEqual(1);
    expect(propertyOptions().numRuns).toBe(100);
  });

  it("honours FC_SEED, FC_RUNS and FC_PATH", () => {
    vi.stubEnv("FC_SEED", "123");
    vi.stubEnv("FC_RUNS", "7.6");
    vi.stubEnv("FC_PATH", "1:2:0");
    const o = propertyOptions(1000);
    expect(o.seed).toBe(123);
    expect(o.numRuns).toBe(8);
    expect(o.path).toBe("1:2:0");
    vi.stubEnv("FC_RUNS", "0");
    expect(propertyOptions(5).numRuns).toBe(1);
  });
});
