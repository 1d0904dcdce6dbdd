/**
 * The QoQ quantized checkpoint format (`docs/checkpoint.md`): a safetensors file holding a
 * `QuantizedModel` — codes, zero points and scales of every quantized linear
 * layer exactly as the GEMM ops take them, binary16 norms, embedding and classifier — and a
 * `__metadata__` block with the format tag and version, the numerics contract (QoQ-ref v1), the
 * writer, the model configuration, the variant and group, and what produced the weights (the
 * method, the pipeline steps with their settings, the calibration data's hash).
 *
 * **Deterministic.** The same model and metadata always give the same bytes: tensors in name
 * order (`serializeSafetensors`), metadata keys sorted, every JSON value in a canonical form
 * ({@link canonicalJson}: sorted keys, no whitespace), no timestamps, no host names.
 *
 * **Untrusted input.** {@link loadQoqCheckpoint} checks everything before it returns a model the
 * forward pass could trip over: the container (`parseSafetensors`), the format tag and version,
 * every metadata value, the configuration (`validateConfig`), the name, dtype and shape of every
 * tensor against the layout of the configuration, variant and group, and every element: UINT4
 * codes and zero points ≤ 15, level-2 scales in 1..16, the protective range
 * `(q − zero)·s2 ∈ [−128, 127]`, padded g128 columns holding `q = zero` (so `w8 = 0`), INT8
 * codes in −127..127, binary16 scales finite and non-negative, norms and embeddings finite.
 * Each violation is a typed error naming the tensor (or metadata key) and, for element
 * violations, the flat index and the byte offset in the file:
 * - `SafetensorsError`: the container, the format tag/version, a missing,
 *   malformed or unknown metadata key, a missing or unknown tensor;
 * - `ParamError`: the configuration; on save, bad metadata arguments;
 * - `DTypeError`, `ShapeError`: a tensor's dtype or shape;
 * - `RangeViolationError`: a code, zero point, scale or protective-range violation;
 * - `NonFiniteError`: a NaN or ±∞ in a binary16 tensor.
 *
 * **Tied classifier.** When the model's `lmHead` is the very `tokenEmbedding` tensor object (as
 * `quantizeRtn` gives for a tied model), the classifier is stored once: metadata
 * `lm_head = "tied"`, no `lm_head.weight` tensor, and the loaded model's `lmHead` is again the
 * same object as its `tokenEmbedding`. Otherwise (`"separate"`) both are stored, even when their
 * values are equal.
 * @module
 */
import {
  DTypeError,
  fromF16Bits,
  NonFiniteError,
  ParamError,
  parseSafetensors,
  QoqError,
  RangeViolationError,
  SafetensorsError,
  serializeSafetensors,
  ShapeError,
  DTYPE_SIZE,
  type NamedTensors,
  type Tensor,
} from "@qoq/core";
import {
  QUANT_VARIANTS,
  validateConfig,
  type LlamaConfig,
  type QuantizedLayer,
  type QuantizedLinear,
  type QuantizedModel,
  type QuantVariant,
} from "@qoq/model";
import { S2_RANGE, UINT4_MAX, W8_RANGE } from "@qoq/reference";
import {
  CHECKPOINT_EMBEDDING,
  CHECKPOINT_FINAL_NORM,
  CHECKPOINT_LINEAR_PARTS,
  CHECKPOINT_LINEAR_SLOTS,
  CHECKPOINT_LM_HEAD,
  checkpointAttnNormName,
  checkpointFfnNormName,
  checkpointLayout,
  checkpointLinearPath,
  type CheckpointLayoutUnit,
  type CheckpointLinearSpec,
  type CheckpointTensorSpec,
} from "./checkpoint_names.js";

export * from "./checkpoint_names.js";

/** The format tag: metadata `format`. */
export const QOQ_CHECKPOINT_FORMAT = "qoq-checkpoint";

/** The format version this code writes and reads: metadata `format_version` (a decimal string). */
export const QOQ_CHECKPOINT_FORMAT_VERSION = 1;

/** The numerics contract the stored codes are exact for: metadata `qoq_ref`. */
export const QOQ_CHECKPOINT_QOQ_REF = "QoQ-ref v1";

/** The writer recorded in metadata `writer`: this package and its version. */
export const QOQ_CHECKPOINT_WRITER = "@qoq/quantize 0.1.0";

/** Deepest nesting {@link canonicalJson} accepts (the `steps` and `calibration` values). */
export const MAX_CHECKPOINT_JSON_DEPTH = 64;

/** Every metadata key of the format; `calibration` is optional, all others are required. */
export const QOQ_CHECKPOINT_METADATA_KEYS: readonly string[] = [
  "calibration",
  "config",
  "format",
  "format_version",
  "group",
  "lm_head",
  "method",
  "qoq_ref",
  "steps",
  "variant",
  "writer",
];

/** Provenance of the calibration data a pipeline ran on (metadata `calibration`). */
export interface QoqCalibrationInfo {
  /** SHA-256 of the calibration data, 64 lowercase hex digits. */
  readonly sha256: string;
  /** Number of calibration samples (sequences). */
  readonly samples: number;
  /** Total number of calibration tokens. */
  readonly tokens: number;
  /** Where the data came from (a file name or data-set id), if recorded. */
  readonly source?: string;
}

/** What the caller of {@link saveQoqCheckpoint} records about how the model was produced. */
export interface QoqCheckpointInfo {
  /** How the weights were obtained (e.g. `rtn`, `qoq`); defaults to the model's `method` and must equal it when given. */
  readonly method?: string;
  /**
   * Which pipeline steps ran, with their settings, e.g. `{ rotate: { kind: "hadamard" },
   * smoothAttention: { alpha: 0.5 } }`; `{}` for none. Any JSON value inside a plain object
   * (no NaN/±∞, no `undefined` in arrays, no class instances); properties whose value is
   * `undefined` are dropped, as JSON.stringify drops them.
   */
  readonly steps: Readonly<Record<string, unknown>>;
  /** The calibration data, when a step used any. */
  readonly calibration?: QoqCalibrationInfo | undefined;
}

/** The metadata of a loaded checkpoint: the caller's {@link QoqCheckpointInfo} plus what the format records itself. */
export interface QoqCheckpointMeta extends QoqCheckpointInfo {
  /** How the weights were obtained (equal to the loaded model's `method`). */
  readonly method: string;
  /** Format version of the file. */
  readonly formatVersion: number;
  /** Numerics contract the codes are exact for ({@link QOQ_CHECKPOINT_QOQ_REF}). */
  readonly qoqRef: string;
  /** The software that wrote the file, e.g. `@qoq/quantize 0.1.0`. */
  readonly writer: string;
  /** The model configuration (the same object as the loaded model's `config`). */
  readonly config: LlamaConfig;
  /** Weight format of every linear layer. */
  readonly variant: QuantVariant;
  /** Group size (used by `g128`; recorded as given for the other variants). */
  readonly group: number;
  /** Whether the classifier is stored once, as the token embedding. */
  readonly tiedLmHead: boolean;
}

/** What {@link loadQoqCheckpoint} returns. */
export interface LoadedQoqCheckpoint {
  /** The validated model, ready for `createQuantizedModel`. */
  readonly model: QuantizedModel;
  /** Its metadata. */
  readonly meta: QoqCheckpointMeta;
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON

/**
 * Canonical JSON of a JSON-compatible value: object keys sorted (UTF-16 code-unit order), no
 * whitespace, numbers and strings as `JSON.stringify` writes them (so `-0` is written `0`),
 * object properties whose value is `undefined` omitted. Throws `ParamError` (naming the
 * path from `what`) for NaN, ±∞, `undefined` in an array or at the top, functions, symbols,
 * bigints, class instances (anything but plain objects and arrays), cycles, and nesting deeper
 * than {@link MAX_CHECKPOINT_JSON_DEPTH}.
 */
export function canonicalJson(value: unknown, what = "value"): string {
  return canon(value, what, [], 0);
}

function canon(v: unknown, path: string, stack: object[], depth: number): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new ParamError(`${path} is ${v}, which JSON cannot represent`);
      return JSON.stringify(v);
    case "string":
      return JSON.stringify(v);
    case "object":
      break;
    default:
      throw new ParamError(`${path} is ${typeof v === "undefined" ? "undefined" : `a ${typeof v}`}, not a JSON value`);
  }
  const o = v as object;
  if (depth >= MAX_CHECKPOINT_JSON_DEPTH) throw new ParamError(`${path} is nested deeper than ${MAX_CHECKPOINT_JSON_DEPTH} levels`);
  if (stack.includes(o)) throw new ParamError(`${path} refers back to itself (a cycle), which JSON cannot represent`);
  stack.push(o);
  let out: string;
  if (Array.isArray(o)) {
    const items: string[] = [];
    for (let i = 0; i < o.length; i++) {
      if (o[i] === undefined) throw new ParamError(`${path}[${i}] is undefined (or a hole), not a JSON value`);
      items.push(canon(o[i], `${path}[${i}]`, stack, depth + 1));
    }
    out = `[${items.join(",")}]`;
  } else {
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      const ctor = (o as { constructor?: { name?: unknown } }).constructor?.name;
      throw new ParamError(`${path} is ${typeof ctor === "string" && ctor ? `a ${ctor}` : "an object with a prototype"}, not a plain object or array`);
    }
    const rec = o as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(rec).sort()) {
      const x = rec[k];
      if (x === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${canon(x, `${path}.${k}`, stack, depth + 1)}`);
    }
    out = `{${parts.join(",")}}`;
  }
  stack.pop();
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A bounded rendering of an untrusted string for messages. */
function show(s: string): string {
  const j = JSON.stringify(s);
  return j.length > 120 ? `${j.slice(0, 120)}…` : j;
}

// ---------------------------------------------------------------------------------------------
// Metadata values shared by save and load

const CONFIG_INT_KEYS = ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"] as const;
const CONFIG_KEYS: readonly string[] = [...CONFIG_INT_KEYS, "ropeTheta", "ropeStyle", "normEps", "tiedEmbeddings"];

/** Type-check and validate a configuration; `where` prefixes the messages. Returns the checked copy (known keys only). */
function checkConfig(raw: unknown, where: string): LlamaConfig {
  if (!isPlainObject(raw)) throw new ParamError(`${where} is not an object`);
  for (const k of Object.keys(raw)) if (!CONFIG_KEYS.includes(k)) throw new ParamError(`${where} has the unknown key ${show(k)}; keys: ${CONFIG_KEYS.join(", ")}`);
  for (const k of CONFIG_KEYS) if (!Object.hasOwn(raw, k)) throw new ParamError(`${where} lacks '${k}'`);
  for (const k of [...CONFIG_INT_KEYS, "ropeTheta", "normEps"]) {
    if (typeof raw[k] !== "number") throw new ParamError(`${where}.${k} must be a number, got ${typeof raw[k]}`);
  }
  if (typeof raw.ropeStyle !== "string") throw new ParamError(`${where}.ropeStyle must be a string, got ${typeof raw.ropeStyle}`);
  if (typeof raw.tiedEmbeddings !== "boolean") throw new ParamError(`${where}.tiedEmbeddings must be a boolean, got ${typeof raw.tiedEmbeddings}`);
  const c = {
    dim: raw.dim,
    hiddenDim: raw.hiddenDim,
    nLayers: raw.nLayers,
    nHeads: raw.nHeads,
    nKvHeads: raw.nKvHeads,
    vocabSize: raw.vocabSize,
    seqLen: raw.seqLen,
    ropeTheta: raw.ropeTheta,
    ropeStyle: raw.ropeStyle,
    normEps: raw.normEps,
    tiedEmbeddings: raw.tiedEmbeddings,
  } as LlamaConfig;
  try {
    validateConfig(c);
  } catch (e) {
    if (e instanceof ParamError) throw new ParamError(`${where}: ${e.message}`);
    throw e;
  }
  return c;
}

/** Why `m` is not an acceptable method string, or undefined when it is. */
function methodProblem(m: unknown): string | undefined {
  if (typeof m !== "string") return `is not a string (${typeof m})`;
  if (m.length < 1 || m.length > 128) return `must be 1 to 128 characters, got ${m.length}`;
  if (!/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(m)) return `${show(m)} must be printable ASCII without leading or trailing spaces`;
  return undefined;
}

/** Why `c` is not a calibration record, or undefined when it is. */
function calibrationProblem(c: unknown): string | undefined {
  if (!isPlainObject(c)) return "is not an object";
  for (const k of Object.keys(c)) if (!["sha256", "samples", "tokens", "source"].includes(k)) return `has the unknown key ${show(k)} (keys: sha256, samples, tokens, source)`;
  if (typeof c.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(c.sha256)) return "sha256 must be 64 lowercase hex digits";
  for (const k of ["samples", "tokens"] as const) {
    if (typeof c[k] !== "number" || !Number.isSafeInteger(c[k]) || (c[k] as number) < 0) return `${k} must be a non-negative integer`;
  }
  if (c.source !== undefined && typeof c.source !== "string") return "source must be a string when present";
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Tensor checks shared by save and load

/** Where errors point: the source name, and (on load) each tensor's byte offset in the file. */
interface CheckContext {
  readonly source: string;
  readonly offsets: ReadonlyMap<string, number> | undefined;
}

/** " (source, byte offset X)" for element `i` of a tensor, or " (source)" when offsets are unknown. */
function where(ctx: CheckContext, name: string, i?: number, size = 1): string {
  const base = ctx.offsets?.get(name);
  if (base === undefined) return ` (${ctx.source})`;
  return ` (${ctx.source}, byte offset ${base + (i ?? 0) * size})`;
}

/** Append a location to an error's message and return it (keeps its class and fields). */
function located<E extends QoqError>(e: E, loc: string): E {
  e.message += loc;
  return e;
}

const TYPED_ARRAY_OF: Readonly<Record<string, new (n: number) => ArrayLike<number>>> = { f16: Uint16Array, u8: Uint8Array, i8: Int8Array };

/** Check one tensor's dtype, shape and elements against its spec. */
function checkTensor(spec: CheckpointTensorSpec, t: Tensor, ctx: CheckContext): void {
  const name = spec.name;
  if (typeof t !== "object" || t === null) throw new ParamError(`${ctx.source}: tensor '${name}' is not a tensor`);
  if (t.dtype !== spec.dtype || !(t.data instanceof TYPED_ARRAY_OF[spec.dtype]!)) {
    throw new DTypeError(`${ctx.source}: tensor '${name}' is ${String(t.dtype)}, expected ${spec.dtype}${where(ctx, name)}`);
  }
  const shape = t.shape;
  if (!Array.isArray(shape) || shape.length !== spec.shape.length || shape.some((d, i) => d !== spec.shape[i])) {
    const got = Array.isArray(shape) ? `[${shape.join(", ")}]` : String(shape);
    throw new ShapeError(`${ctx.source}: tensor '${name}' has shape ${got}, expected [${spec.shape.join(", ")}] = ${spec.shapeDoc}${where(ctx, name)}`);
  }
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new ShapeError(`${ctx.source}: tensor '${name}' holds ${t.data.length} elements, its shape [${spec.shape.join(", ")}] needs ${n}`);
  const size = DTYPE_SIZE[spec.dtype];
  switch (spec.rule) {
    case "float":
    case "scale": {
      const d = t.data as Uint16Array;
      for (let i = 0; i < d.length; i++) {
        const h = d[i]!;
        if ((h & 0x7c00) === 0x7c00) throw located(new NonFiniteError(name, i, fromF16Bits(h)), where(ctx, name, i, size));
        if (spec.rule === "scale" && (h & 0x8000) !== 0) {
          throw new RangeViolationError(
            name,
            i,
            `scale ${Object.is(fromF16Bits(h), -0) ? "-0" : fromF16Bits(h)} (binary16 0x${h.toString(16).padStart(4, "0")}) has its sign bit set; scales are +0 or positive${where(ctx, name, i, size)}`,
          );
        }
      }
      return;
    }
    case "uint4": {
      const d = t.data as Uint8Array;
      for (let i = 0; i < d.length; i++) {
        if (d[i]! > UINT4_MAX) throw new RangeViolationError(name, i, `${d[i]} is not a UINT4 value 0..${UINT4_MAX}${where(ctx, name, i, size)}`);
      }
      return;
    }
    case "s2": {
      const d = t.data as Uint8Array;
      for (let i = 0; i < d.length; i++) {
        const s = d[i]!;
        if (s < S2_RANGE[0] || s > S2_RANGE[1]) throw new RangeViolationError(name, i, `level-2 scale ${s} is outside ${S2_RANGE[0]}..${S2_RANGE[1]}${where(ctx, name, i, size)}`);
      }
      return;
    }
    case "int8": {
      const d = t.data as Int8Array;
      for (let i = 0; i < d.length; i++) {
        if (d[i]! < -127) throw new RangeViolationError(name, i, `INT8 weight code ${d[i]} is outside the symmetric range −127..127 of quant_weight_int8${where(ctx, name, i, size)}`);
      }
      return;
    }
  }
}

/**
 * The g128 checks across tensors: every `w8 = (q − zero)·s2` in [−128, 127] (the protective
 * range), and every padded column (index ≥ K) holding `q = zero`, i.e. `w8 = 0`.
 */
function checkG128(spec: CheckpointLinearSpec, group: number, get: (name: string) => Tensor, ctx: CheckContext): void {
  const [qs, zs, ss] = spec.tensors as [CheckpointTensorSpec, CheckpointTensorSpec, CheckpointTensorSpec];
  const q = get(qs.name).data as Uint8Array;
  const zero = get(zs.name).data as Uint8Array;
  const s2 = get(ss.name).data as Uint8Array;
  const { n, k, kPadded } = spec;
  const groups = kPadded / group;
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < kPadded; col++) {
      const i = row * kPadded + col;
      const gi = row * groups + Math.floor(col / group);
      const z = zero[gi]!;
      if (col >= k) {
        if (q[i] !== z) {
          throw new RangeViolationError(
            qs.name,
            i,
            `padded column ${col} (K = ${k}, kPadded = ${kPadded}) holds code ${q[i]}, not the zero point ${z} of '${zs.name}'[${gi}]; padding must give w8 = 0${where(ctx, qs.name, i)}`,
          );
        }
        continue;
      }
      const v = (q[i]! - z) * s2[gi]!;
      if (v < W8_RANGE[0] || v > W8_RANGE[1]) {
        throw new RangeViolationError(
          qs.name,
          i,
          `(q − zero)·s2 = (${q[i]} − ${z})·${s2[gi]} = ${v} leaves the protective INT8 range [${W8_RANGE[0]}, ${W8_RANGE[1]}] ('${zs.name}' and '${ss.name}' flat index ${gi})${where(ctx, qs.name, i)}`,
        );
      }
    }
  }
}

/**
 * Check every unit of the layout: `get` returns the tensor of a name (or throws for a missing
 * one); `onLinear` runs first for each linear layer (save uses it to check the linear's fields).
 */
function checkLayout(units: Iterable<CheckpointLayoutUnit>, group: number, variant: QuantVariant, get: (name: string) => Tensor, ctx: CheckContext, onLinear?: (spec: CheckpointLinearSpec) => void): void {
  for (const u of units) {
    if (u.kind === "tensor") {
      checkTensor(u.tensor, get(u.tensor.name), ctx);
      continue;
    }
    onLinear?.(u.linear);
    for (const t of u.linear.tensors) checkTensor(t, get(t.name), ctx);
    if (variant === "g128") checkG128(u.linear, group, get, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Save

/**
 * Serialize a quantized model and its provenance to QoQ checkpoint bytes (see the module
 * comment and `docs/checkpoint.md`). Deterministic: the same model and `meta` give the same
 * bytes. The model is validated exactly as {@link loadQoqCheckpoint} validates a file, so every
 * saved checkpoint loads: `ParamError` for bad metadata or configuration, `ShapeError` /
 * `DTypeError` for a tensor or linear layer that disagrees with the configuration,
 * `RangeViolationError` / `NonFiniteError` for values outside the format.
 */
export function saveQoqCheckpoint(model: QuantizedModel, meta: QoqCheckpointInfo): Uint8Array {
  const src = "saveQoqCheckpoint";
  const method = meta.method ?? model.method;
  if (meta.method !== undefined && meta.method !== model.method) throw new ParamError(`${src}: meta.method ${show(meta.method)} differs from the model's method ${show(String(model.method))}`);
  const mp = methodProblem(method);
  if (mp !== undefined) throw new ParamError(`${src}: method ${mp}`);
  if (!isPlainObject(meta.steps)) throw new ParamError(`${src}: steps must be a plain object (use {} when no step ran)`);
  const steps = canonicalJson(meta.steps, "steps");
  let calibration: string | undefined;
  if (meta.calibration !== undefined) {
    const cp = calibrationProblem(meta.calibration);
    if (cp !== undefined) throw new ParamError(`${src}: calibration ${cp}`);
    calibration = canonicalJson(meta.calibration, "calibration");
  }
  const config = checkConfig(model.config, `${src}: config`);
  const variant = model.variant;
  if (!QUANT_VARIANTS.includes(variant)) throw new ParamError(`${src}: unknown variant ${show(String(variant))}; available: ${QUANT_VARIANTS.join(", ")}`);
  const group = model.group;
  if (!Number.isSafeInteger(group) || group < 1) throw new ParamError(`${src}: group must be a positive integer, got ${String(group)}`);
  if (!Array.isArray(model.layers) || model.layers.length !== config.nLayers) {
    throw new ShapeError(`${src}: the model has ${Array.isArray(model.layers) ? model.layers.length : "no"} layers, the config needs ${config.nLayers}`);
  }
  const tied = model.lmHead === model.tokenEmbedding;

  // The model's tensors under their checkpoint names.
  const byName = new Map<string, unknown>();
  const linears = new Map<string, QuantizedLinear>();
  byName.set(CHECKPOINT_EMBEDDING, model.tokenEmbedding);
  model.layers.forEach((l: QuantizedLayer, i) => {
    byName.set(checkpointAttnNormName(i), l.attnNorm);
    byName.set(checkpointFfnNormName(i), l.ffnNorm);
    for (const slot of CHECKPOINT_LINEAR_SLOTS) {
      const lin = l[slot];
      const path = checkpointLinearPath(i, slot);
      linears.set(path, lin);
      if (typeof lin !== "object" || lin === null) continue; // reported by onLinear
      for (const part of CHECKPOINT_LINEAR_PARTS[variant]) byName.set(`${path}.${part}`, (lin as unknown as Record<string, unknown>)[part]);
    }
  });
  byName.set(CHECKPOINT_FINAL_NORM, model.finalNorm);
  if (!tied) byName.set(CHECKPOINT_LM_HEAD, model.lmHead);

  const ctx: CheckContext = { source: src, offsets: undefined };
  const tensors: NamedTensors = {};
  const get = (name: string): Tensor => {
    const t = byName.get(name);
    if (typeof t !== "object" || t === null) throw new ParamError(`${src}: the model has no tensor for '${name}'`);
    tensors[name] = t as Tensor;
    return t as Tensor;
  };
  const onLinear = (spec: CheckpointLinearSpec): void => {
    const lin = linears.get(spec.path);
    if (typeof lin !== "object" || lin === null) throw new ParamError(`${src}: layer ${spec.layer} has no '${spec.slot}' linear ('${spec.path}')`);
    if (lin.variant !== variant) throw new ParamError(`${src}: '${spec.path}' is a ${String(lin.variant)} linear in a ${variant} model`);
    const bad = (field: string, got: unknown, want: number) => new ShapeError(`${src}: '${spec.path}' has ${field} = ${String(got)}, the config needs ${want}`);
    if (lin.n !== spec.n) throw bad("n", lin.n, spec.n);
    if (lin.k !== spec.k) throw bad("k", lin.k, spec.k);
    if (lin.variant === "g128") {
      if (lin.group !== group) throw bad("group", lin.group, group);
      if (lin.kPadded !== spec.kPadded) throw bad("kPadded", lin.kPadded, spec.kPadded);
    }
  };
  checkLayout(checkpointLayout(config, variant, group, tied), group, variant, get, ctx, onLinear);

  const metadata: Record<string, string> = {
    config: canonicalJson(config, "config"),
    format: QOQ_CHECKPOINT_FORMAT,
    format_version: String(QOQ_CHECKPOINT_FORMAT_VERSION),
    group: String(group),
    lm_head: tied ? "tied" : "separate",
    method,
    qoq_ref: QOQ_CHECKPOINT_QOQ_REF,
    steps,
    variant,
    writer: QOQ_CHECKPOINT_WRITER,
  };
  if (calibration !== undefined) metadata.calibration = calibration;
  return serializeSafetensors(tensors, metadata);
}

// ---------------------------------------------------------------------------------------------
// Load

/** File offset of each tensor's first data byte (the header was already validated by parseSafetensors). */
function dataOffsets(bytes: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__" || !isPlainObject(e) || !Array.isArray(e.data_offsets)) continue;
    out.set(name, 8 + n + (e.data_offsets[0] as number));
  }
  return out;
}

/** Parse and type-check the `__metadata__` block. */
function parseMeta(md: Record<string, string>, source: string): QoqCheckpointMeta {
  const fail = (key: string, msg: string) => new SafetensorsError(`${source}: metadata '${key}' ${msg}`, { offset: 8 });
  const has = (k: string) => Object.hasOwn(md, k);
  // The tag first: a file that is not a QoQ checkpoint should be told so before anything else.
  if (!has("format")) throw new SafetensorsError(`${source}: not a QoQ checkpoint (metadata has no 'format' key; expected '${QOQ_CHECKPOINT_FORMAT}')`, { offset: 8 });
  if (md.format !== QOQ_CHECKPOINT_FORMAT) throw fail("format", `is ${show(md.format!)}, not '${QOQ_CHECKPOINT_FORMAT}': not a QoQ checkpoint`);
  if (!has("format_version")) throw fail("format_version", "is missing");
  const fv = md.format_version!;
  if (fv !== String(QOQ_CHECKPOINT_FORMAT_VERSION)) {
    const newer = /^[1-9][0-9]{0,8}$/.test(fv) && Number(fv) > QOQ_CHECKPOINT_FORMAT_VERSION;
    throw fail("format_version", `is ${show(fv)}; this reader reads version ${QOQ_CHECKPOINT_FORMAT_VERSION}${newer ? " (the file is from a newer writer)" : ""}`);
  }
  for (const k of Object.keys(md)) if (!QOQ_CHECKPOINT_METADATA_KEYS.includes(k)) throw fail(k, `is not a key of format version ${QOQ_CHECKPOINT_FORMAT_VERSION} (keys: ${QOQ_CHECKPOINT_METADATA_KEYS.join(", ")})`);
  for (const k of QOQ_CHECKPOINT_METADATA_KEYS) if (k !== "calibration" && !has(k)) throw fail(k, "is missing");
  if (md.qoq_ref !== QOQ_CHECKPOINT_QOQ_REF) throw fail("qoq_ref", `is ${show(md.qoq_ref!)}; this reader implements '${QOQ_CHECKPOINT_QOQ_REF}'`);
  const writer = md.writer!;
  if (writer.length < 1 || writer.length > 200 || /[\x00-\x1f\x7f]/.test(writer)) throw fail("writer", "must be 1 to 200 characters without control characters");
  const variant = md.variant! as QuantVariant;
  if (!QUANT_VARIANTS.includes(variant)) throw fail("variant", `is ${show(variant)}; variants: ${QUANT_VARIANTS.join(", ")}`);
  const gs = md.group!;
  if (!/^[1-9][0-9]{0,14}$/.test(gs)) throw fail("group", `is ${show(gs)}, not a positive decimal integer`);
  const group = Number(gs);
  const mp = methodProblem(md.method);
  if (mp !== undefined) throw fail("method", mp);
  const lmHead = md.lm_head!;
  if (lmHead !== "tied" && lmHead !== "separate") throw fail("lm_head", `is ${show(lmHead)}, not 'tied' or 'separate'`);
  const json = (key: string): unknown => {
    try {
      return JSON.parse(md[key]!);
    } catch (e) {
      throw fail(key, `is not valid JSON: ${(e as Error).message}`);
    }
  };
  const configRaw = json("config");
  if (!isPlainObject(configRaw)) throw fail("config", "is not a JSON object");
  const config = checkConfig(configRaw, `${source}: metadata 'config'`);
  const steps = json("steps");
  if (!isPlainObject(steps)) throw fail("steps", "is not a JSON object");
  try {
    canonicalJson(steps, "steps"); // e.g. 1e999 parses to Infinity; such a file could not be saved again
  } catch (e) {
    if (e instanceof ParamError) throw fail("steps", `is not representable: ${e.message}`);
    throw e;
  }
  let calibration: QoqCalibrationInfo | undefined;
  if (has("calibration")) {
    const c = json("calibration");
    const cp = calibrationProblem(c);
    if (cp !== undefined) throw fail("calibration", cp);
    calibration = c as QoqCalibrationInfo;
  }
  const meta: QoqCheckpointMeta = {
    method: md.method!,
    steps: steps as Record<string, unknown>,
    formatVersion: QOQ_CHECKPOINT_FORMAT_VERSION,
    qoqRef: md.qoq_ref!,
    writer,
    config,
    variant,
    group,
    tiedLmHead: lmHead === "tied",
  };
  return calibration === undefined ? meta : { ...meta, calibration };
}

/**
 * Parse and validate QoQ checkpoint bytes into a `QuantizedModel` and its metadata.
 * `source` names the file in error messages. Everything is checked (see the module comment):
 * a file this returns runs through `createQuantizedModel` without a format error, and
 * `saveQoqCheckpoint(model, meta)` of the result gives back the same bytes for a file this
 * writer version wrote. Errors: `SafetensorsError` (container, tag, version, metadata, missing or
 * unknown tensor), `ParamError` (configuration), `DTypeError`, `ShapeError`,
 * `RangeViolationError`, `NonFiniteError` (tensors; name, flat index and byte offset).
 */
export function loadQoqCheckpoint(bytes: Uint8Array, source = "checkpoint"): LoadedQoqCheckpoint {
  if (!(bytes instanceof Uint8Array)) throw new ParamError(`loadQoqCheckpoint: expected a Uint8Array, got ${typeof bytes}`);
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes);
  } catch (e) {
    // Name the source in the container's own errors too (same class and fields).
    if (e instanceof SafetensorsError) e.message = e.message.replace(/^safetensors: /, `safetensors: ${source}: `);
    throw e;
  }
  const { tensors, metadata } = parsed;
  const meta = parseMeta(metadata, source);
  const { config, variant, group, tiedLmHead } = meta;
  const ctx: CheckContext = { source, offsets: dataOffsets(bytes) };
  const used = new Set<string>();
  const get = (name: string): Tensor => {
    if (!Object.hasOwn(tensors, name)) {
      throw new SafetensorsError(`${source}: missing tensor required by the ${variant} layout (nLayers ${config.nLayers}, lm_head ${tiedLmHead ? "tied" : "separate"})`, { tensor: name });
    }
    used.add(name);
    return tensors[name]!;
  };
  // Lazy layout: the first missing tensor stops the walk, however many layers the config claims.
  checkLayout(checkpointLayout(config, variant, group, tiedLmHead), group, variant, get, ctx);
  for (const name of Object.keys(tensors)) {
    if (!used.has(name)) throw new SafetensorsError(`${source}: unknown tensor, not part of the ${variant} layout`, { tensor: name, offset: ctx.offsets!.get(name) ?? 8 });
  }

  const t = <D extends "f16" | "u8" | "i8">(name: string) => tensors[name] as Tensor<D>;
  const linear = (i: number, slot: (typeof CHECKPOINT_LINEAR_SLOTS)[number], n: number, k: number): QuantizedLinear => {
    const p = checkpointLinearPath(i, slot);
    switch (variant) {
      case "g128": {
        const q = t<"u8">(`${p}.q`);
        return { variant, n, k, kPadded: q.shape[1]!, group, q, zero: t<"u8">(`${p}.zero`), s2: t<"u8">(`${p}.s2`), s1: t<"f16">(`${p}.s1`) };
      }
      case "chn":
        return { variant, n, k, q: t<"u8">(`${p}.q`), zero: t<"u8">(`${p}.zero`), scale: t<"f16">(`${p}.scale`) };
      case "w8a8":
        return { variant, n, k, q: t<"i8">(`${p}.q`), scale: t<"f16">(`${p}.scale`) };
    }
  };
  const hd = config.dim / config.nHeads;
  const layers: QuantizedLayer[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    layers.push({
      attnNorm: t<"f16">(checkpointAttnNormName(i)),
      qkv: linear(i, "qkv", (config.nHeads + 2 * config.nKvHeads) * hd, config.dim),
      o: linear(i, "o", config.dim, config.nHeads * hd),
      ffnNorm: t<"f16">(checkpointFfnNormName(i)),
      gateUp: linear(i, "gateUp", 2 * config.hiddenDim, config.dim),
      down: linear(i, "down", config.dim, config.hiddenDim),
    });
  }
  const tokenEmbedding = t<"f16">(CHECKPOINT_EMBEDDING);
  const model: QuantizedModel = {
    config,
    variant,
    group,
    method: meta.method,
    tokenEmbedding,
    layers,
    finalNorm: t<"f16">(CHECKPOINT_FINAL_NORM),
    lmHead: tiedLmHead ? tokenEmbedding : t<"f16">(CHECKPOINT_LM_HEAD),
  };
  return { model, meta };
}
