// One-off sweep: expFast equals core's expCanon on every `stride`-th binary32 of magnitude ≤ 89,
// both signs (stride 1 = all of them). Built packages are required.
// node scripts/check-exp-sweep.mjs [stride]
import { expCanon } from "@qoq/core";
import { expFast } from "@qoq/backend-cpu";

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);
let bad = 0;
let n = 0;
const t0 = Date.now();
const stride = Number(process.argv[2] ?? 1);
f[0] = 89;
const lim = u[0];
for (const sign of [0, 0x80000000]) {
  for (let m = 0; m <= lim; m += stride) {
    u[0] = (sign | m) >>> 0;
    const x = f[0];
    n++;
    if (!Object.is(expFast(x), expCanon(x)) && bad++ < 10) console.log("mismatch", x, expFast(x), expCanon(x));
  }
}
console.log("exp sweep, stride", stride, n, "inputs, mismatches", bad, `${(Date.now() - t0) / 1000}s`);
process.exitCode = bad === 0 ? 0 : 1;
