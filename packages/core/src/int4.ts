/**
 * INT4 packing: element 2i in the low nibble and 2i+1 in the high nibble of byte i, as QServe
 * packs KV4 codes. Logical tensors in the reference keep one code per byte; packing is for
 * storage and for backends.
 * @module
 */
import { RangeViolationError, ShapeError } from "./errors.js";

/** Pack UINT4 codes (0..15, one per byte, even count) two per byte. */
export function packUint4(codes: Uint8Array, name = "codes"): Uint8Array {
  if (codes.length % 2 !== 0) throw new ShapeError(`packUint4: '${name}' has an odd number of codes (${codes.length})`);
  const out = new Uint8Array(codes.length / 2);
  for (let i = 0; i < out.length; i++) {
    const lo = codes[2 * i]!;
    const hi = codes[2 * i + 1]!;
    if (lo > 15) throw new RangeViolationError(name, 2 * i, `code ${lo} does not fit in 4 bits`);
    if (hi > 15) throw new RangeViolationError(name, 2 * i + 1, `code ${hi} does not fit in 4 bits`);
    out[i] = lo | (hi << 4);
  }
  return out;
}

/** Unpack two UINT4 codes per byte (low nibble first). */
export function unpackUint4(packed: Uint8Array): Uint8Array {
  const out = new Uint8Array(packed.length * 2);
  for (let i = 0; i < packed.length; i++) {
    out[2 * i] = packed[i]! & 0x0f;
    out[2 * i + 1] = packed[i]! >>> 4;
  }
  return out;
}

/** Pack signed INT4 values (−8..7) two per byte, two's complement nibbles, low nibble first. */
export function packInt4(values: Int8Array, name = "values"): Uint8Array {
  const codes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < -8 || v > 7) throw new RangeViolationError(name, i, `value ${v} does not fit in signed 4 bits`);
    codes[i] = v & 0x0f;
  }
  return packUint4(codes, name);
}

/** Unpack signed INT4 values (two's complement nibbles, low nibble first). */
export function unpackInt4(packed: Uint8Array): Int8Array {
  const codes = unpackUint4(packed);
  const out = new Int8Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = (codes[i]! << 28) >> 28;
  return out;
}
