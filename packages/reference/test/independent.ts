/**
 * Independent restatements shared by the reference's tests: binary32 through a Float32Array
 * store, binary16 through @petamoriken/float16 — never through the code under test.
 */
import fc from "fast-check";
import { getFloat16, setFloat16 } from "@petamoriken/float16";

export const F32 = new Float32Array(1);
export const r32 = (v: number): number => ((F32[0] = v), F32[0]!);
export const DV = new DataView(new ArrayBuffer(2));
export const f16Value = (bits: number): number => (DV.setUint16(0, bits, true), getFloat16(DV, 0, true));
export const f16Bits = (v: number): number => (setFloat16(DV, 0, v, true), DV.getUint16(0, true));
/** y = f16(f32(f32(acc) · f32(sw · sx))) with a BigInt accumulator, restated independently. */
export const epilogue = (acc: bigint, sw: number, sx: number): number => f16Bits(r32(r32(Number(acc)) * r32(sw * sx)));
/**
 * Epilogue vectors where every plausible misreading of the pinned order changes y: applying the scales one
 * at a time (acc·sw first or acc·sx first), skipping f32(acc), or rounding the final product straight to
 * binary16. Found by an offline search; the test recomputes the misreadings to show each one is caught.
 */
export const EPILOGUE_VECTORS = [
  { acc: 20759783, sw: 0x1e08, sx: 0x300f },
  { acc: 27306693, sw: 0x29f7, sx: 0x1e15 },
];
/** The misreadings, each restated independently. */
export const MISREADINGS: ((acc: number, sw: number, sx: number) => number)[] = [
  (acc, sw, sx) => f16Bits(r32(r32(r32(acc) * sw) * sx)),
  (acc, sw, sx) => f16Bits(r32(r32(r32(acc) * sx) * sw)),
  (acc, sw, sx) => f16Bits(r32(acc * r32(sw * sx))),
  (acc, sw, sx) => f16Bits(r32(acc) * r32(sw * sx)),
];
/** Throw (fast, unlike expect() in hot loops) with a message when a checked condition fails. */
export function check(ok: boolean, msg: () => string): void {
  if (!ok) throw new Error(msg());
}
export const f16FiniteBits = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00);
/** Positive normal binary16 scales of activation-like size, so outputs are mostly finite. */
export const f16ScaleBits = fc.integer({ min: 0x0400, max: 0x3c00 });
