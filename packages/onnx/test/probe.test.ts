/**
 * The float16 findings of README.md, re-measured: which operators the CPU provider runs with a
 * float16 kernel, and that its inserted casts drop the binary16 rounding between nodes (which is
 * why the graphs here round explicitly).
 */
import { describe, expect, it } from "vitest";
import { GraphBuilder, OnnxDataType, OnnxModel, onnxruntimeVersion, probeFp16Ops, roundF16 } from "../src/index.js";
import { toF16Bits } from "@qoq/core";

describe("float16 on onnxruntime's CPU provider", () => {
  it("runs the version the README's table was measured with", () => {
    expect(onnxruntimeVersion()).toBe("1.30.0");
  });

  it.runIf(process.arch === "x64")("matches the README table on x86-64", async () => {
    const status = Object.fromEntries((await probeFp16Ops()).map((r) => [r.op, r.status]));
    for (const op of ["SimplifiedLayerNormalization", "LayerNormalization", "Max", "Min", "Concat", "Reshape", "Transpose", "Slice", "Unsqueeze", "Squeeze", "Expand"]) {
      expect(status[op], op).toBe("native");
    }
    expect(status["Gather (float16 data, int64 indices)"]).toBe("native");
    for (const op of ["Add", "Sub", "Mul", "Div", "Sqrt", "Pow", "Neg", "Exp", "Sigmoid", "Cos", "Sin", "MatMul", "Gemm (transB)", "ReduceMean (axes input)", "Tile", "Trilu (lower)"]) {
      expect(status[op], op).toBe("cast");
    }
    expect(status["Softmax (axis −1)"]).toBe("cast");
    expect(status["Where (bool condition)"]).toBe("cast");
  });

  it("a chain of float16 nodes is computed in float32 without binary16 rounding between them; explicit Cast pairs round", async () => {
    const a = 1 + 2 ** -10;
    const b = 1 + 2 ** -9; // a·a = 1 + 2⁻⁹ + 2⁻²⁰: rounded to binary16 it equals b, unrounded it exceeds b by 2⁻²⁰
    const run = async (explicit: boolean): Promise<number> => {
      const g = new GraphBuilder("chain");
      g.input("a", OnnxDataType.FLOAT16, [1]);
      g.input("b", OnnxDataType.FLOAT16, [1]);
      if (explicit) {
        const [x, y] = [g.cast("a", OnnxDataType.FLOAT), g.cast("b", OnnxDataType.FLOAT)];
        g.op("Cast", [g.op("Sub", [roundF16(g, g.op("Mul", [x, x])), y])], { to: OnnxDataType.FLOAT }, "out");
      } else {
        g.op("Cast", [g.op("Sub", [g.op("Mul", ["a", "a"]), "b"])], { to: OnnxDataType.FLOAT }, "out");
      }
      g.output("out", OnnxDataType.FLOAT, [1]);
      const m = await OnnxModel.create("chain", g.build());
      const bits = (v: number): { type: "float16"; dims: number[]; data: Uint16Array } => ({ type: "float16", dims: [1], data: Uint16Array.of(toF16Bits(v)) });
      const out = await m.run({ a: bits(a), b: bits(b) });
      await m.dispose();
      return (out.out!.data as Float32Array)[0]!;
    };
    if (process.arch === "x64") expect(await run(false)).toBe(2 ** -20);
    expect(await run(true)).toBe(0);
  });
});
