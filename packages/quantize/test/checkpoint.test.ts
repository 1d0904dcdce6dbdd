/**
 * Tests of the QoQ checkpoint format (src/checkpoint.ts): round trips for every variant
 * (g128 with and without padding, chn, w8a8, a tied classifier), byte determinism, a hostile-file
 * suite (each validation gives its typed error naming the tensor or metadata key), save-side
 * validation, fast-check properties (random mutations never crash with a non-QoqError), and
 * bit-identical logits of the loaded model.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DTypeError,
  NonFiniteError,
  ParamError,
  parseSafetensors,
  propertyOptions,
  QoqError,
  RangeViolationError,
  SafetensorsError,
  serializeSafetensors,
  ShapeError,
  tensor,
  type NamedTensors,
  type Tensor,
} from "@qoq/core";
import { createQuantizedModel, loadLlama2cBin, quantizeRtn, syntheticWeights, type LlamaConfig, type QuantizedLinear, type QuantizedModel, type QuantVariant } from "@qoq/model";
import { createReferenceBackend } from "@qoq/reference";
import {
  canonicalJson,
  checkpointTensorNames,
  loadQoqCheckpoint,
  QOQ_CHECKPOINT_WRITER,
  saveQoqCheckpoint,
  type QoqCheckpointInfo,
} from "../src/checkpoint.js";
import { dataFile } from "./data.js";

/** dim 48 and hidden 80 are multiples of neither 32 nor 128: group 32 and group 128 both pad. */
const SMALL: LlamaConfig = {
  dim: 48,
  hiddenDim: 80,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 64,
  seqLen: 64,
  ropeTheta: 10000,
  ropeStyle: "rotate_half",
  normEps: 1e-5,
  tiedEmbeddings: false,
};

/** One layer, interleaved RoPE, tied classifier. */
const TIED: LlamaConfig = { ...SMALL, nLayers: 1, ropeStyle: "interleaved", tiedEmbeddings: true };

/** A tiny model for the properties (fast to parse many times). */
const TINY: LlamaConfig = { ...SMALL, dim: 16, hiddenDim: 24, nLayers: 1, nHeads: 2, nKvHeads: 1, vocabSize: 16 };

const META: QoqCheckpointInfo = {
  steps: { rotate: { kind: "hadamard", blocks: [64] }, smoothAttention: { alpha: 0.5 }, clip: { grid: 20, maxShrink: 0.5 } },
  calibration: { sha256: "a".repeat(64), samples: 4, tokens: 512, source: "tinystories_val.txt" },
};

async function rtn(config: LlamaConfig, variant: QuantVariant, group?: number, seed = 7): Promise<QuantizedModel> {
  const opts = group === undefined ? { variant } : { variant, group };
  return quantizeRtn(syntheticWeights(config, { seed }), createReferenceBackend(), opts);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The bytes of a Float32Array (bit patterns, so −0 and NaN payloads count). */
function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

interface Case {
  label: string;
  config: LlamaConfig;
  variant: QuantVariant;
  group?: number;
}

const CASES: Case[] = [
  { label: "g128, group 128 (padded: 48 → 128, 80 → 128)", config: SMALL, variant: "g128" },
  { label: "g128, group 32 (padded: 48 → 64, 80 → 96)", config: SMALL, variant: "g128", group: 32 },
  { label: "g128, group 16 (no padding)", config: SMALL, variant: "g128", group: 16 },
  { label: "chn", config: SMALL, variant: "chn" },
  { label: "w8a8", config: SMALL, variant: "w8a8" },
  { label: "g128, tied classifier", config: TIED, variant: "g128", group: 32 },
];

const models = new Map<string, QuantizedModel>();
beforeAll(async () => {
  for (const c of CASES) models.set(c.label, await rtn(c.config, c.variant, c.group));
});

describe("round trip", () => {
  for (const c of CASES) {
    it(`${c.label}: load(save(m)) deep-equals m and save(load(bytes)) === bytes`, () => {
      const m = models.get(c.label)!;
      const bytes = saveQoqCheckpoint(m, META);
      const { model, meta } = loadQoqCheckpoint(bytes, "rt.safetensors");
      expect(model).toEqual(m);
      expect(model.method).toBe("rtn");
      expect(meta).toEqual({
        ...META,
        method: "rtn",
        formatVersion: 1,
        qoqRef: "QoQ-ref v1",
        writer: QOQ_CHECKPOINT_WRITER,
        config: c.config,
        variant: c.variant,
        group: c.group ?? 128,
        tiedLmHead: c.config.tiedEmbeddings,
      });
      expect(meta.config).toBe(model.config);
      expect(sameBytes(saveQoqCheckpoint(model, meta), bytes)).toBe(true);
      // The file holds exactly the documented tensors.
      const names = Object.keys(parseSafetensors(bytes).tensors).sort();
      expect(names).toEqual(checkpointTensorNames(c.config, c.variant, c.group ?? 128, c.config.tiedEmbeddings).sort());
    });
  }

  it("a tied classifier is stored once and comes back as the same tensor object", () => {
    const m = models.get(CASES[5]!.label)!;
    expect(m.lmHead).toBe(m.tokenEmbedding);
    const bytes = saveQoqCheckpoint(m, { steps: {} });
    const st = parseSafetensors(bytes);
    expect(Object.hasOwn(st.tensors, "lm_head.weight")).toBe(false);
    expect(st.metadata.lm_head).toBe("tied");
    const { model } = loadQoqCheckpoint(bytes);
    expect(model.lmHead).toBe(model.tokenEmbedding);
  });

  it("a separate classifier with the same values is still stored separately", () => {
    const m = models.get(CASES[5]!.label)!;
    const copy: QuantizedModel = { ...m, lmHead: tensor("f16", m.lmHead.shape, m.lmHead.data.slice()) };
    const bytes = saveQoqCheckpoint(copy, { steps: {} });
    expect(parseSafetensors(bytes).metadata.lm_head).toBe("separate");
    const { model } = loadQoqCheckpoint(bytes);
    expect(model.lmHead).not.toBe(model.tokenEmbedding);
    expect(model).toEqual(copy);
  });

  it("a method other than rtn round-trips, and calibration is optional", () => {
    const m = { ...models.get(CASES[0]!.label)!, method: "qoq" };
    const { model, meta } = loadQoqCheckpoint(saveQoqCheckpoint(m, { method: "qoq", steps: {} }));
    expect(model.method).toBe("qoq");
    expect(meta.method).toBe("qoq");
    expect(Object.hasOwn(meta, "calibration")).toBe(false);
    expect(meta.steps).toEqual({});
  });

  it("metadata is canonical JSON with sorted keys and no timestamps", () => {
    const md = parseSafetensors(saveQoqCheckpoint(models.get(CASES[0]!.label)!, META)).metadata;
    expect(md.steps).toBe('{"clip":{"grid":20,"maxShrink":0.5},"rotate":{"blocks":[64],"kind":"hadamard"},"smoothAttention":{"alpha":0.5}}');
    expect(md.config).toBe(
      '{"dim":48,"hiddenDim":80,"nHeads":4,"nKvHeads":2,"nLayers":2,"normEps":0.00001,"ropeStyle":"rotate_half","ropeTheta":10000,"seqLen":64,"tiedEmbeddings":false,"vocabSize":64}',
    );
    expect(md.format).toBe("qoq-checkpoint");
    expect(md.format_version).toBe("1");
    expect(md.qoq_ref).toBe("QoQ-ref v1");
    expect(md.variant).toBe("g128");
    expect(md.group).toBe("128");
    expect(JSON.parse(md.calibration!)).toEqual(META.calibration);
  });
});

describe("determinism", () => {
  it("two saves of one model are byte-identical", () => {
    const m = models.get(CASES[1]!.label)!;
    expect(sameBytes(saveQoqCheckpoint(m, META), saveQoqCheckpoint(m, META))).toBe(true);
  });

  it("quantizing the same weights again gives the same bytes", async () => {
    const again = await rtn(SMALL, "g128", 32);
    expect(sameBytes(saveQoqCheckpoint(again, META), saveQoqCheckpoint(models.get(CASES[1]!.label)!, META))).toBe(true);
  });

  it("the key order of steps and calibration does not matter", () => {
    const m = models.get(CASES[3]!.label)!;
    const a = saveQoqCheckpoint(m, { steps: { b: { y: 1, x: [2, { q: 1, p: 0 }] }, a: null }, calibration: { tokens: 5, samples: 1, sha256: "0".repeat(64) } });
    const b = saveQoqCheckpoint(m, { steps: { a: null, b: { x: [2, { p: 0, q: 1 }], y: 1 } }, calibration: { sha256: "0".repeat(64), samples: 1, tokens: 5 } });
    expect(sameBytes(a, b)).toBe(true);
  });

  it("different models give different bytes", () => {
    expect(sameBytes(saveQoqCheckpoint(models.get(CASES[0]!.label)!, META), saveQoqCheckpoint(models.get(CASES[1]!.label)!, META))).toBe(false);
  });
});

describe("canonicalJson", () => {
  it("sorts keys, drops undefined properties, writes numbers as JSON does", () => {
    expect(canonicalJson({ b: 1, a: [true, null, "x"], c: undefined, d: { z: -0, y: 1e-7 } })).toBe('{"a":[true,null,"x"],"b":1,"d":{"y":1e-7,"z":0}}');
  });
  it.each([
    ["NaN", { a: Number.NaN }],
    ["Infinity", { a: [Infinity] }],
    ["undefined in an array", { a: [undefined] }],
    ["a function", { f: () => 1 }],
    ["a bigint", { n: 1n }],
    ["a Date", { d: new Date(0) }],
    ["a typed array", { t: new Uint8Array(2) }],
  ])("rejects %s with a ParamError naming the path", (_label, v) => {
    expect(() => canonicalJson(v, "steps")).toThrow(ParamError);
    expect(() => canonicalJson(v, "steps")).toThrow(/steps\./);
  });
  it("keeps a '__proto__' key that JSON.parse made an own property", () => {
    const v = JSON.parse('{"b":1,"__proto__":{"x":[1]}}') as Record<string, unknown>;
    expect(canonicalJson(v)).toBe('{"__proto__":{"x":[1]},"b":1}');
  });
  it("rejects cycles and deep nesting", () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    expect(() => canonicalJson(o)).toThrow(/cycle/);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/deeper/);
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile files

/** Re-serialize a valid checkpoint after editing its tensors and metadata. */
function edit(bytes: Uint8Array, fn: (t: NamedTensors, md: Record<string, string>) => void): Uint8Array {
  const { tensors, metadata } = parseSafetensors(bytes);
  fn(tensors, metadata);
  return serializeSafetensors(tensors, metadata);
}

/** Set element `i` of tensor `name` (raw storage value: code, or binary16 bits). */
function setElem(name: string, i: number, v: number): (t: NamedTensors) => void {
  return (t) => {
    (t[name]!.data as Uint8Array | Int8Array | Uint16Array)[i] = v;
  };
}

/** Load, expecting an error of class `cls` whose message contains every string of `needles`. */
function expectLoadError(bytes: Uint8Array, cls: new (...a: never[]) => QoqError, ...needles: string[]): QoqError {
  let err: unknown;
  try {
    loadQoqCheckpoint(bytes, "hostile.safetensors");
  } catch (e) {
    err = e;
  }
  expect(err, "load should have thrown").toBeInstanceOf(cls);
  for (const s of needles) expect((err as Error).message).toContain(s);
  return err as QoqError;
}

const L0 = "model.layers.0.";
const L1 = "model.layers.1.";

describe("hostile files: each violation gives its typed error", () => {
  let g128: Uint8Array; // SMALL, group 128: qkv q is [96, 128], real K = 48
  let chn: Uint8Array;
  let w8: Uint8Array;
  let tied: Uint8Array;
  beforeAll(() => {
    g128 = saveQoqCheckpoint(models.get(CASES[0]!.label)!, META);
    chn = saveQoqCheckpoint(models.get(CASES[3]!.label)!, META);
    w8 = saveQoqCheckpoint(models.get(CASES[4]!.label)!, META);
    tied = saveQoqCheckpoint(models.get(CASES[5]!.label)!, META);
  });

  // -- container
  it("truncated by one byte", () => void expectLoadError(g128.subarray(0, g128.length - 1), SafetensorsError, "hostile.safetensors", "runs past"));
  it("truncated inside the header", () => void expectLoadError(g128.subarray(0, 100), SafetensorsError, "header length"));
  it("shorter than the length prefix", () => void expectLoadError(g128.subarray(0, 5), SafetensorsError, "shorter than the 8-byte"));
  it("header that is not JSON", () => {
    const b = g128.slice();
    b[8] = 0x5b; // '[' instead of '{'
    expectLoadError(b, SafetensorsError, "'{'");
  });

  // -- format tag, version, metadata
  it("a plain safetensors file without metadata", () => void expectLoadError(serializeSafetensors(parseSafetensors(g128).tensors), SafetensorsError, "not a QoQ checkpoint", "'format'"));
  it("wrong format tag", () => void expectLoadError(edit(g128, (_t, md) => (md.format = "gguf")), SafetensorsError, "'format'", "not a QoQ checkpoint"));
  it("newer format version", () => void expectLoadError(edit(g128, (_t, md) => (md.format_version = "2")), SafetensorsError, "'format_version'", "newer"));
  it("malformed format version", () => void expectLoadError(edit(g128, (_t, md) => (md.format_version = "1.0")), SafetensorsError, "'format_version'"));
  it("other numerics contract", () => void expectLoadError(edit(g128, (_t, md) => (md.qoq_ref = "QoQ-ref v2")), SafetensorsError, "'qoq_ref'"));
  it("unknown metadata key", () => void expectLoadError(edit(g128, (_t, md) => (md.created = "2026-11-27")), SafetensorsError, "'created'"));
  it("missing metadata key", () => void expectLoadError(edit(g128, (_t, md) => delete md.steps), SafetensorsError, "'steps'", "missing"));
  it("steps that are not JSON", () => void expectLoadError(edit(g128, (_t, md) => (md.steps = "{rotate: true}")), SafetensorsError, "'steps'", "JSON"));
  it("steps that are a JSON array", () => void expectLoadError(edit(g128, (_t, md) => (md.steps = "[1,2]")), SafetensorsError, "'steps'", "object"));
  it("steps holding a number JSON cannot represent", () => void expectLoadError(edit(g128, (_t, md) => (md.steps = '{"a":1e999}')), SafetensorsError, "'steps'", "Infinity"));
  it("calibration with a bad hash", () => void expectLoadError(edit(g128, (_t, md) => (md.calibration = '{"sha256":"xyz","samples":1,"tokens":2}')), SafetensorsError, "'calibration'", "sha256"));
  it("calibration with a negative token count", () =>
    void expectLoadError(edit(g128, (_t, md) => (md.calibration = JSON.stringify({ sha256: "b".repeat(64), samples: 1, tokens: -2 }))), SafetensorsError, "'calibration'", "tokens"));
  it("config that is not JSON", () => void expectLoadError(edit(g128, (_t, md) => (md.config = "dim=48")), SafetensorsError, "'config'"));
  it("config failing validateConfig", () => void expectLoadError(edit(g128, (_t, md) => (md.config = md.config!.replace('"nHeads":4', '"nHeads":5'))), ParamError, "'config'", "nHeads"));
  it("config with an unknown key", () => void expectLoadError(edit(g128, (_t, md) => (md.config = md.config!.replace("{", '{"rope_scaling":2,'))), ParamError, "'config'", "rope_scaling"));
  it("config with a wrongly typed field", () => void expectLoadError(edit(g128, (_t, md) => (md.config = md.config!.replace('"tiedEmbeddings":false', '"tiedEmbeddings":0'))), ParamError, "tiedEmbeddings"));
  it("unknown variant", () => void expectLoadError(edit(g128, (_t, md) => (md.variant = "w3a8")), SafetensorsError, "'variant'"));
  it("group that is not a positive integer", () => void expectLoadError(edit(g128, (_t, md) => (md.group = "0")), SafetensorsError, "'group'"));
  it("empty method", () => void expectLoadError(edit(g128, (_t, md) => (md.method = "")), SafetensorsError, "'method'"));
  it("bad lm_head value", () => void expectLoadError(edit(g128, (_t, md) => (md.lm_head = "shared")), SafetensorsError, "'lm_head'"));

  // -- tensor set
  it("missing tensor", () => {
    const e = expectLoadError(edit(g128, (t) => delete t[`${L1}mlp.down_proj.s2`]), SafetensorsError, `${L1}mlp.down_proj.s2`, "missing");
    expect((e as SafetensorsError).tensor).toBe(`${L1}mlp.down_proj.s2`);
  });
  it("extra tensor", () => void expectLoadError(edit(g128, (t) => (t[`${L0}self_attn.rotary_emb.inv_freq`] = tensor("f16", [2], new Uint16Array(2)))), SafetensorsError, `${L0}self_attn.rotary_emb.inv_freq`, "unknown tensor"));
  it("extra tensor named like an Object.prototype property", () => void expectLoadError(edit(g128, (t) => Object.defineProperty(t, "constructor", { value: tensor("u8", [1], new Uint8Array(1)), enumerable: true, writable: true, configurable: true })), SafetensorsError, "'constructor'"));
  it("lm_head 'tied' but a classifier is stored", () => void expectLoadError(edit(g128, (_t, md) => (md.lm_head = "tied")), SafetensorsError, "lm_head.weight", "unknown tensor"));
  it("lm_head 'separate' but no classifier is stored", () => void expectLoadError(edit(tied, (_t, md) => (md.lm_head = "separate")), SafetensorsError, "lm_head.weight", "missing"));
  it("a config claiming a billion layers stops at the first missing layer", () => {
    const t0 = performance.now();
    expectLoadError(edit(g128, (_t, md) => (md.config = md.config!.replace('"nLayers":2', '"nLayers":1000000000'))), SafetensorsError, "model.layers.2.input_layernorm.weight", "missing");
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  // -- dtypes
  it("codes stored as I8", () => {
    const name = `${L0}self_attn.qkv_proj.q`;
    expectLoadError(edit(g128, (t) => (t[name] = tensor("i8", t[name]!.shape, new Int8Array((t[name]!.data as Uint8Array).buffer)))), DTypeError, name, "expected u8");
  });
  it("level-1 scales stored as F32", () => {
    const name = `${L1}self_attn.o_proj.s1`;
    expectLoadError(edit(g128, (t) => (t[name] = tensor("f32", t[name]!.shape, new Float32Array(t[name]!.data.length)))), DTypeError, name, "expected f16");
  });
  it("a norm stored as F32", () => void expectLoadError(edit(g128, (t) => (t["model.norm.weight"] = tensor("f32", [48], new Float32Array(48)))), DTypeError, "model.norm.weight"));
  it("w8a8 codes stored as U8", () => {
    const name = `${L0}mlp.down_proj.q`;
    expectLoadError(edit(w8, (t) => (t[name] = tensor("u8", t[name]!.shape, new Uint8Array((t[name]!.data as Int8Array).buffer)))), DTypeError, name);
  });

  // -- shapes
  const reshape = (name: string, shape: number[]) => (t: NamedTensors) => {
    const x = t[name]!;
    t[name] = { ...x, shape } as Tensor;
  };
  it("codes without the g128 padding", () => {
    const name = `${L0}self_attn.qkv_proj.q`; // [96, 128]; an unpadded [96, 48] file
    expectLoadError(edit(g128, (t) => (t[name] = tensor("u8", [96, 48], new Uint8Array(96 * 48)))), ShapeError, name, "[96, 48]", "expected [96, 128]", "kPadded");
  });
  it("codes with the right size but transposed", () => void expectLoadError(edit(g128, reshape(`${L0}mlp.gate_up_proj.q`, [128, 160])), ShapeError, `${L0}mlp.gate_up_proj.q`, "expected [160, 128]"));
  it("zero points with one group too many", () => {
    const name = `${L1}mlp.down_proj.zero`; // [48, 1]
    expectLoadError(edit(g128, (t) => (t[name] = tensor("u8", [48, 2], new Uint8Array(96)))), ShapeError, name);
  });
  it("s2 as a flat vector", () => void expectLoadError(edit(g128, reshape(`${L0}self_attn.o_proj.s2`, [48])), ShapeError, `${L0}self_attn.o_proj.s2`));
  it("embedding with a row missing", () => void expectLoadError(edit(g128, (t) => (t["model.embed_tokens.weight"] = tensor("f16", [63, 48], new Uint16Array(63 * 48)))), ShapeError, "model.embed_tokens.weight", "[vocabSize, dim]"));
  it("norm of the wrong length", () => void expectLoadError(edit(g128, (t) => (t[`${L1}post_attention_layernorm.weight`] = tensor("f16", [47], new Uint16Array(47)))), ShapeError, `${L1}post_attention_layernorm.weight`));
  it("chn zero points per group instead of per row", () => {
    const name = `${L0}self_attn.qkv_proj.zero`;
    expectLoadError(edit(chn, (t) => (t[name] = tensor("u8", [96, 1], new Uint8Array(96)))), ShapeError, name, "expected [96]");
  });

  // -- code ranges
  it("a UINT4 code of 16", () => {
    const name = `${L0}self_attn.qkv_proj.q`;
    const b = edit(g128, setElem(name, 300, 16));
    const e = expectLoadError(b, RangeViolationError, name, "flat index 300", "UINT4") as RangeViolationError;
    expect(e.tensor).toBe(name);
    expect(e.index).toBe(300);
    // The byte offset in the message points at the offending byte.
    const off = Number(/byte offset (\d+)/.exec(e.message)![1]);
    expect(b[off]).toBe(16);
  });
  it("a zero point of 16", () => void expectLoadError(edit(g128, setElem(`${L1}self_attn.o_proj.zero`, 5, 16)), RangeViolationError, `${L1}self_attn.o_proj.zero`, "flat index 5"));
  it("a level-2 scale of 0", () => void expectLoadError(edit(g128, setElem(`${L0}mlp.gate_up_proj.s2`, 7, 0)), RangeViolationError, `${L0}mlp.gate_up_proj.s2`, "level-2 scale 0"));
  it("a level-2 scale of 17", () => void expectLoadError(edit(g128, setElem(`${L0}mlp.gate_up_proj.s2`, 0, 17)), RangeViolationError, `${L0}mlp.gate_up_proj.s2`, "level-2 scale 17"));
  it("the protective range: (15 − 0)·16 = 240", () => {
    const p = `${L0}self_attn.o_proj`; // [48, 128], one group per row, K = 48
    const e = expectLoadError(
      edit(g128, (t) => {
        setElem(`${p}.zero`, 2, 0)(t);
        setElem(`${p}.s2`, 2, 16)(t);
        const q = t[`${p}.q`]!.data as Uint8Array;
        for (let c = 0; c < 128; c++) q[2 * 128 + c] = c < 48 ? 0 : 0; // row 2: all codes 0 → (0 − 0)·16 = 0 …
        q[2 * 128 + 10] = 15; // … except one: (15 − 0)·16 = 240
      }),
      RangeViolationError,
      `${p}.q`,
      "protective",
      "= 240",
    ) as RangeViolationError;
    expect(e.index).toBe(2 * 128 + 10);
  });
  it("the protective range on the negative side: (0 − 15)·16 = −240", () => {
    const p = `${L1}mlp.down_proj`; // [48, 128], K = 80
    expectLoadError(
      edit(g128, (t) => {
        setElem(`${p}.zero`, 0, 15)(t);
        setElem(`${p}.s2`, 0, 16)(t);
        const q = t[`${p}.q`]!.data as Uint8Array;
        q.fill(15, 0, 128); // row 0: w8 = 0 everywhere, padding included …
        q[3] = 0; // … except (0 − 15)·16
      }),
      RangeViolationError,
      `${p}.q`,
      "-240",
    );
  });
  it("a padded column whose code is not the zero point", () => {
    const name = `${L0}self_attn.qkv_proj.q`; // K = 48 of kPadded = 128
    const zero = parseSafetensors(g128).tensors[`${L0}self_attn.qkv_proj.zero`]!.data as Uint8Array;
    const e = expectLoadError(edit(g128, setElem(name, 128 + 100, (zero[1]! + 1) % 16)), RangeViolationError, name, "padded column 100", "w8 = 0") as RangeViolationError;
    expect(e.index).toBe(228);
  });
  it("a negative level-1 scale", () => void expectLoadError(edit(g128, setElem(`${L0}mlp.down_proj.s1`, 4, 0xbc00)), RangeViolationError, `${L0}mlp.down_proj.s1`, "sign bit"));
  it("a level-1 scale of −0", () => void expectLoadError(edit(g128, setElem(`${L0}mlp.down_proj.s1`, 4, 0x8000)), RangeViolationError, `${L0}mlp.down_proj.s1`, "-0"));
  it("a NaN level-1 scale", () => {
    const e = expectLoadError(edit(g128, setElem(`${L1}self_attn.qkv_proj.s1`, 9, 0x7e00)), NonFiniteError, `${L1}self_attn.qkv_proj.s1`, "flat index 9", "byte offset") as NonFiniteError;
    expect(e.tensor).toBe(`${L1}self_attn.qkv_proj.s1`);
  });
  it("an infinite norm γ", () => void expectLoadError(edit(g128, setElem(`${L0}input_layernorm.weight`, 47, 0x7c00)), NonFiniteError, `${L0}input_layernorm.weight`, "flat index 47"));
  it("a NaN in the embedding", () => void expectLoadError(edit(g128, setElem("model.embed_tokens.weight", 1000, 0xfe01)), NonFiniteError, "model.embed_tokens.weight", "flat index 1000"));
  it("−∞ in the classifier", () => void expectLoadError(edit(g128, setElem("lm_head.weight", 3, 0xfc00)), NonFiniteError, "lm_head.weight"));
  it("chn: a code of 200", () => void expectLoadError(edit(chn, setElem(`${L1}mlp.gate_up_proj.q`, 11, 200)), RangeViolationError, `${L1}mlp.gate_up_proj.q`, "flat index 11"));
  it("chn: a zero point of 16", () => void expectLoadError(edit(chn, setElem(`${L0}self_attn.o_proj.zero`, 0, 16)), RangeViolationError, `${L0}self_attn.o_proj.zero`));
  it("chn: an infinite scale", () => void expectLoadError(edit(chn, setElem(`${L0}self_attn.o_proj.scale`, 1, 0x7c00)), NonFiniteError, `${L0}self_attn.o_proj.scale`));
  it("w8a8: a code of −128", () => void expectLoadError(edit(w8, setElem(`${L0}self_attn.qkv_proj.q`, 77, -128)), RangeViolationError, `${L0}self_attn.qkv_proj.q`, "−127..127"));
  it("w8a8: a negative scale", () => void expectLoadError(edit(w8, setElem(`${L1}mlp.down_proj.scale`, 2, 0x8001)), RangeViolationError, `${L1}mlp.down_proj.scale`));

  it("steps with a '__proto__' key load and save back to the same bytes", () => {
    const b = edit(g128, (_t, md) => (md.steps = '{"__proto__":{"polluted":true},"a":1}'));
    const { model, meta } = loadQoqCheckpoint(b);
    expect(Object.keys(meta.steps)).toEqual(["__proto__", "a"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(sameBytes(saveQoqCheckpoint(model, meta), b)).toBe(true);
  });

  it("the edits themselves are sound: an unedited round trip through edit() loads", () => {
    expect(loadQoqCheckpoint(edit(g128, () => {})).model).toEqual(models.get(CASES[0]!.label)!);
  });
});

describe("save validates the model and its metadata", () => {
  const m = () => models.get(CASES[0]!.label)!;
  it("meta.method that differs from model.method", () => expect(() => saveQoqCheckpoint(m(), { method: "qoq", steps: {} })).toThrow(ParamError));
  it("a method with control characters", () => expect(() => saveQoqCheckpoint({ ...m(), method: "rtn\n" }, { steps: {} })).toThrow(/method/));
  it("steps that are not JSON", () => expect(() => saveQoqCheckpoint(m(), { steps: { clip: { ratio: Number.NaN } } })).toThrow(/steps\.clip\.ratio/));
  it("steps that are an array", () => expect(() => saveQoqCheckpoint(m(), { steps: [] as unknown as Record<string, unknown> })).toThrow(ParamError));
  it("calibration with a bad hash", () => expect(() => saveQoqCheckpoint(m(), { steps: {}, calibration: { sha256: "ABC", samples: 1, tokens: 1 } })).toThrow(/sha256/));
  it("an invalid config", () => expect(() => saveQoqCheckpoint({ ...m(), config: { ...SMALL, nKvHeads: 3 } }, { steps: {} })).toThrow(ParamError));
  it("a layer count that disagrees with the config", () => expect(() => saveQoqCheckpoint({ ...m(), layers: m().layers.slice(1) }, { steps: {} })).toThrow(ShapeError));
  it("a linear whose n disagrees with the config", () => {
    const layers = m().layers.map((l, i) => (i === 1 ? { ...l, o: { ...l.o, n: 47 } } : l));
    expect(() => saveQoqCheckpoint({ ...m(), layers }, { steps: {} })).toThrow(/model\.layers\.1\.self_attn\.o_proj.*n = 47/);
  });
  it("a linear of another variant", () => {
    const chnLayer = models.get(CASES[3]!.label)!.layers[0]!;
    const layers = m().layers.map((l, i) => (i === 0 ? { ...l, down: chnLayer.down } : l));
    expect(() => saveQoqCheckpoint({ ...m(), layers }, { steps: {} })).toThrow(/chn linear in a g128 model/);
  });
  it("a code out of range", () => {
    const l0 = m().layers[0]!;
    if (l0.qkv.variant !== "g128") throw new Error("unreachable");
    const q = tensor("u8", l0.qkv.q.shape, l0.qkv.q.data.slice());
    q.data[5] = 99;
    const qkv: QuantizedLinear = { ...l0.qkv, q };
    const layers = m().layers.map((l, i) => (i === 0 ? { ...l, qkv } : l));
    expect(() => saveQoqCheckpoint({ ...m(), layers }, { steps: {} })).toThrow(RangeViolationError);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: hostile bytes never crash with anything but a QoqError

/** Load; a QoqError is a fine answer; success must give a model that saves and reloads to the same thing. */
function loadsOrQoqError(bytes: Uint8Array): "ok" | "error" {
  let loaded;
  try {
    loaded = loadQoqCheckpoint(bytes, "fuzz");
  } catch (e) {
    if (e instanceof QoqError) return "error";
    throw e;
  }
  const again = loadQoqCheckpoint(saveQoqCheckpoint(loaded.model, loaded.meta));
  expect(again.model).toEqual(loaded.model);
  return "ok";
}

describe("properties", () => {
  let base: Uint8Array;
  let headerEnd: number;
  let names: string[];
  beforeAll(async () => {
    base = saveQoqCheckpoint(await rtn(TINY, "g128", 8), META);
    headerEnd = 8 + Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
    names = Object.keys(parseSafetensors(base).tensors);
  });

  it("random byte mutations (header-biased) and truncations never throw a non-QoqError and never hang", () => {
    const mutation = fc.record({ inHeader: fc.boolean(), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
    const outcomes = { ok: 0, error: 0 };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.option(fc.nat(), { nil: undefined }), (muts, cut) => {
        let b = base.slice();
        for (const m of muts) b[m.inHeader ? m.pos % headerEnd : headerEnd + (m.pos % (b.length - headerEnd))] = m.value;
        if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
        const t0 = performance.now();
        outcomes[loadsOrQoqError(b)]++;
        expect(performance.now() - t0).toBeLessThan(2000);
      }),
      propertyOptions(300),
    );
    expect(outcomes.error).toBeGreaterThan(0);
  });

  it("random metadata values never throw a non-QoqError", () => {
    const keys = ["config", "format", "format_version", "group", "lm_head", "method", "qoq_ref", "steps", "variant", "writer", "calibration", "extra"];
    const value = fc.oneof(fc.string(), fc.json(), fc.constantFrom("1", "0", "-1", "tied", "g128", "{}", "[]", "null", '{"a":1e999}', "1e999"));
    fc.assert(
      fc.property(fc.constantFrom(...keys), value, (key, v) => {
        loadsOrQoqError(edit(base, (_t, md) => (md[key] = v)));
      }),
      propertyOptions(300),
    );
  });

  it("random config edits never throw a non-QoqError", () => {
    const field = fc.constantFrom("dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen", "ropeTheta", "normEps", "ropeStyle", "tiedEmbeddings");
    const v = fc.oneof(fc.integer({ min: -4, max: 70 }), fc.double(), fc.constantFrom(2 ** 53, 1e308, "rotate_half", true, null));
    fc.assert(
      fc.property(field, v, (f, x) => {
        loadsOrQoqError(
          edit(base, (_t, md) => {
            const c = JSON.parse(md.config!) as Record<string, unknown>;
            c[f] = x;
            md.config = JSON.stringify(c);
          }),
        );
      }),
      propertyOptions(300),
    );
  });

  it("random tensor element edits give a typed error or a model that still saves", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (ti, ei, v) => {
        const name = names[ti % names.length]!;
        loadsOrQoqError(
          edit(base, (t) => {
            const d = t[name]!.data as Uint8Array | Uint16Array | Int8Array;
            d[ei % d.length] = d instanceof Uint16Array ? v : v & 0xff;
          }),
        );
      }),
      propertyOptions(300),
    );
  });

  it("random reshapes and dtype swaps never throw a non-QoqError", () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom("u8", "i8", "f16"), fc.boolean(), (ti, dtype, flat) => {
        const name = names[ti % names.length]!;
        loadsOrQoqError(
          edit(base, (t) => {
            const x = t[name]!;
            const bytes = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
            const n = dtype === "f16" ? Math.floor(bytes.length / 2) : bytes.length;
            const data = dtype === "f16" ? new Uint16Array(bytes.slice(0, 2 * n).buffer) : dtype === "u8" ? bytes.slice() : new Int8Array(bytes.slice().buffer);
            t[name] = { dtype, shape: flat ? [n] : n === x.data.length ? x.shape : [n], data } as Tensor;
          }),
        );
      }),
      propertyOptions(200),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// End to end

describe("the loaded model computes the same logits bit for bit", () => {
  for (const c of [CASES[0]!, CASES[3]!, CASES[4]!, CASES[5]!]) {
    it(c.label, async () => {
      const m = models.get(c.label)!;
      const { model } = loadQoqCheckpoint(saveQoqCheckpoint(m, META));
      const tokens = [1, 17, 42, 5, 63, 8];
      const a = await createQuantizedModel(m).newSession().forward(tokens);
      const b = await createQuantizedModel(model).newSession().forward(tokens);
      expect(b.length).toBe(tokens.length);
      for (let t = 0; t < tokens.length; t++) {
        expect(sameBytes(f32Bytes(a[t]!), f32Bytes(b[t]!))).toBe(true);
      }
      expect(a[0]!.some((x) => x !== 0)).toBe(true);
    });
  }
});

describe("stories260K (a real trained model: hidden 172 padded to 256, shared classifier)", () => {
  it("round-trips byte for byte and computes the same logits", async () => {
    const weights = loadLlama2cBin(dataFile("stories260K.bin"));
    const m = await quantizeRtn(weights, createReferenceBackend(), { variant: "g128" });
    const bytes = saveQoqCheckpoint(m, { steps: {} });
    const { model, meta } = loadQoqCheckpoint(bytes, "stories260K.qoq.safetensors");
    expect(meta.tiedLmHead).toBe(true);
    expect(model.lmHead).toBe(model.tokenEmbedding);
    const down = model.layers[0]!.down;
    expect(down.variant === "g128" && down.kPadded).toBe(256);
    expect(model).toEqual(m);
    expect(sameBytes(saveQoqCheckpoint(model, meta), bytes)).toBe(true);
    const tokens = [1, 403, 407, 261, 378];
    const a = await createQuantizedModel(m).newSession().forward(tokens);
    const b = await createQuantizedModel(model).newSession().forward(tokens);
    for (let t = 0; t < tokens.length; t++) expect(sameBytes(f32Bytes(b[t]!), f32Bytes(a[t]!))).toBe(true);
  });
});
