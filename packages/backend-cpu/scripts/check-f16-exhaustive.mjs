// One-off exhaustive check: f32ToF16Bits equals core's toF16Bits on every binary32 bit pattern
// (2^32 inputs; about 20 minutes on a loaded 2-core machine). Built packages are required.
// node scripts/check-f16-exhaustive.mjs [start] [end]
import { toF16Bits } from "@qoq/core";
import { f32ToF16Bits } from "@qoq/backend-cpu";

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);
let bad = 0;
const t0 = Date.now();
const start = Number(process.argv[2] ?? 0);
const end = Number(process.argv[3] ?? 2 ** 32);
for (let b = start; b < end; b++) {
  u[0] = b;
  const x = f[0];
  if (f32ToF16Bits(x) !== toF16Bits(x) && bad++ < 10) console.log("mismatch", b.toString(16), x, f32ToF16Bits(x), toF16Bits(x));
  if ((b & 0xfffffff) === 0 && b > start) console.log(`${((b / 2 ** 32) * 100).toFixed(1)}%`, `${(Date.now() - t0) / 1000}s`);
}
console.log("done", start, end, "mismatches", bad, `${(Date.now() - t0) / 1000}s`);
process.exitCode = bad === 0 ? 0 : 1;
