/**
 * safetensors reader and writer. Files are untrusted: every field is checked before a byte of
 * tensor data is touched, and each violation is a {@link SafetensorsError} naming the tensor
 * and byte offset.
 *
 * Format: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON (an object mapping
 * tensor names to `{dtype, shape, data_offsets: [begin, end]}`, plus an optional
 * `__metadata__` object of strings), then the data buffer. Offsets are relative to the start of
 * the data buffer. We require what the reference Rust implementation requires: spans equal to
 * numel × element size, no overlaps, and no unused bytes.
 * @module
 */
import { DTypeError, SafetensorsError } from "./errors.js";
import { allocData, DTYPE_SIZE, numel, tensorBytes, type DType, type NamedTensors, type Tensor } from "./tensor.js";

/** Largest header we accept (the reference implementation uses the same 100 MB cap). */
export const MAX_HEADER_BYTES = 100_000_000;

/** safetensors dtype names and their element sizes in bytes; only some map to qoq dtypes. */
export const SAFETENSORS_DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

const TO_QOQ: Readonly<Record<string, DType>> = { F16: "f16", F32: "f32", F64: "f64", I8: "i8", U8: "u8", I32: "i32" };
const FROM_QOQ: Readonly<Record<DType, string>> = { f16: "F16", f32: "F32", f64: "F64", i8: "I8", u8: "U8", i32: "I32" };

/** The contents of a safetensors file. */
export interface SafetensorsContents {
  /** Tensors by name. */
  tensors: NamedTensors;
  /** The `__metadata__` string map (empty if absent). */
  metadata: Record<string, string>;
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Set an own property, also for the key `__proto__` (plain assignment would replace the prototype). */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A bounded JSON rendering of an untrusted value for an error message (never throws). */
function preview(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = undefined; // e.g. nesting too deep for the recursive stringifier
  }
  if (s === undefined) return Array.isArray(v) ? "(a deeply nested array)" : typeof v;
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Parse and validate a safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array): SafetensorsContents {
  if (bytes.length < 8) throw new SafetensorsError(`file is ${bytes.length} bytes, shorter than the 8-byte header length`, { offset: 0 });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`, { offset: 0 });
  const n = Number(n64);
  if (8 + n > bytes.length) throw new SafetensorsError(`header length ${n} runs past the end of the ${bytes.length}-byte file`, { offset: 0 });
  if (n < 2) throw new SafetensorsError(`header length ${n} is too short for a JSON object`, { offset: 0 });
  let text: string;
  try {
    // ignoreBOM keeps a leading U+FEFF in the text, so the '{' check below rejects it as the reference does
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new SafetensorsError("header is not valid UTF-8", { offset: 8 });
  }
  if (!text.startsWith("{")) throw new SafetensorsError("header does not start with '{'", { offset: 8 });
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`header is not valid JSON: ${(e as Error).message}`, { offset: 8 });
  }
  if (!isPlainObject(header)) throw new SafetensorsError("header is not a JSON object", { offset: 8 });

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isPlainObject(raw)) throw new SafetensorsError("__metadata__ is not an object", { offset: 8 });
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") throw new SafetensorsError(`__metadata__ value for '${k}' is not a string`, { offset: 8 });
        setOwn(metadata, k, v);
      }
      continue;
    }
    entries.push(validateEntry(name, raw, dataLen, dataStart));
  }

  // Spans must tile the data buffer exactly: no overlaps, no holes, nothing past the end.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) throw new SafetensorsError(`data span [${e.begin}, ${e.end}) overlaps the previous tensor's span ending at ${cursor}`, { tensor: e.name, offset: dataStart + e.begin });
    if (e.begin > cursor) throw new SafetensorsError(`${e.begin - cursor} unused bytes before this tensor's data`, { tensor: e.name, offset: dataStart + cursor });
    cursor = e.end;
  }
  if (cursor !== dataLen) throw new SafetensorsError(`${dataLen - cursor} trailing bytes after the last tensor's data`, { offset: dataStart + cursor });

  const tensors: NamedTensors = {};
  for (const e of entries) {
    const data = allocData(e.dtype, numel(e.shape));
    // Copy: the span may be unaligned for its typed array, and the caller may drop the file buffer.
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    setOwn(tensors, e.name, { dtype: e.dtype, shape: e.shape, data } as Tensor);
  }
  return { tensors, metadata };
}

function validateEntry(name: string, raw: unknown, dataLen: number, dataStart: number): Entry {
  const where = { tensor: name, offset: 8 };
  if (!isPlainObject(raw)) throw new SafetensorsError("entry is not an object", where);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== "string" || !Object.hasOwn(SAFETENSORS_DTYPE_SIZES, dtype)) throw new SafetensorsError(`unknown dtype ${preview(dtype)}`, where);
  const qoqType = Object.hasOwn(TO_QOQ, dtype) ? TO_QOQ[dtype] : undefined;
  if (qoqType === undefined) throw new SafetensorsError(`dtype ${dtype} is valid safetensors but not one qoq reads (F16, F32, F64, I8, U8, I32)`, where);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`shape ${preview(shape)} is not a list of non-negative integers`, where);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError(`data_offsets ${preview(offsets)} is not a pair of non-negative integers`, where);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new SafetensorsError(`data_offsets end ${end} is before begin ${begin}`, { tensor: name, offset: dataStart + begin });
  if (end > dataLen) throw new SafetensorsError(`data_offsets end ${end} runs past the ${dataLen}-byte data buffer`, { tensor: name, offset: dataStart + begin });
  // numel × size with BigInt: a hostile shape could overflow a double's exact integer range.
  let bytesNeeded = BigInt(SAFETENSORS_DTYPE_SIZES[dtype]!);
  for (const d of shape as number[]) bytesNeeded *= BigInt(d);
  if (bytesNeeded !== BigInt(end - begin)) {
    throw new SafetensorsError(`shape [${(shape as number[]).join(", ")}] of ${dtype} needs ${bytesNeeded} bytes but data_offsets span ${end - begin}`, { tensor: name, offset: dataStart + begin });
  }
  return { name, dtype: qoqType, shape: [...(shape as number[])], begin, end };
}

/**
 * Serialize tensors (and optional string metadata) to safetensors bytes. Deterministic: tensors
 * in name order, compact JSON, header padded with spaces to a multiple of 8 bytes.
 */
export function serializeSafetensors(tensors: NamedTensors, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    const sortedMeta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) setOwn(sortedMeta, k, metadata[k]!);
    header.__metadata__ = sortedMeta;
  }
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") throw new SafetensorsError("'__metadata__' is reserved and cannot name a tensor", { tensor: name });
    const t = tensors[name]!;
    const size = t.data.length * DTYPE_SIZE[t.dtype];
    if (t.data.length !== numel(t.shape)) throw new SafetensorsError(`data holds ${t.data.length} elements but shape [${t.shape.join(", ")}] needs ${numel(t.shape)}`, { tensor: name });
    setOwn(header, name, { dtype: FROM_QOQ[t.dtype], shape: t.shape, data_offsets: [offset, offset + size] });
    offset += size;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad > 0) {
    json += " ".repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const b = tensorBytes(tensors[name]!);
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/** Look up a tensor by name with a typed error if it is missing or has the wrong dtype. */
export function getTensor<D extends DType>(tensors: NamedTensors, name: string, dtype: D): Tensor<D> {
  const t = Object.hasOwn(tensors, name) ? tensors[name] : undefined; // not an inherited "constructor" etc.
  if (t === undefined) throw new SafetensorsError(`missing tensor; present: ${Object.keys(tensors).join(", ") || "(none)"}`, { tensor: name });
  if (t.dtype !== dtype) throw new DTypeError(`tensor '${name}' is ${t.dtype}, expected ${dtype}`);
  return t as Tensor<D>;
}
