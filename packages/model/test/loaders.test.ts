/** Loaders: every kind of broken file is a typed error; an HF checkpoint of stories260K gives the .bin's logits. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { f16, QoqError, readSafetensorsFile, serializeSafetensors, writeSafetensorsFile } from "@qoq/core";
import {
  createFp32Model,
  hfConfigJson,
  loadHfCheckpoint,
  loadLlama2cBin,
  ModelFormatError,
  parseLlama2cBin,
  permuteInterleavedToRotateHalf,
  syntheticWeights,
  toHfTensors,
  writeHfCheckpoint,
  type LlamaWeights,
} from "../src/index.js";
import { dataFile } from "./data.js";

let bin: Uint8Array;
let w: LlamaWeights;
let tmp: string;
beforeAll(() => {
  bin = readFileSync(dataFile("stories260K.bin"));
  w = loadLlama2cBin(dataFile("stories260K.bin"));
  tmp = mkdtempSync(join(tmpdir(), "qoq-model-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The error a thunk throws (fails the test if it does not throw). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("llama2.c .bin", () => {
  it("reads the tensors at the documented offsets (spot checks against raw bytes)", () => {
    const v = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
    expect(w.tokenEmbedding[0]).toBe(v.getFloat32(28, true));
    // wq of layer 0 starts after the embedding (512·64) and rms_att (5·64)
    expect(w.layers[0]!.wq[0]).toBe(v.getFloat32(28 + 4 * (32768 + 320), true));
    // rms_final: the 64 floats before the 4096 legacy RoPE floats at the end
    expect(w.finalNorm[63]).toBe(v.getFloat32(bin.length - 4 * 4096 - 4, true));
    expect(w.layers[4]!.w3.at(-1)).toBe(v.getFloat32(bin.length - 4 * 4096 - 4 * 64 - 4, true));
  });

  const mutate = (f: (v: DataView, b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(bin);
    f(new DataView(b.buffer), b);
    return b;
  };

  it("rejects a truncated file, naming the file", () => {
    const e = thrown(() => parseLlama2cBin(bin.subarray(0, bin.length - 4), "s.bin"));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/truncated.*s\.bin/);
    expect(thrown(() => parseLlama2cBin(bin.subarray(0, 20), "s.bin"))).toBeInstanceOf(ModelFormatError);
  });

  it("rejects trailing bytes", () => {
    const b = new Uint8Array(bin.length + 4);
    b.set(bin);
    expect(thrown(() => parseLlama2cBin(b, "s.bin")).message).toMatch(/trailing bytes/);
  });

  it("rejects bad headers", () => {
    const cases: [number, number, RegExp][] = [
      [0, 0, /dim = 0 must be positive/],
      [12, 7, /not a multiple of n_heads/], // dim 64 % 7
      [16, 3, /not a multiple of n_kv_heads/], // 8 % 3
      [16, -4, /n_kv_heads = -4/],
      [24, 0, /seq_len = 0/],
      [8, 4, /needs \d+ bytes/], // n_layers 4: sizes no longer add up
      [20, -512, /needs \d+ bytes/], // separate classifier would need wcls
    ];
    for (const [off, val, re] of cases) {
      const e = thrown(() => parseLlama2cBin(mutate((v) => v.setInt32(off, val, true)), "s.bin"));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(re);
    }
    // odd head size: dim 72, 8 heads → head size 9 (sizes would not add up either; the header check comes first)
    expect(thrown(() => parseLlama2cBin(mutate((v) => v.setInt32(0, 72, true)), "s.bin")).message).toMatch(/head size 9 is odd/);
  });

  it("rejects NaN and infinite weights, naming tensor and byte offset", () => {
    const off = 28 + 4 * (32768 + 320 + 20480 + 7); // wk element 7
    const e = thrown(() => parseLlama2cBin(mutate((v) => v.setFloat32(off, NaN, true)), "s.bin")) as ModelFormatError;
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.tensor).toBe("wk");
    expect(e.offset).toBe(off);
    expect(e.message).toMatch(new RegExp(`tensor 'wk', byte offset ${off}`));
    const e2 = thrown(() => parseLlama2cBin(mutate((v) => v.setFloat32(28, -Infinity, true)), "s.bin")) as ModelFormatError;
    expect(e2.tensor).toBe("token_embedding_table");
  });

  it("reports a missing file as a typed error", () => {
    expect(thrown(() => loadLlama2cBin(join(tmp, "nope.bin")))).toBeInstanceOf(QoqError);
  });
});

describe("interleaved → rotate-half", () => {
  it("permutes rows per head: new j ← old 2j, new hd/2+j ← old 2j+1", () => {
    // 2 heads of hd 4, dim 1: rows [0..7] → [0,2,1,3, 4,6,5,7]
    const p = permuteInterleavedToRotateHalf(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 2, 4, 1);
    expect(Array.from(p)).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });
});

describe("Hugging Face checkpoints", () => {
  it("stories260K written as HF (rotate-half, 3 shards) loads back and gives the .bin's logits bit for bit", async () => {
    const dir = join(tmp, "hf260k");
    writeHfCheckpoint(dir, w, { shards: 3 });
    const hf = loadHfCheckpoint(dir);
    expect(hf.config).toEqual({ ...w.config, ropeStyle: "rotate_half" });
    expect(hf.classifier).toBe(hf.tokenEmbedding); // tied
    // wk row hd/2 of head 0 is the .bin's row 1
    expect(Array.from(hf.layers[2]!.wk.subarray(4 * 64, 5 * 64))).toEqual(Array.from(w.layers[2]!.wk.subarray(64, 128)));
    const prompt = [1, 403, 261, 317, 265, 10, 99, 410, 288, 7];
    const a = await createFp32Model(w).newSession().forward(prompt);
    const b = await createFp32Model(hf).newSession().forward(prompt);
    for (let t = 0; t < prompt.length; t++) expect(Array.from(b[t]!)).toEqual(Array.from(a[t]!));
    // Without the permutation the rotate-half model is a different model:
    const wrong = await createFp32Model({ ...w, config: { ...w.config, ropeStyle: "rotate_half" } }).newSession().forward(prompt);
    expect(Array.from(wrong.at(-1)!)).not.toEqual(Array.from(a.at(-1)!));
  });

  it("F16 checkpoints convert exactly; an untied synthetic model round-trips", () => {
    const s = syntheticWeights({ dim: 32, hiddenDim: 48, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 40, seqLen: 16, ropeTheta: 500000, ropeStyle: "rotate_half", normEps: 1e-6, tiedEmbeddings: false }, { seed: 3 });
    const d16 = join(tmp, "syn16");
    writeHfCheckpoint(d16, s, { dtype: "f16" });
    const back = loadHfCheckpoint(d16);
    expect(back.config).toEqual(s.config);
    expect(back.classifier).not.toBe(back.tokenEmbedding);
    for (let i = 0; i < 200; i++) expect(back.layers[0]!.w2[i]).toBe(f16(s.layers[0]!.w2[i]!));
    const d32 = join(tmp, "syn32");
    writeHfCheckpoint(d32, s);
    expect(Array.from(loadHfCheckpoint(d32).classifier)).toEqual(Array.from(s.classifier));
  });

  const small = syntheticWeights({ dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 20, seqLen: 8, ropeTheta: 10000, ropeStyle: "rotate_half", normEps: 1e-5, tiedEmbeddings: false }, { seed: 1 });
  const writeDir = (name: string, edit: (t: Record<string, unknown>, cfg: Record<string, unknown>) => void): string => {
    const dir = join(tmp, name);
    writeHfCheckpoint(dir, small);
    const tensors = readSafetensorsFile(join(dir, "model.safetensors")).tensors as Record<string, unknown>;
    const cfg = hfConfigJson(small.config);
    edit(tensors, cfg);
    writeSafetensorsFile(join(dir, "model.safetensors"), tensors as never);
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    return dir;
  };

  it("a missing tensor is a typed error naming it", () => {
    const dir = writeDir("missing", (t) => delete t["model.layers.1.mlp.down_proj.weight"]);
    const e = thrown(() => loadHfCheckpoint(dir)) as ModelFormatError;
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.tensor).toBe("model.layers.1.mlp.down_proj.weight");
  });

  it("a wrong shape is a typed error naming tensor, file and byte offset", () => {
    const dir = writeDir("shape", (t) => {
      t["model.layers.0.self_attn.k_proj.weight"] = { dtype: "f32", shape: [16, 8], data: new Float32Array(128) };
    });
    const e = thrown(() => loadHfCheckpoint(dir)) as ModelFormatError;
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/shape \[16, 8\], expected \[8, 16\]/);
    expect(e.tensor).toBe("model.layers.0.self_attn.k_proj.weight");
    expect(e.file).toMatch(/model\.safetensors$/);
    expect(e.offset).toBeGreaterThan(8);
  });

  it("a NaN weight is a typed error with its byte offset", () => {
    const dir = writeDir("nan", (t) => {
      const x = t["model.norm.weight"] as { data: Float32Array };
      x.data[5] = NaN;
    });
    const e = thrown(() => loadHfCheckpoint(dir)) as ModelFormatError;
    expect(e.tensor).toBe("model.norm.weight");
    const bytes = readFileSync(join(dir, "model.safetensors"));
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(Number.isNaN(v.getFloat32(e.offset!, true))).toBe(true);
  });

  it("an unexpected tensor, a wrong dtype and a broken safetensors file are typed errors", () => {
    expect(thrown(() => loadHfCheckpoint(writeDir("extra", (t) => (t["model.layers.2.mlp.up_proj.weight"] = { dtype: "f32", shape: [1], data: new Float32Array(1) }))))).toBeInstanceOf(ModelFormatError);
    expect(thrown(() => loadHfCheckpoint(writeDir("dtype", (t) => (t["model.norm.weight"] = { dtype: "i32", shape: [16], data: new Int32Array(16) }))))).toBeInstanceOf(ModelFormatError);
    const dir = writeDir("trunc", () => undefined);
    const b = readFileSync(join(dir, "model.safetensors"));
    writeFileSync(join(dir, "model.safetensors"), b.subarray(0, b.length - 3));
    expect(thrown(() => loadHfCheckpoint(dir))).toBeInstanceOf(ModelFormatError);
  });

  it("bad config.json is a typed error", () => {
    const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
      ["nohidden", (c) => delete c.hidden_size, /lacks 'hidden_size'/],
      ["negheads", (c) => (c.num_attention_heads = -2), /num_attention_heads/],
      ["kvheads", (c) => (c.num_key_value_heads = 3), /inconsistent/],
      ["theta", (c) => (c.rope_theta = "big"), /rope_theta/],
      ["tie", (c) => (c.tie_word_embeddings = "yes"), /tie_word_embeddings/],
      ["act", (c) => (c.hidden_act = "gelu"), /hidden_act/],
      ["scaling", (c) => (c.rope_scaling = { type: "linear", factor: 2 }), /rope_scaling/],
    ];
    for (const [name, edit, re] of cases) {
      const e = thrown(() => loadHfCheckpoint(writeDir(`cfg-${name}`, (_t, c) => edit(c))));
      expect(e).toBeInstanceOf(ModelFormatError);
      expect(e.message).toMatch(re);
    }
    const dir = writeDir("cfg-json", () => undefined);
    writeFileSync(join(dir, "config.json"), "{ not json");
    expect(thrown(() => loadHfCheckpoint(dir)).message).toMatch(/not valid JSON/);
    writeFileSync(join(dir, "config.json"), "[1, 2]");
    expect(thrown(() => loadHfCheckpoint(dir))).toBeInstanceOf(ModelFormatError);
    rmSync(join(dir, "config.json"));
    expect(thrown(() => loadHfCheckpoint(dir))).toBeInstanceOf(QoqError);
  });

  it("a tensor in two shards is a typed error", () => {
    const dir = writeDir("dup", () => undefined);
    writeFileSync(join(dir, "model-extra.safetensors"), serializeSafetensors({ "model.norm.weight": toHfTensors(small)["model.norm.weight"]! }));
    expect(thrown(() => loadHfCheckpoint(dir)).message).toMatch(/also present/);
  });
});
