/**
 * The op registry (ops.ts): signatures, input binding and parameter resolution. Inputs for every
 * op are generated from its signature, then broken one way at a time; each break must be reported
 * with the right typed error naming the right tensor or parameter.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  bindInputs,
  DTypeError,
  DTYPES,
  getSignature,
  isOpName,
  OP_NAMES,
  OP_SIGNATURES,
  ParamError,
  propertyOptions,
  resolveParams,
  ShapeError,
  UnknownOpError,
  zeros,
  type DType,
  type NamedTensors,
  type OpSignature,
  type TensorSpec,
} from "../src/index.js";

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}
const dtypesOf = (s: TensorSpec): readonly DType[] => (typeof s.dtype === "string" ? [s.dtype] : s.dtype);

/**
 * Output shape symbols that the inputs alone do not bind, with how they are derived. Only
 * `quant_weight_g128`'s group count G = K / group (from the `group` parameter) is allowed; any
 * new entry must be a deliberate decision.
 */
const DERIVED_SYMBOLS: Record<string, Record<string, string>> = { quant_weight_g128: { G: "K / group" } };

/** Valid inputs for a signature: symbol i gets size 2 + i (distinct sizes catch swapped dims); first accepted dtype. */
function validInputs(sig: OpSignature, opts: { withOptional?: boolean; dtypeChoice?: number } = {}): { inputs: NamedTensors; dims: Record<string, number> } {
  const dims: Record<string, number> = {};
  let next = 2;
  const inputs: NamedTensors = {};
  const chosen: Record<string, DType> = {};
  for (const spec of sig.inputs) {
    if (spec.optional && !opts.withOptional) continue;
    for (const s of spec.shape) if (dims[s] === undefined) dims[s] = next++;
    const ds = dtypesOf(spec);
    const dtype = spec.sameDtypeAs !== undefined && chosen[spec.sameDtypeAs] !== undefined ? chosen[spec.sameDtypeAs]! : ds[(opts.dtypeChoice ?? 0) % ds.length]!;
    chosen[spec.name] = dtype;
    inputs[spec.name] = zeros(dtype, spec.shape.map((s) => dims[s]!));
  }
  return { inputs, dims };
}

describe("op registry", () => {
  it("OP_NAMES are unique and exactly the keys of OP_SIGNATURES; each signature's name matches", () => {
    expect(new Set(OP_NAMES).size).toBe(OP_NAMES.length);
    expect(Object.keys(OP_SIGNATURES).sort()).toEqual([...OP_NAMES].sort());
    for (const name of OP_NAMES) {
      expect(OP_SIGNATURES[name].name).toBe(name);
      expect(getSignature(name)).toBe(OP_SIGNATURES[name]);
      expect(isOpName(name)).toBe(true);
      expect(OP_SIGNATURES[name].summary.length).toBeGreaterThan(10);
    }
    expect(OP_NAMES.length).toBeGreaterThanOrEqual(22);
  });

  it("getSignature of an unknown op is an UnknownOpError listing every known op", () => {
    for (const bad of ["gemm", "", "constructor", "toString", "__proto__", "QUANT_ACT_INT8", "quant_act_int8 "]) {
      expect(isOpName(bad)).toBe(false);
      const e = thrown(() => getSignature(bad));
      expect(e, bad).toBeInstanceOf(UnknownOpError);
      expect((e as UnknownOpError).code).toBe("unknown_op");
      const msg = (e as Error).message;
      expect(msg).toContain(`'${bad}'`);
      for (const name of OP_NAMES) expect(msg).toContain(name);
    }
  });

  describe.each(OP_NAMES.map((n) => [n]))("signature of %s", (name) => {
    const sig = OP_SIGNATURES[name];

    it("has unique tensor names per side, valid dtypes, docs, and unique parameter names", () => {
      expect(sig.inputs.length).toBeGreaterThan(0);
      expect(sig.outputs.length).toBeGreaterThan(0);
      for (const side of [sig.inputs, sig.outputs]) {
        const names = side.map((s) => s.name);
        expect(new Set(names).size, names.join(",")).toBe(names.length);
        for (const s of side) {
          expect(s.name).toMatch(/^[a-z][a-z0-9_]*$/);
          expect(dtypesOf(s).length).toBeGreaterThan(0);
          for (const d of dtypesOf(s)) expect(DTYPES).toContain(d);
          for (const sym of s.shape) expect(sym).toMatch(/^[A-Z][A-Z0-9]*$/);
          expect(s.doc.length).toBeGreaterThan(0);
        }
      }
      const params = sig.params.map((p) => p.name);
      expect(new Set(params).size).toBe(params.length);
    });

    it("determines every output shape symbol from the inputs (only documented derived symbols excepted)", () => {
      const inputSyms = new Set(sig.inputs.flatMap((s) => s.shape));
      const requiredSyms = new Set(sig.inputs.filter((s) => !s.optional).flatMap((s) => s.shape));
      const derived = DERIVED_SYMBOLS[name] ?? {};
      for (const out of sig.outputs) {
        for (const sym of out.shape) {
          if (derived[sym] !== undefined) continue;
          expect(inputSyms.has(sym), `output '${out.name}' uses ${sym}, which no input binds`).toBe(true);
          // a required output's dims may not hang on an optional input alone
          if (!out.optional) expect(requiredSyms.has(sym), `output '${out.name}' needs ${sym} from an optional input`).toBe(true);
        }
      }
      for (const [sym, how] of Object.entries(derived)) {
        expect(inputSyms.has(sym)).toBe(false); // otherwise it would not need deriving
        for (const part of how.match(/[A-Za-z_]+/g)!) expect([...inputSyms, ...sig.params.map((p) => p.name)]).toContain(part);
      }
    });

    it("sameDtypeAs refers to an input with the same accepted dtypes", () => {
      for (const s of [...sig.inputs, ...sig.outputs]) {
        if (s.sameDtypeAs === undefined) continue;
        const ref = sig.inputs.find((i) => i.name === s.sameDtypeAs);
        expect(ref, `${s.name}.sameDtypeAs = ${s.sameDtypeAs}`).toBeDefined();
        expect([...dtypesOf(s)].sort()).toEqual([...dtypesOf(ref!)].sort());
      }
    });

    it("parameter specs are consistent: enum defaults among values, number defaults integral/in range", () => {
      for (const p of sig.params) {
        expect(p.doc.length).toBeGreaterThan(0);
        if (p.kind === "enum") {
          expect(p.values?.length).toBeGreaterThan(0);
          if (p.default !== undefined) expect(p.values).toContain(p.default);
        } else {
          expect(p.values).toBeUndefined();
          if (p.default !== undefined) {
            expect(typeof p.default).toBe("number");
            if (p.kind === "int") expect(Number.isSafeInteger(p.default)).toBe(true);
            if (p.min !== undefined) expect(p.default as number).toBeGreaterThanOrEqual(p.min);
            if (p.max !== undefined) expect(p.default as number).toBeLessThanOrEqual(p.max);
          }
          if (p.min !== undefined && p.max !== undefined) expect(p.min).toBeLessThanOrEqual(p.max);
        }
      }
    });

    it("bindInputs accepts generated valid inputs (with and without optional ones, every accepted dtype) and returns the dims", () => {
      for (const withOptional of [false, true]) {
        for (let choice = 0; choice < 2; choice++) {
          const { inputs, dims } = validInputs(sig, { withOptional, dtypeChoice: choice });
          expect(bindInputs(sig, inputs)).toEqual(dims);
        }
      }
    });

    it("bindInputs reports a missing, extra, wrongly typed, wrongly ranked or inconsistent tensor by name", () => {
      const { inputs } = validInputs(sig, { withOptional: true });
      const expectErr = (broken: NamedTensors, cls: typeof ShapeError | typeof DTypeError, tensor: string, what: string): void => {
        const e = thrown(() => bindInputs(sig, broken));
        expect(e, what).toBeInstanceOf(cls);
        expect((e as Error).message, what).toContain(`'${tensor}'`);
        expect((e as Error).message, what).toContain(sig.name);
      };
      // unexpected tensor
      expectErr({ ...inputs, bogus: zeros("f32", [1]) }, ShapeError, "bogus", "unexpected");
      for (const spec of sig.inputs) {
        // missing
        const { [spec.name]: _drop, ...rest } = inputs;
        void _drop;
        if (spec.optional) expect(() => bindInputs(sig, rest)).not.toThrow();
        else expectErr(rest, ShapeError, spec.name, `missing ${spec.name}`);
        // wrong dtype
        const x = inputs[spec.name]!;
        const wrong = DTYPES.find((d) => !dtypesOf(spec).includes(d))!;
        expectErr({ ...inputs, [spec.name]: zeros(wrong, x.shape) }, DTypeError, spec.name, `dtype of ${spec.name}`);
        // wrong rank, both ways
        expectErr({ ...inputs, [spec.name]: zeros(x.dtype, [...x.shape, 1]) }, ShapeError, spec.name, `rank+1 of ${spec.name}`);
        if (x.shape.length > 0) expectErr({ ...inputs, [spec.name]: zeros(x.dtype, x.shape.slice(1)) }, ShapeError, spec.name, `rank-1 of ${spec.name}`);
      }
      // inconsistent symbol: change, in the last tensor that shares a symbol with an earlier one, that dim
      const order = sig.inputs.filter((s) => inputs[s.name] !== undefined);
      for (let j = order.length - 1; j > 0; j--) {
        const spec = order[j]!;
        const earlier = new Set(order.slice(0, j).flatMap((s) => s.shape));
        const i = spec.shape.findIndex((s) => earlier.has(s));
        if (i < 0) continue;
        const x = inputs[spec.name]!;
        const shape = [...x.shape];
        shape[i] = shape[i]! + 100;
        const e = thrown(() => bindInputs(sig, { ...inputs, [spec.name]: zeros(x.dtype, shape) }));
        expect(e).toBeInstanceOf(ShapeError);
        expect((e as Error).message).toContain(`'${spec.name}'`);
        expect((e as Error).message).toContain(spec.shape[i]!);
        break;
      }
    });
  });

  it("every op with two or more inputs shares a symbol between them (so inconsistency is checkable)", () => {
    for (const name of OP_NAMES) {
      const sig = OP_SIGNATURES[name];
      if (sig.inputs.length < 2) continue;
      const counts = new Map<string, number>();
      for (const s of sig.inputs) for (const sym of new Set(s.shape)) counts.set(sym, (counts.get(sym) ?? 0) + 1);
      expect([...counts.values()].some((c) => c > 1), name).toBe(true);
    }
  });

  it("bindInputs: random shapes bind consistently or fail with a ShapeError", () => {
    fc.assert(
      fc.property(fc.constantFrom(...OP_NAMES), fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 64, maxLength: 64 }), (name, sizes) => {
        const sig = OP_SIGNATURES[name];
        const inputs: NamedTensors = {};
        let k = 0;
        for (const spec of sig.inputs) inputs[spec.name] = zeros(dtypesOf(spec)[0]!, spec.shape.map(() => sizes[k++ % 64]!));
        // the expected answer, worked out independently: every symbol must get one size
        const seen: Record<string, number> = {};
        let consistent = true;
        for (const spec of sig.inputs) spec.shape.forEach((s, i) => {
          const d = inputs[spec.name]!.shape[i]!;
          if (seen[s] === undefined) seen[s] = d;
          else if (seen[s] !== d) consistent = false;
        });
        if (consistent) expect(bindInputs(sig, inputs)).toEqual(seen);
        else expect(thrown(() => bindInputs(sig, inputs))).toBeInstanceOf(ShapeError);
      }),
      propertyOptions(500),
    );
  });

  it("bindInputs: sameDtypeAs mismatch and optional inputs", () => {
    const sa = getSignature("smooth_attention");
    const ok = { wq: zeros("f32", [8, 4]), wk: zeros("f32", [4, 4]), kmax: zeros("f32", [4]) };
    expect(bindInputs(sa, ok)).toEqual({ NQ: 8, C: 4, NK: 4 });
    expect(bindInputs(sa, { ...ok, qmax: zeros("f32", [8]) })).toEqual({ NQ: 8, C: 4, NK: 4 });
    const e = thrown(() => bindInputs(sa, { ...ok, wk: zeros("f64", [4, 4]) }));
    expect(e).toBeInstanceOf(DTypeError);
    expect((e as Error).message).toContain("'wk'");
    expect((e as Error).message).toContain("'wq'");
    // an optional input, when given, is checked like any other
    const e2 = thrown(() => bindInputs(sa, { ...ok, qmax: zeros("f32", [7]) }));
    expect(e2).toBeInstanceOf(ShapeError);
    expect((e2 as Error).message).toContain("'qmax'");
    const qc = getSignature("quant_weight_chn");
    expect(bindInputs(qc, { w: zeros("f32", [3, 5]) })).toEqual({ N: 3, K: 5 });
    expect(thrown(() => bindInputs(qc, { w: zeros("f32", [3, 5]), ratio: zeros("f16", [3]) }))).toBeInstanceOf(DTypeError);
    // a concrete shape error message
    const g = getSignature("gemm_w8a8");
    const e3 = thrown(() => bindInputs(g, { xq: zeros("i8", [2, 16]), xscale: zeros("f16", [2]), q: zeros("i8", [4, 15]), scale: zeros("f16", [4]) }));
    expect(e3).toBeInstanceOf(ShapeError);
    expect((e3 as Error).message).toMatch(/'q'.*K.*15.*16/);
  });
});

describe("resolveParams", () => {
  it("fills defaults", () => {
    expect(resolveParams(getSignature("rmsnorm_quant"))).toEqual({ eps: 1e-5 });
    expect(resolveParams(getSignature("rope"), {})).toEqual({ style: "rotate_half" });
    expect(resolveParams(getSignature("quant_weight_g128"))).toEqual({ group: 128 });
    expect(resolveParams(getSignature("clip_search"))).toEqual({ grid: 80, max_shrink: 0.8 });
    expect(resolveParams(getSignature("quant_act_int8"))).toEqual({});
  });

  it("every op without required parameters resolves {} to its defaults", () => {
    for (const name of OP_NAMES) {
      const sig = OP_SIGNATURES[name];
      if (sig.params.some((p) => p.default === undefined)) continue;
      const want: Record<string, number | string> = {};
      for (const p of sig.params) want[p.name] = p.default!;
      expect(resolveParams(sig)).toEqual(want);
    }
  });

  it("converts CLI strings to numbers and keeps given values", () => {
    expect(resolveParams(getSignature("rmsnorm_quant"), { eps: "1e-6" })).toEqual({ eps: 1e-6 });
    expect(resolveParams(getSignature("quant_weight_g128"), { group: "64" })).toEqual({ group: 64 });
    expect(resolveParams(getSignature("quant_weight_g128"), { group: " 32 " })).toEqual({ group: 32 });
    expect(resolveParams(getSignature("rope"), { style: "interleaved" })).toEqual({ style: "interleaved" });
    expect(resolveParams(getSignature("smooth_attention"), { heads: "8", kv_heads: 2 })).toEqual({ heads: 8, kv_heads: 2, alpha: 0.5, beta: 0, style: "rotate_half" });
    expect(resolveParams(getSignature("clip_search"), { grid: 10000, max_shrink: "0" })).toEqual({ grid: 10000, max_shrink: 0 });
  });

  const cases: [string, Record<string, number | string>, RegExp][] = [
    ["quant_weight_g128", { group: 1.5 }, /'group'.*integer/],
    ["quant_weight_g128", { group: "1.5" }, /'group'.*integer/],
    ["quant_weight_g128", { group: 2 ** 53 }, /'group'.*integer/],
    ["quant_weight_g128", { group: 0 }, /'group'.*≥ 1/],
    ["quant_weight_g128", { group: -128 }, /'group'/],
    ["quant_weight_g128", { group: "" }, /'group'.*finite/],
    ["quant_weight_g128", { group: "  " }, /'group'/],
    ["quant_weight_g128", { group: "abc" }, /'group'.*finite/],
    ["quant_weight_g128", { group: "NaN" }, /'group'/],
    ["quant_weight_g128", { group: NaN }, /'group'/],
    ["quant_weight_g128", { group: Infinity }, /'group'/],
    ["rmsnorm_quant", { eps: "Infinity" }, /'eps'/],
    ["rmsnorm_quant", { eps: -1e-9 }, /'eps'.*≥ 0/],
    ["clip_search", { grid: 10001 }, /'grid'.*≤ 10000/],
    ["clip_search", { max_shrink: 0.995 }, /'max_shrink'.*≤ 0.99/],
    ["smooth_linear", { alpha: -0.1 }, /'alpha'/],
    ["smooth_linear", { beta: 1.5 }, /'beta'/],
    ["rope", { style: "sideways" }, /'style'.*rotate_half.*interleaved.*sideways/],
    ["rope", { style: 1 }, /'style'/],
    ["hadamard_rotate", { side: "INPUT" }, /'side'/],
    ["rope", { foo: 1 }, /unknown parameter 'foo'.*style/],
    ["quant_act_int8", { group: 128 }, /unknown parameter 'group'.*none/],
    ["smooth_attention", {}, /'heads'.*required/],
    ["smooth_attention", { heads: 8 }, /'kv_heads'.*required/],
    ["smooth_attention", { heads: 0, kv_heads: 1 }, /'heads'/],
  ];
  it.each(cases)("%s %j → ParamError", (op, params, msg) => {
    const e = thrown(() => resolveParams(getSignature(op), params));
    expect(e).toBeInstanceOf(ParamError);
    expect((e as ParamError).code).toBe("param");
    expect((e as Error).message).toContain(op);
    expect((e as Error).message).toMatch(msg);
  });

  it("numbers in range are accepted and out of range rejected, for every numeric parameter", () => {
    const numeric = OP_NAMES.flatMap((n) => OP_SIGNATURES[n].params.filter((p) => p.kind !== "enum").map((p) => [n, p] as const));
    expect(numeric.length).toBeGreaterThan(5);
    fc.assert(
      fc.property(fc.constantFrom(...numeric), fc.double({ min: -20000, max: 20000, noNaN: true }), fc.boolean(), ([op, p], v0, asString) => {
        const sig = OP_SIGNATURES[op];
        const v = p.kind === "int" ? Math.round(v0) : v0;
        const base: Record<string, number | string> = {};
        for (const q of sig.params) if (q.default === undefined) base[q.name] = q.kind === "int" ? (q.min ?? 1) : (q.min ?? 0);
        const params = { ...base, [p.name]: asString ? String(v) : v };
        const inRange = (p.min === undefined || v >= p.min) && (p.max === undefined || v <= p.max);
        if (inRange) expect(resolveParams(sig, params)[p.name] === v).toBe(true); // (=== so that −0 and 0 both pass)
        else expect(thrown(() => resolveParams(sig, params))).toBeInstanceOf(ParamError);
      }),
      propertyOptions(500),
    );
  });
});
