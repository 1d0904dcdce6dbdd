/**
 * Hugging Face LLaMA checkpoints: a directory with `config.json` and one or more `*.safetensors`
 * files (standard tensor names, F32 or F16 — F16 converted to binary32 exactly). HF LLaMA uses
 * rotate-half RoPE. Also a writer, and the interleaved → rotate-half permutation that turns a
 * llama2.c model into an equivalent HF one.
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromF16Bits, IoError, ParamError, parseSafetensors, QoqError, serializeSafetensors, toF16Bits, type NamedTensors, type Tensor } from "@qoq/core";
import type { LlamaConfig } from "./config.js";
import { ModelFormatError } from "./errors.js";
import { validateConfig } from "./validate.js";
import type { LayerWeights, LlamaWeights } from "./weights.js";

/** Map a Hugging Face LLaMA `config.json` object to a {@link LlamaConfig} (rotate-half RoPE). */
export function parseHfConfig(json: unknown, file = "config.json"): LlamaConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ModelFormatError("config.json is not a JSON object", { file });
  const o = json as Record<string, unknown>;
  const int = (key: string, fallback?: number): number => {
    const v = Object.hasOwn(o, key) ? o[key] : fallback;
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ModelFormatError(`config.json lacks '${key}'`, { file, tensor: key });
    }
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new ModelFormatError(`config.json '${key}' must be a positive integer, got ${JSON.stringify(v)}`, { file, tensor: key });
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = Object.hasOwn(o, key) && o[key] !== null ? o[key] : fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new ModelFormatError(`config.json '${key}' must be a finite positive number, got ${JSON.stringify(v)}`, { file, tensor: key });
    return v;
  };
  if (Object.hasOwn(o, "hidden_act") && o.hidden_act !== "silu") throw new ModelFormatError(`config.json hidden_act ${JSON.stringify(o.hidden_act)} is not supported (only 'silu')`, { file, tensor: "hidden_act" });
  if (Object.hasOwn(o, "rope_scaling") && o.rope_scaling !== null) throw new ModelFormatError("config.json rope_scaling is not supported (must be null or absent)", { file, tensor: "rope_scaling" });
  const tie = Object.hasOwn(o, "tie_word_embeddings") ? o.tie_word_embeddings : false;
  if (typeof tie !== "boolean") throw new ModelFormatError(`config.json tie_word_embeddings must be a boolean, got ${JSON.stringify(tie)}`, { file, tensor: "tie_word_embeddings" });
  const nHeads = int("num_attention_heads");
  const c: LlamaConfig = {
    dim: int("hidden_size"),
    hiddenDim: int("intermediate_size"),
    nLayers: int("num_hidden_layers"),
    nHeads,
    nKvHeads: int("num_key_value_heads", nHeads),
    vocabSize: int("vocab_size"),
    seqLen: int("max_position_embeddings", 2048),
    ropeTheta: num("rope_theta", 10000),
    ropeStyle: "rotate_half",
    normEps: num("rms_norm_eps", 1e-6),
    tiedEmbeddings: tie,
  };
  try {
    validateConfig(c);
  } catch (e) {
    throw new ModelFormatError(`config.json is inconsistent: ${(e as Error).message}`, { file });
  }
  if (Object.hasOwn(o, "head_dim") && o.head_dim !== null && o.head_dim !== c.dim / c.nHeads) {
    throw new ModelFormatError(`config.json head_dim ${JSON.stringify(o.head_dim)} differs from hidden_size / num_attention_heads = ${c.dim / c.nHeads}`, { file, tensor: "head_dim" });
  }
  return c;
}

/** Byte offset of each tensor's data in a safetensors file (for error messages). */
function dataOffsets(bytes: Uint8Array): Map<string, number> {
  const m = new Map<string, number>();
  try {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets?: [number, number] }>;
    for (const [k, v] of Object.entries(h)) if (v.data_offsets) m.set(k, 8 + n + v.data_offsets[0]);
  } catch {
    /* offsets are only for messages */
  }
  return m;
}

interface Found {
  tensor: Tensor;
  file: string;
  offset: number | undefined;
}

/**
 * Load a Hugging Face LLaMA checkpoint directory: `config.json` plus every `*.safetensors` in it
 * (sorted by name; a tensor in two files is an error). Expected tensors (shapes [out, in]):
 * `model.embed_tokens.weight`, for each layer i `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight`,
 * `model.layers.{i}.mlp.{gate,up,down}_proj.weight`, `model.layers.{i}.input_layernorm.weight`,
 * `model.layers.{i}.post_attention_layernorm.weight`, `model.norm.weight`, and `lm_head.weight`
 * unless `tie_word_embeddings` (then a present `lm_head.weight` is ignored, as HF ties it).
 * dtypes F32 or F16. A missing, misshaped, mistyped or non-finite tensor, an unexpected tensor
 * (except `*.rotary_emb.inv_freq`) or a broken config is a {@link ModelFormatError}.
 */
export function loadHfCheckpoint(dir: string): LlamaWeights {
  const cfgPath = join(dir, "config.json");
  let text: string;
  try {
    text = readFileSync(cfgPath, "utf8");
  } catch (e) {
    throw new IoError(`cannot read '${cfgPath}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`config.json is not valid JSON: ${(e as Error).message}`, { file: cfgPath });
  }
  const config = parseHfConfig(json, cfgPath);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort();
  } catch (e) {
    throw new IoError(`cannot list '${dir}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (files.length === 0) throw new ModelFormatError("no *.safetensors file in the checkpoint directory", { file: dir });
  const all = new Map<string, Found>();
  for (const f of files) {
    const path = join(dir, f);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let tensors: NamedTensors;
    try {
      tensors = parseSafetensors(bytes).tensors;
    } catch (e) {
      throw new ModelFormatError((e as Error).message, { file: path });
    }
    const offs = dataOffsets(bytes);
    for (const [name, t] of Object.entries(tensors)) {
      const prev = all.get(name);
      if (prev) throw new ModelFormatError(`tensor also present in '${prev.file}'`, { file: path, tensor: name });
      all.set(name, { tensor: t, file: path, offset: offs.get(name) });
    }
  }
  const used = new Set<string>();
  const get = (name: string, shape: number[]): Float32Array => {
    const f = all.get(name);
    if (!f) throw new ModelFormatError(`missing tensor '${name}' (files: ${files.join(", ")})`, { file: dir, tensor: name });
    used.add(name);
    const t = f.tensor;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(`tensor has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`, { file: f.file, tensor: name, ...(f.offset !== undefined ? { offset: f.offset } : {}) });
    }
    let out: Float32Array;
    let size: number;
    if (t.dtype === "f32") {
      out = Float32Array.from(t.data as Float32Array);
      size = 4;
    } else if (t.dtype === "f16") {
      const d = t.data as Uint16Array;
      out = new Float32Array(d.length);
      for (let i = 0; i < d.length; i++) out[i] = fromF16Bits(d[i]!); // exact: every binary16 value is a binary32 value
      size = 2;
    } else {
      throw new ModelFormatError(`tensor dtype ${t.dtype} is not supported (F32 or F16)`, { file: f.file, tensor: name, ...(f.offset !== undefined ? { offset: f.offset } : {}) });
    }
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i]!)) throw new ModelFormatError(`non-finite weight ${out[i]} at element ${i}`, { file: f.file, tensor: name, ...(f.offset !== undefined ? { offset: f.offset + size * i } : {}) });
    }
    return out;
  };
  const { dim, hiddenDim: hid, vocabSize: V } = config;
  const kv = (config.nKvHeads * dim) / config.nHeads;
  const emb = get("model.embed_tokens.weight", [V, dim]);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const p = `model.layers.${i}.`;
    layers.push({
      attnNorm: get(`${p}input_layernorm.weight`, [dim]),
      wq: get(`${p}self_attn.q_proj.weight`, [dim, dim]),
      wk: get(`${p}self_attn.k_proj.weight`, [kv, dim]),
      wv: get(`${p}self_attn.v_proj.weight`, [kv, dim]),
      wo: get(`${p}self_attn.o_proj.weight`, [dim, dim]),
      ffnNorm: get(`${p}post_attention_layernorm.weight`, [dim]),
      w1: get(`${p}mlp.gate_proj.weight`, [hid, dim]),
      w2: get(`${p}mlp.down_proj.weight`, [dim, hid]),
      w3: get(`${p}mlp.up_proj.weight`, [hid, dim]),
    });
  }
  const finalNorm = get("model.norm.weight", [dim]);
  const classifier = config.tiedEmbeddings ? emb : get("lm_head.weight", [V, dim]);
  if (config.tiedEmbeddings) used.add("lm_head.weight");
  for (const [name, f] of all) {
    if (!used.has(name) && !name.endsWith("rotary_emb.inv_freq")) throw new ModelFormatError("unexpected tensor (not part of a LLaMA checkpoint with this config)", { file: f.file, tensor: name });
  }
  return { config, tokenEmbedding: emb, layers, finalNorm, classifier };
}

/**
 * Permute the rows of a q/k projection [nh·hd][dim] from interleaved RoPE pairing to rotate-half
 * pairing, head by head: new row `j` (j < hd/2) is old row `2j`, new row `hd/2 + j` is old row
 * `2j+1` (the `permute` of HF's `convert_llama_weights_to_hf.py`). Why it is exact: interleaved
 * RoPE rotates channel pairs (2j, 2j+1) by the angle of frequency j; rotate-half rotates (j,
 * j + hd/2) by the same angle. After the permutation the projection produces the same values with
 * pair j's two channels moved to j and j + hd/2, so the rotated q and k are the same vectors up
 * to one common permutation, and q·k (hence attention) is unchanged. V and o_proj are untouched.
 */
export function permuteInterleavedToRotateHalf(w: Float32Array, nHeadsOfW: number, hd: number, dim: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = hd / 2;
  for (let h = 0; h < nHeadsOfW; h++) {
    for (let j = 0; j < half; j++) {
      out.set(w.subarray((h * hd + 2 * j) * dim, (h * hd + 2 * j + 1) * dim), (h * hd + j) * dim);
      out.set(w.subarray((h * hd + 2 * j + 1) * dim, (h * hd + 2 * j + 2) * dim), (h * hd + half + j) * dim);
    }
  }
  return out;
}

/**
 * The same model with rotate-half RoPE: for an interleaved model, wq and wk rows permuted by
 * {@link permuteInterleavedToRotateHalf} (all other arrays shared); a rotate-half model is
 * returned as is.
 */
export function toRotateHalf(weights: LlamaWeights): LlamaWeights {
  const c = weights.config;
  if (c.ropeStyle === "rotate_half") return weights;
  const hd = c.dim / c.nHeads;
  return {
    ...weights,
    config: { ...c, ropeStyle: "rotate_half" },
    layers: weights.layers.map((l) => ({
      ...l,
      wq: permuteInterleavedToRotateHalf(l.wq, c.nHeads, hd, c.dim),
      wk: permuteInterleavedToRotateHalf(l.wk, c.nKvHeads, hd, c.dim),
    })),
  };
}

/** Options of {@link writeHfCheckpoint}. */
export interface WriteHfOptions {
  /** Storage dtype: `f32` (default, exact) or `f16` (each weight rounded to binary16). */
  readonly dtype?: "f32" | "f16";
  /** Split the tensors over this many `model-0000k-of-0000n.safetensors` files (default 1: `model.safetensors`). */
  readonly shards?: number;
}

/** The HF `config.json` object of a configuration (rotate-half RoPE is implied by the format). */
export function hfConfigJson(c: LlamaConfig, dtype: "f32" | "f16" = "f32"): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_act: "silu",
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.seqLen,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.normEps,
    tie_word_embeddings: c.tiedEmbeddings,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: dtype === "f16" ? "float16" : "float32",
  };
}

/** The weights as HF-named tensors (converted to rotate-half first if needed). */
export function toHfTensors(weights: LlamaWeights, dtype: "f32" | "f16" = "f32"): NamedTensors {
  const w = toRotateHalf(weights);
  const c = w.config;
  const kv = (c.nKvHeads * c.dim) / c.nHeads;
  const t = (shape: number[], a: Float32Array): Tensor => {
    if (dtype === "f32") return { dtype: "f32", shape, data: Float32Array.from(a) };
    const d = new Uint16Array(a.length);
    for (let i = 0; i < a.length; i++) d[i] = toF16Bits(a[i]!);
    return { dtype: "f16", shape, data: d };
  };
  const out: NamedTensors = {};
  out["model.embed_tokens.weight"] = t([c.vocabSize, c.dim], w.tokenEmbedding);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    out[`${p}input_layernorm.weight`] = t([c.dim], l.attnNorm);
    out[`${p}self_attn.q_proj.weight`] = t([c.dim, c.dim], l.wq);
    out[`${p}self_attn.k_proj.weight`] = t([kv, c.dim], l.wk);
    out[`${p}self_attn.v_proj.weight`] = t([kv, c.dim], l.wv);
    out[`${p}self_attn.o_proj.weight`] = t([c.dim, c.dim], l.wo);
    out[`${p}post_attention_layernorm.weight`] = t([c.dim], l.ffnNorm);
    out[`${p}mlp.gate_proj.weight`] = t([c.hiddenDim, c.dim], l.w1);
    out[`${p}mlp.down_proj.weight`] = t([c.dim, c.hiddenDim], l.w2);
    out[`${p}mlp.up_proj.weight`] = t([c.hiddenDim, c.dim], l.w3);
  });
  out["model.norm.weight"] = t([c.dim], w.finalNorm);
  if (!c.tiedEmbeddings) out["lm_head.weight"] = t([c.vocabSize, c.dim], w.classifier);
  return out;
}

/**
 * Write `weights` as a Hugging Face LLaMA checkpoint directory (`config.json` + safetensors),
 * converting an interleaved-RoPE model to rotate-half with {@link toRotateHalf} (HF LLaMA is
 * always rotate-half). Creates the directory if needed.
 */
export function writeHfCheckpoint(dir: string, weights: LlamaWeights, opts: WriteHfOptions = {}): void {
  const dtype = opts.dtype ?? "f32";
  const shards = opts.shards ?? 1;
  if (!Number.isSafeInteger(shards) || shards < 1) throw new ParamError(`writeHfCheckpoint: shards must be a positive integer, got ${shards}`);
  const tensors = toHfTensors(weights, dtype);
  const names = Object.keys(tensors).sort();
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify(hfConfigJson(weights.config, dtype), null, 2) + "\n");
    for (let s = 0; s < shards; s++) {
      const part: NamedTensors = {};
      for (let i = s; i < names.length; i += shards) part[names[i]!] = tensors[names[i]!]!;
      const file = shards === 1 ? "model.safetensors" : `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
      writeFileSync(join(dir, file), serializeSafetensors(part, { format: "pt" }));
    }
  } catch (e) {
    if (e instanceof Error && "code" in e && typeof (e as NodeJS.ErrnoException).code === "string" && !(e instanceof QoqError)) {
      throw new IoError(`cannot write checkpoint to '${dir}': ${(e as NodeJS.ErrnoException).code}`);
    }
    throw e;
  }
}
