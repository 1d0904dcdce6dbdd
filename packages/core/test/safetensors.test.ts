/**
 * safetensors I/O (safetensors.ts, io.ts). Files are untrusted input: every hostile file below is
 * built by hand, byte by byte, and must be rejected with a SafetensorsError that locates the
 * problem; random corruptions of valid files must never escape as any other exception.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  bytesEqual,
  DTypeError,
  DTYPE_SIZE,
  DTYPES,
  getTensor,
  IoError,
  MAX_HEADER_BYTES,
  numel,
  parseSafetensors,
  propertyOptions,
  readSafetensorsFile,
  SafetensorsError,
  serializeSafetensors,
  tensor,
  writeSafetensorsFile,
  type DType,
  type NamedTensors,
  type Tensor,
} from "../src/index.js";

// ---- helpers (independent of the code under test) ----------------------------------------

const enc = new TextEncoder();

/** 8-byte little-endian length + raw header bytes + data. */
function rawFile(lengthField: bigint, header: Uint8Array, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthField, true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}
/** A file with a header given as text (length field = its UTF-8 length) and `data` (bytes or a count of zero bytes). */
function fileText(text: string, data: Uint8Array | number = 0): { bytes: Uint8Array; dataStart: number } {
  const h = enc.encode(text);
  const d = typeof data === "number" ? new Uint8Array(data) : data;
  return { bytes: rawFile(BigInt(h.length), h, d), dataStart: 8 + h.length };
}
const fileJson = (header: unknown, data: Uint8Array | number = 0): { bytes: Uint8Array; dataStart: number } => fileText(JSON.stringify(header), data);

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

/** Build a NamedTensors object with own properties only (also for a name like "__proto__"). */
function named(entries: [string, Tensor][]): NamedTensors {
  const o: NamedTensors = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}
function strMap(entries: [string, string][]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

const ARRAY_OF: Record<DType, (b: ArrayBuffer) => Tensor["data"]> = {
  f16: (b) => new Uint16Array(b),
  f32: (b) => new Float32Array(b),
  f64: (b) => new Float64Array(b),
  i8: (b) => new Int8Array(b),
  u8: (b) => new Uint8Array(b),
  i32: (b) => new Int32Array(b),
};
const ST_NAME: Record<DType, string> = { f16: "F16", f32: "F32", f64: "F64", i8: "I8", u8: "U8", i32: "I32" };

/** A tensor of any dtype and shape (up to rank 3, dims 0..4) whose bytes are random (NaN payloads included). */
const arbTensor: fc.Arbitrary<Tensor> = fc
  .tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }))
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.uint8Array({ minLength: n * DTYPE_SIZE[dtype], maxLength: n * DTYPE_SIZE[dtype] }).map((bytes) => {
      const buf = new ArrayBuffer(bytes.length);
      new Uint8Array(buf).set(bytes);
      return tensor(dtype, shape, ARRAY_OF[dtype](buf) as never) as Tensor;
    });
  });
const arbName = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "model.layers.0.self_attn.q_proj.weight", "ü∂", "", "10", "9"),
).filter((s) => s !== "__metadata__");
const arbTensors = fc.uniqueArray(fc.tuple(arbName, arbTensor), { maxLength: 6, selector: ([k]) => k }).map(named);
const arbMeta = fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("__proto__", "format")), fc.string({ maxLength: 20 })), { maxLength: 4, selector: ([k]) => k }).map(strMap);

function expectSameContents(a: { tensors: NamedTensors; metadata: Record<string, string> }, tensors: NamedTensors, metadata: Record<string, string>): void {
  expect(Object.keys(a.tensors).sort()).toEqual(Object.keys(tensors).sort());
  for (const k of Object.keys(tensors)) {
    expect(Object.hasOwn(a.tensors, k)).toBe(true);
    expect(bytesEqual(a.tensors[k]!, tensors[k]!), `tensor '${k}'`).toBe(true);
  }
  expect(Object.keys(a.metadata).sort()).toEqual(Object.keys(metadata).sort());
  for (const k of Object.keys(metadata)) expect(Object.hasOwn(a.metadata, k) && a.metadata[k] === metadata[k]).toBe(true);
}

// ---- round trips ---------------------------------------------------------------------------

describe("safetensors: round trip and determinism", () => {
  it("every dtype with metadata round-trips byte for byte", () => {
    fc.assert(
      fc.property(arbTensors, arbMeta, (tensors, metadata) => {
        const bytes = serializeSafetensors(tensors, metadata);
        const back = parseSafetensors(bytes);
        expectSameContents(back, tensors, metadata);
        for (const k of Object.keys(tensors)) {
          expect(back.tensors[k]!.dtype).toBe(tensors[k]!.dtype);
          expect([...back.tensors[k]!.shape]).toEqual([...tensors[k]!.shape]);
        }
      }),
      propertyOptions(300),
    );
  });

  it("serializing twice, or in another insertion order, gives the same bytes; the header follows the format", () => {
    fc.assert(
      fc.property(arbTensors, arbMeta, (tensors, metadata) => {
        const a = serializeSafetensors(tensors, metadata);
        const b = serializeSafetensors(tensors, metadata);
        expect(b).toEqual(a);
        const reversed = named(Object.entries(tensors).reverse());
        const reversedMeta = strMap(Object.entries(metadata).reverse());
        expect(serializeSafetensors(reversed, reversedMeta)).toEqual(a);
        // format: u64 LE header length, a multiple of 8; UTF-8 JSON object; spans tile the data in name order
        const n = Number(new DataView(a.buffer, a.byteOffset).getBigUint64(0, true));
        expect(n % 8).toBe(0);
        const text = new TextDecoder().decode(a.subarray(8, 8 + n));
        expect(text.trimEnd().length).toBeGreaterThan(0);
        const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
        let cursor = 0;
        for (const name of Object.keys(tensors).sort()) {
          const e = header[name]!;
          const t = tensors[name]!;
          expect(e.dtype).toBe(ST_NAME[t.dtype]);
          expect(e.shape).toEqual([...t.shape]);
          expect(e.data_offsets).toEqual([cursor, cursor + numel(t.shape) * DTYPE_SIZE[t.dtype]]);
          cursor = e.data_offsets[1];
        }
        expect(a.length).toBe(8 + n + cursor);
        if (Object.keys(metadata).length > 0) expect(Object.entries(header.__metadata__ as unknown as Record<string, string>).sort()).toEqual(Object.entries(metadata).sort());
      }),
      propertyOptions(200),
    );
  });

  it("writes exactly the expected bytes for a small file", () => {
    const t = { a: tensor("u8", [2], Uint8Array.from([1, 2])), b: tensor("i32", [], Int32Array.from([-2])) };
    const bytes = serializeSafetensors(t);
    const json = '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"I32","shape":[],"data_offsets":[2,6]}}';
    const padded = json + " ".repeat((8 - (json.length % 8)) % 8);
    const want = rawFile(BigInt(padded.length), enc.encode(padded), Uint8Array.from([1, 2, 0xfe, 0xff, 0xff, 0xff]));
    expect([...bytes]).toEqual([...want]);
    // an empty file set is a valid file too
    const empty = serializeSafetensors({});
    expect(parseSafetensors(empty)).toEqual({ tensors: {}, metadata: {} });
  });

  it("reads a file written by another writer (spaces, unpadded header, unsorted entries, metadata first or last)", () => {
    const text = '{"b": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}, "a": {"dtype": "I32", "shape": [], "data_offsets": [4, 8]}, "__metadata__": {"format": "pt"}}';
    const { bytes } = fileText(text, Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 7, 0, 0, 0]));
    const r = parseSafetensors(bytes);
    expect(r.metadata).toEqual({ format: "pt" });
    expect(r.tensors.b!.dtype).toBe("f16");
    expect([...r.tensors.b!.data]).toEqual([0x3c00, 0xc000]);
    expect(r.tensors.a!.dtype).toBe("i32");
    expect(r.tensors.a!.shape).toEqual([]);
    expect([...r.tensors.a!.data]).toEqual([7]);
    // the parsed tensors do not alias the file buffer
    bytes.fill(0);
    expect([...r.tensors.a!.data]).toEqual([7]);
    // unaligned spans are fine: a 1-byte tensor before a 4-byte one
    const odd = fileJson({ x: { dtype: "U8", shape: [1], data_offsets: [0, 1] }, y: { dtype: "F32", shape: [1], data_offsets: [1, 5] } }, Uint8Array.from([9, 0, 0, 0x80, 0x3f]));
    const r2 = parseSafetensors(odd.bytes);
    expect([...r2.tensors.y!.data]).toEqual([1]);
    // a Uint8Array view into a larger buffer (as Node's Buffer often is)
    const big = new Uint8Array(odd.bytes.length + 13);
    big.set(odd.bytes, 13);
    expect([...parseSafetensors(big.subarray(13)).tensors.y!.data]).toEqual([1]);
  });

  it("names that are Object.prototype members stay own tensors and metadata keys", () => {
    const tensors = named([
      ["__proto__", tensor("f32", [1], Float32Array.from([1.5]))],
      ["constructor", tensor("u8", [1], Uint8Array.from([3]))],
    ]);
    const metadata = strMap([["__proto__", "x"]]);
    const r = parseSafetensors(serializeSafetensors(tensors, metadata));
    expect(Object.keys(r.tensors).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(r.tensors)).toBe(Object.prototype);
    expect([...getTensor(r.tensors, "__proto__", "f32").data]).toEqual([1.5]);
    expect(Object.keys(r.metadata)).toEqual(["__proto__"]);
    // and a hand-written file with such a name
    const { bytes } = fileText('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', Uint8Array.from([5]));
    const r2 = parseSafetensors(bytes);
    expect(Object.keys(r2.tensors)).toEqual(["__proto__"]);
    expect((r2.tensors as Record<string, unknown>).dtype).toBeUndefined();
  });

  it("a zero-element tensor with huge dimensions round-trips", () => {
    const shape = [...Array<number>(24).fill(2 ** 53 - 1), 0];
    const { bytes } = fileJson({ z: { dtype: "F32", shape, data_offsets: [0, 0] } });
    const r = parseSafetensors(bytes);
    expect(r.tensors.z!.data.length).toBe(0);
    expect(r.tensors.z!.shape).toEqual(shape);
    expectSameContents(parseSafetensors(serializeSafetensors(r.tensors)), r.tensors, {});
  });
});

// ---- hostile files ----------------------------------------------------------------------------

interface Hostile {
  label: string;
  bytes: Uint8Array;
  tensor?: string;
  offset?: number;
  message?: RegExp;
}

function hostileCases(): Hostile[] {
  const cases: Hostile[] = [];
  const add = (c: Hostile): void => void cases.push(c);
  const f32Entry = (shape: unknown, offs: unknown, dtype: unknown = "F32"): unknown => ({ dtype, shape, data_offsets: offs });

  for (let len = 0; len < 8; len++) add({ label: `file of ${len} bytes`, bytes: new Uint8Array(len), offset: 0, message: /shorter than/ });
  add({ label: "header length past EOF", bytes: rawFile(100n, enc.encode("{}")), offset: 0, message: /past the end/ });
  add({ label: "header length one past EOF", bytes: rawFile(3n, enc.encode("{}")), offset: 0, message: /past the end/ });
  add({ label: "header length > 100 MB", bytes: rawFile(BigInt(MAX_HEADER_BYTES + 1), enc.encode("{}")), offset: 0, message: /limit/ });
  add({ label: "header length 2^64 − 1", bytes: rawFile(2n ** 64n - 1n, enc.encode("{}")), offset: 0, message: /limit/ });
  add({ label: "header length 0", bytes: rawFile(0n, new Uint8Array(0)), offset: 0 });
  add({ label: "header length 1", bytes: rawFile(1n, enc.encode("{")), offset: 0 });
  add({ label: "header not UTF-8 (0xff)", bytes: rawFile(3n, Uint8Array.from([0x7b, 0xff, 0x7d])), offset: 8, message: /UTF-8/ });
  add({ label: "header not UTF-8 (overlong '{')", bytes: rawFile(4n, Uint8Array.from([0xc1, 0xbb, 0x7d, 0x20])), offset: 8, message: /UTF-8/ });
  add({ label: "header not UTF-8 (encoded surrogate)", bytes: rawFile(5n, Uint8Array.from([0x7b, 0xed, 0xa0, 0x80, 0x7d])), offset: 8, message: /UTF-8/ });
  add({ label: "header not UTF-8 (truncated sequence)", bytes: rawFile(3n, Uint8Array.from([0x7b, 0x7d, 0xe2])), offset: 8, message: /UTF-8/ });
  add({ label: "header starts with a BOM", bytes: fileText("\ufeff{}").bytes, offset: 8 });
  add({ label: "header not JSON", bytes: fileText("{abc}").bytes, offset: 8 });
  add({ label: "header is an unterminated object", bytes: fileText("{        ").bytes, offset: 8 });
  add({ label: "header JSON with trailing garbage", bytes: fileText("{} x").bytes, offset: 8 });
  add({ label: "header is a JSON array", bytes: fileText("[1, 2]").bytes, offset: 8 });
  add({ label: "header is a JSON number", bytes: fileText("12345678").bytes, offset: 8 });
  add({ label: "header is JSON null", bytes: fileText("null").bytes, offset: 8 });
  add({ label: "header is a JSON string", bytes: fileText('"{}"').bytes, offset: 8 });
  add({ label: "header has leading whitespace", bytes: fileText(" {}").bytes, offset: 8 });
  for (const v of [5, "x", null, [1, 2], true]) add({ label: `entry is ${JSON.stringify(v)}`, bytes: fileJson({ t: v }).bytes, tensor: "t", offset: 8, message: /not an object/ });
  for (const d of ["F128", "f32", "", 5, null, ["F32"], "toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"]) {
    add({ label: `unknown dtype ${JSON.stringify(d)}`, bytes: fileJson({ t: f32Entry([1], [0, 4], d) }, 4).bytes, tensor: "t", offset: 8, message: /dtype/ });
  }
  add({ label: "missing dtype", bytes: fileJson({ t: { shape: [1], data_offsets: [0, 4] } }, 4).bytes, tensor: "t", offset: 8, message: /dtype/ });
  for (const d of ["BF16", "I64", "BOOL", "F8_E4M3", "U32"]) {
    add({ label: `valid but unsupported dtype ${d}`, bytes: fileJson({ w: f32Entry([1], [0, 8], d) }, 8).bytes, tensor: "w", offset: 8, message: new RegExp(d) });
  }
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  add({ label: "deeply nested shape", bytes: fileText(`{"t":{"dtype":"F32","shape":${deep},"data_offsets":[0,0]}}`).bytes, tensor: "t", offset: 8, message: /shape/ });
  add({ label: "deeply nested dtype", bytes: fileText(`{"t":{"dtype":${deep},"shape":[],"data_offsets":[0,0]}}`).bytes, tensor: "t", offset: 8, message: /dtype/ });
  add({ label: "deeply nested data_offsets", bytes: fileText(`{"t":{"dtype":"F32","shape":[0],"data_offsets":${deep}}}`).bytes, tensor: "t", offset: 8, message: /data_offsets/ });
  add({ label: "deeply nested metadata", bytes: fileText(`{"__metadata__":${deep}}`).bytes, offset: 8, message: /__metadata__/ });
  for (const shape of [[-1], [1.5], [2, -3], ["2"], [null], "3", null, 4, [1e300], [2 ** 53]]) {
    add({ label: `shape ${JSON.stringify(shape)}`, bytes: fileJson({ t: f32Entry(shape, [0, 4]) }, 4).bytes, tensor: "t", offset: 8, message: /shape/ });
  }
  add({ label: "missing shape", bytes: fileJson({ t: { dtype: "F32", data_offsets: [0, 4] } }, 4).bytes, tensor: "t", offset: 8, message: /shape/ });
  {
    // each dim a safe integer, their product overflows every integer type: caught by the size check
    const huge = fileJson({ t: f32Entry([2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1], [0, 4]) }, 4);
    add({ label: "huge dims (product overflows)", bytes: huge.bytes, tensor: "t", offset: huge.dataStart, message: /needs/ });
    const wrap = fileJson({ t: f32Entry([2 ** 32, 2 ** 32], [0, 0]) }, 0); // 2^64·4 bytes would wrap to 0 in u64 arithmetic
    add({ label: "dims whose byte count wraps to 0 in 64 bits", bytes: wrap.bytes, tensor: "t", offset: wrap.dataStart, message: /needs/ });
  }
  for (const offs of [[0], [0, 4, 8], [], "0,4", null, [-4, 0], [0, -4], [0, 2.5], [0.5, 4], [0, 2 ** 60], ["0", "4"]]) {
    add({ label: `data_offsets ${JSON.stringify(offs)}`, bytes: fileJson({ t: f32Entry([1], offs) }, 4).bytes, tensor: "t", offset: 8, message: /data_offsets/ });
  }
  add({ label: "missing data_offsets", bytes: fileJson({ t: { dtype: "F32", shape: [1] } }, 4).bytes, tensor: "t", offset: 8, message: /data_offsets/ });
  {
    const f = fileJson({ t: f32Entry([0], [4, 0]) }, 4);
    add({ label: "data_offsets end < begin", bytes: f.bytes, tensor: "t", offset: f.dataStart + 4, message: /before begin/ });
  }
  {
    const f = fileJson({ t: f32Entry([100], [0, 400]) }, 4);
    add({ label: "data_offsets end past the buffer", bytes: f.bytes, tensor: "t", offset: f.dataStart, message: /past/ });
    const g = fileJson({ a: f32Entry([1], [0, 4]), t: f32Entry([1], [4, 8]) }, 6);
    add({ label: "second tensor's end past the buffer", bytes: g.bytes, tensor: "t", offset: g.dataStart + 4, message: /past/ });
  }
  {
    const f = fileJson({ a: f32Entry([1], [0, 4]), t: f32Entry([2], [4, 8]) }, 8);
    add({ label: "span smaller than numel × size", bytes: f.bytes, tensor: "t", offset: f.dataStart + 4, message: /needs 8 bytes/ });
    const g = fileJson({ t: f32Entry([1], [0, 8]) }, 8);
    add({ label: "span larger than numel × size", bytes: g.bytes, tensor: "t", offset: g.dataStart, message: /needs 4 bytes/ });
    const h = fileJson({ t: f32Entry([3], [0, 3], "F16") }, 3);
    add({ label: "F16 span of an odd byte count", bytes: h.bytes, tensor: "t", offset: h.dataStart });
  }
  {
    const f = fileJson({ a: f32Entry([2], [0, 8]), b: f32Entry([2], [4, 12]) }, 12);
    add({ label: "overlapping spans", bytes: f.bytes, tensor: "b", offset: f.dataStart + 4, message: /overlaps/ });
    const g = fileJson({ a: f32Entry([2], [0, 8]), b: f32Entry([2], [0, 8]) }, 8);
    add({ label: "two tensors on the same span", bytes: g.bytes, offset: g.dataStart, message: /overlaps/ });
    const z = fileJson({ a: f32Entry([2], [0, 8]), e: f32Entry([0], [4, 4]) }, 8);
    add({ label: "an empty tensor inside another's span", bytes: z.bytes, tensor: "e", offset: z.dataStart + 4, message: /overlaps/ });
  }
  {
    const f = fileJson({ a: f32Entry([1], [0, 4]), b: f32Entry([1], [8, 12]) }, 12);
    add({ label: "a hole between spans", bytes: f.bytes, tensor: "b", offset: f.dataStart + 4, message: /unused/ });
    const g = fileJson({ a: f32Entry([1], [4, 8]) }, 8);
    add({ label: "a hole before the first span", bytes: g.bytes, tensor: "a", offset: g.dataStart, message: /unused/ });
  }
  {
    const f = fileJson({ a: f32Entry([1], [0, 4]) }, 7);
    add({ label: "trailing bytes", bytes: f.bytes, offset: f.dataStart + 4, message: /trailing/ });
    const g = fileJson({}, 1);
    add({ label: "data with no tensors", bytes: g.bytes, offset: g.dataStart, message: /trailing/ });
  }
  for (const m of ["x", [], null, 5, ["a"]]) add({ label: `__metadata__ is ${JSON.stringify(m)}`, bytes: fileJson({ __metadata__: m }).bytes, offset: 8, message: /__metadata__/ });
  for (const v of [1, null, { a: "b" }, ["x"], true]) {
    add({ label: `__metadata__ value ${JSON.stringify(v)}`, bytes: fileJson({ __metadata__: { ok: "fine", bad_key: v } }).bytes, offset: 8, message: /'bad_key'/ });
  }
  return cases;
}

describe("safetensors: hostile files", () => {
  const cases = hostileCases();
  it.each(cases.map((c) => [c.label, c] as const))("%s → SafetensorsError", (_label, c) => {
    const e = thrown(() => parseSafetensors(c.bytes));
    expect(e).toBeInstanceOf(SafetensorsError);
    const s = e as SafetensorsError;
    expect(s.code).toBe("safetensors");
    expect(s.message.startsWith("safetensors: ")).toBe(true);
    if (c.tensor !== undefined) {
      expect(s.tensor).toBe(c.tensor);
      expect(s.message).toContain(`tensor '${c.tensor}'`);
    }
    if (c.offset !== undefined) {
      expect(s.offset).toBe(c.offset);
      expect(s.message).toContain(`byte offset ${c.offset}`);
    }
    if (c.message !== undefined) expect(s.message).toMatch(c.message);
    expect(s.message.length).toBeLessThan(1000); // messages stay readable even for huge hostile values
  });

  it("the table exercises each check (a tripwire against a table that silently shrank)", () => {
    expect(cases.length).toBeGreaterThanOrEqual(90);
  });

  it("the writer refuses '__metadata__' as a tensor name and data that does not fill the shape", () => {
    const e = thrown(() => serializeSafetensors({ __metadata__: tensor("u8", [1], Uint8Array.from([1])) }));
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as SafetensorsError).tensor).toBe("__metadata__");
    expect((e as Error).message).toContain("tensor '__metadata__'");
    const bad: Tensor = { dtype: "f32", shape: [3], data: new Float32Array(2) };
    const e2 = thrown(() => serializeSafetensors({ w: bad }));
    expect(e2).toBeInstanceOf(SafetensorsError);
    expect((e2 as SafetensorsError).tensor).toBe("w");
  });
});

// ---- random corruption ---------------------------------------------------------------------------

describe("safetensors: random corruption never escapes as another exception", () => {
  const base = serializeSafetensors(
    {
      "a.weight": tensor("f16", [2, 3], Uint16Array.from([0x3c00, 0, 0x7bff, 0x8000, 1, 0xc000])),
      b: tensor("f32", [4], Float32Array.from([1, -2, 3.5, NaN])),
      c: tensor("i8", [3], Int8Array.from([-128, 0, 127])),
      d: tensor("u8", [0], new Uint8Array(0)),
      e: tensor("i32", [], Int32Array.from([123456])),
      f: tensor("f64", [1, 1], Float64Array.from([Math.PI])),
    },
    { format: "pt", note: "qoq" },
  );
  const headerLen = Number(new DataView(base.buffer).getBigUint64(0, true));
  const headerObj = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + headerLen))) as Record<string, Record<string, unknown>>;

  /** Parse; on success the result must re-serialize to a file that parses to the same contents, and serialize stably. */
  function check(bytes: Uint8Array): "ok" | "rejected" {
    let r: ReturnType<typeof parseSafetensors>;
    try {
      r = parseSafetensors(bytes);
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw new Error(`escaped as ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      return "rejected";
    }
    for (const [name, t] of Object.entries(r.tensors)) expect(t.data.length, name).toBe(numel(t.shape));
    const again = serializeSafetensors(r.tensors, r.metadata);
    const r2 = parseSafetensors(again);
    expectSameContents(r2, r.tensors, r.metadata);
    expect(serializeSafetensors(r2.tensors, r2.metadata)).toEqual(again);
    return "ok";
  }

  const trickyJson = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom<unknown>("BF16", "F32", "U8", "toString", "__proto__", -1, 2 ** 53, 1e308, 0.5, [], [0], [0, 0], [1, 0], [0, 1e20], [[0]], null, {}),
  );

  /** Mutations as plain data, so a failing case prints readably and replays by seed/path. */
  type Mutation =
    | { kind: "truncate"; at: number }
    | { kind: "flipHeaderBit"; at: number; bit: number }
    | { kind: "setByte"; at: number; value: number }
    | { kind: "setHeaderBytes"; edits: [number, number][] }
    | { kind: "insertHeaderByte"; at: number; value: number }
    | { kind: "deleteHeaderByte"; at: number }
    | { kind: "setLength"; length: bigint }
    | { kind: "randomFile"; bytes: Uint8Array }
    | { kind: "randomHeader"; bytes: Uint8Array }
    | { kind: "editEntry"; name: string; field: string; value: unknown };

  function apply(m: Mutation, b: Uint8Array): Uint8Array {
    const c = b.slice();
    const h = (at: number): number => 8 + (at % headerLen);
    switch (m.kind) {
      case "truncate":
        return b.subarray(0, m.at % (b.length + 1));
      case "flipHeaderBit":
        c[h(m.at)] = c[h(m.at)]! ^ (1 << m.bit);
        return c;
      case "setByte":
        c[m.at % c.length] = m.value; // anywhere, the length field included
        return c;
      case "setHeaderBytes":
        for (const [at, v] of m.edits) c[h(at)] = v;
        return c;
      case "insertHeaderByte":
        return Uint8Array.from([...b.subarray(0, h(m.at)), m.value, ...b.subarray(h(m.at))]); // length field not fixed
      case "deleteHeaderByte":
        return Uint8Array.from([...b.subarray(0, h(m.at)), ...b.subarray(h(m.at) + 1)]);
      case "setLength":
        new DataView(c.buffer).setBigUint64(0, m.length, true);
        return c;
      case "randomFile":
        return m.bytes;
      case "randomHeader": {
        const r = new Uint8Array(8 + m.bytes.length);
        new DataView(r.buffer).setBigUint64(0, BigInt(m.bytes.length), true);
        r.set(m.bytes, 8);
        return r; // random header bytes behind a consistent length
      }
      case "editEntry": {
        // replace one field of one entry (or the whole entry) with a JSON value; keep the data
        const hdr = structuredClone(headerObj) as Record<string, unknown>;
        if (m.field === "(entry)") hdr[m.name] = m.value;
        else (hdr[m.name] as Record<string, unknown>)[m.field] = m.value;
        return fileText(JSON.stringify(hdr), b.subarray(8 + headerLen)).bytes;
      }
    }
  }

  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("flipHeaderBit" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant("setByte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("setHeaderBytes" as const), edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 2, maxLength: 8 }) }),
    fc.record({ kind: fc.constant("insertHeaderByte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("deleteHeaderByte" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("setLength" as const),
      length: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -4, max: 4 }).map((d) => BigInt(headerLen + d))),
    }),
    fc.record({ kind: fc.constant("randomFile" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant("randomHeader" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({
      kind: fc.constant("editEntry" as const),
      name: fc.constantFrom(...Object.keys(headerObj)),
      field: fc.constantFrom("dtype", "shape", "data_offsets", "extra", "(entry)"),
      value: trickyJson,
    }),
  );

  it("truncations, bit flips, random bytes and structural edits: parse consistently or throw SafetensorsError", () => {
    let ok = 0;
    let rejected = 0;
    const opts = propertyOptions(600);
    fc.assert(
      fc.property(mutation, (m) => {
        if (check(apply(m, base)) === "ok") ok++;
        else rejected++;
      }),
      opts,
    );
    expect(check(base)).toBe("ok");
    // both outcomes occur (some mutations, e.g. an "extra" entry field, leave a valid file), so
    // both branches of the check ran; only meaningful with enough runs (FC_RUNS may lower them)
    if (opts.numRuns >= 200 && opts.path === undefined) {
      expect(rejected).toBeGreaterThan(0);
      expect(ok).toBeGreaterThan(0);
    }
  });
});

// ---- getTensor and files ---------------------------------------------------------------------------

describe("getTensor", () => {
  const ts: NamedTensors = { x: tensor("f16", [1], Uint16Array.from([0x3c00])), y: tensor("i8", [1], Int8Array.from([1])) };

  it("returns the tensor with the right dtype", () => {
    expect(getTensor(ts, "x", "f16")).toBe(ts.x);
  });

  it("a missing tensor is a SafetensorsError naming it and listing the present ones", () => {
    for (const name of ["z", "constructor", "toString", "__proto__"]) {
      const e = thrown(() => getTensor(ts, name, "f16"));
      expect(e, name).toBeInstanceOf(SafetensorsError);
      expect((e as SafetensorsError).tensor).toBe(name);
      expect((e as Error).message).toContain("x, y");
    }
    expect((thrown(() => getTensor({}, "a", "f32")) as Error).message).toContain("(none)");
  });

  it("a wrong dtype is a DTypeError naming the tensor and both dtypes", () => {
    const e = thrown(() => getTensor(ts, "y", "u8"));
    expect(e).toBeInstanceOf(DTypeError);
    expect((e as DTypeError).code).toBe("dtype");
    expect((e as Error).message).toContain("'y'");
    expect((e as Error).message).toContain("i8");
    expect((e as Error).message).toContain("u8");
  });
});

describe("safetensors files (io.ts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "qoq-core-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("write then read round-trips", () => {
    const p = join(dir, "a.safetensors");
    const tensors = { w: tensor("f32", [2], Float32Array.from([1, 2])) };
    writeSafetensorsFile(p, tensors, { k: "v" });
    const r = readSafetensorsFile(p);
    expectSameContents(r, tensors, { k: "v" });
  });

  it("file-system failures are IoError; a bad file is still a SafetensorsError", () => {
    const missing = thrown(() => readSafetensorsFile(join(dir, "nope.safetensors")));
    expect(missing).toBeInstanceOf(IoError);
    expect((missing as IoError).code).toBe("io");
    expect((missing as Error).message).toContain("nope.safetensors");
    expect(thrown(() => writeSafetensorsFile(join(dir, "no", "such", "dir", "x.safetensors"), {}))).toBeInstanceOf(IoError);
    const bad = join(dir, "bad.safetensors");
    writeFileSync(bad, Uint8Array.from([1, 2, 3]));
    expect(thrown(() => readSafetensorsFile(bad))).toBeInstanceOf(SafetensorsError);
    expect(thrown(() => writeSafetensorsFile(join(dir, "m.safetensors"), { __metadata__: tensor("u8", [0], new Uint8Array(0)) }))).toBeInstanceOf(SafetensorsError);
  });
});
