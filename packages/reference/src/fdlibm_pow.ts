/**
 * `x^y` for the smoothing exponents, pinned: fdlibm's `__ieee754_pow` (e_pow.c) step for step in
 * binary64. ECMAScript leaves `Math.pow`'s rounding to the engine (V8 in Node 20 differs from
 * fdlibm, and from the correctly rounded result, in the last bit of several percent of the
 * arguments), so a reference built on it would give different λ bits on different engines. This
 * function's bits depend only on IEEE 754 binary64 `+ − × ÷` (which JavaScript rounds correctly
 * and never fuses) and on bit manipulation; the WebGPU kernel `f64_pow.wgsl` runs the same steps
 * in emulated binary64 and is checked against it bit for bit.
 *
 * Domain: finite `x ≥ 0` (subnormals included) and `0 ≤ y ≤ 1`, the range of the `alpha`/`beta`
 * parameters; {@link fdlibmPow} rejects anything else with a `RangeError`.
 * @module
 */

const view = new DataView(new ArrayBuffer(8));

function high(x: number): number {
  view.setFloat64(0, x);
  return view.getInt32(0);
}
function low(x: number): number {
  view.setFloat64(0, x);
  return view.getUint32(4);
}
function fromWords(hi: number, lo: number): number {
  view.setInt32(0, hi);
  view.setUint32(4, lo >>> 0);
  return view.getFloat64(0);
}
/** `x` with its low word cleared: a value with at most 21 significant bits, so products with it are exact. */
function head(x: number): number {
  return fromWords(high(x), 0);
}

const BP = [1, 1.5];
const DP_H = [0, fromWords(0x3fe2b803, 0x40000000)]; // log2(1.5) head
const DP_L = [0, fromWords(0x3e4cfdeb, 0x43cfd006)]; // log2(1.5) tail
const TWO53 = 2 ** 53;
// Minimax coefficients of log((1+s)/(1−s)) − 2s − (2/3)s³ in s² (e_pow.c's L1 … L6).
const L1 = fromWords(0x3fe33333, 0x33333303);
const L2 = fromWords(0x3fdb6db6, 0xdb6fabff);
const L3 = fromWords(0x3fd55555, 0x518f264d);
const L4 = fromWords(0x3fd17460, 0xa91d4101);
const L5 = fromWords(0x3fcd864a, 0x93c9db65);
const L6 = fromWords(0x3fca7e28, 0x4a454eef);
// Coefficients of the exp remainder R(z²) (e_pow.c's P1 … P5).
const P1 = fromWords(0x3fc55555, 0x5555553e);
const P2 = fromWords(0xbf66c16c, 0x16bebd93);
const P3 = fromWords(0x3f11566a, 0xaf25de2c);
const P4 = fromWords(0xbebbbd41, 0xc5d26bf1);
const P5 = fromWords(0x3e663769, 0x72bea4d0);
const LG2 = fromWords(0x3fe62e42, 0xfefa39ef); // ln 2
const LG2_H = fromWords(0x3fe62e43, 0x00000000); // ln 2, 32 bits (so t·LG2_H is exact)
const LG2_L = fromWords(0xbe205c61, 0x0ca86c39); // ln 2 − LG2_H
const CP = fromWords(0x3feec709, 0xdc3a03fd); // 2 / (3 ln 2)
const CP_H = fromWords(0x3feec709, 0xe0000000); // CP, 32 bits
const CP_L = fromWords(0xbe3e2fe0, 0x145b01f5); // CP − CP_H

/** `z · 2^n` rounded once, for the `z ∈ [0.5, 2)` and `n` of a result that may be subnormal (fdlibm's scalbn). */
function scalbn(z: number, n: number): number {
  // 2^(n + 54) keeps the first product normal and exact; the second rounds once, as fdlibm's does.
  return z * 2 ** (n + 54) * 2 ** -54;
}

/**
 * `x^y` by fdlibm's algorithm for finite `x ≥ 0` and `0 ≤ y ≤ 1`: `y = 0` gives 1, `y = 1` gives
 * `x`, `y = 0.5` gives the correctly rounded `Math.sqrt(x)` (as e_pow.c does), `x ∈ {0, 1}` gives
 * `x`. Otherwise `log2 x` is computed in extra precision (`t1 + t2`), multiplied by `y` as a
 * head/tail pair and exponentiated with a rational approximation; the error is below one ULP.
 */
export function fdlibmPow(x: number, y: number): number {
  if (!(x >= 0 && x < Infinity && y >= 0 && y <= 1)) {
    throw new RangeError(`fdlibmPow: (${x}, ${y}) is outside the smoothing domain (finite x ≥ 0, 0 ≤ y ≤ 1)`);
  }
  if (y === 0) return 1;
  if (y === 1) return x;
  if (y === 0.5) return Math.sqrt(x);
  if (x === 0 || x === 1) return x + 0; // + 0: −0 gives +0 (e_pow.c returns |x| here)
  // Split x = 2^n · ax with ax ∈ [√2/2·…, √3·…): the interval is picked by the mantissa so that
  // ax / bp[k] stays near 1, where the series in s = (ax − bp)/(ax + bp) converges fastest.
  let ax = x;
  let ix = high(x) & 0x7fffffff;
  let n = 0;
  if (ix < 0x00100000) {
    ax *= TWO53; // subnormal: normalize first (exact)
    n -= 53;
    ix = high(ax);
  }
  n += (ix >> 20) - 0x3ff;
  const j = ix & 0x000fffff;
  ix = j | 0x3ff00000;
  let k: number;
  if (j <= 0x3988e) k = 0; // ax < √(3/2)
  else if (j < 0xbb67a) k = 1; // ax < √3
  else {
    k = 0;
    n += 1;
    ix -= 0x00100000;
  }
  ax = fromWords(ix, low(ax));
  const bp = BP[k]!;
  // log2(ax) = log2(bp) + (2/ln 2)·(s + s³/3 + …) with s = (ax − bp)/(ax + bp), s as s_h + s_l.
  let u = ax - bp;
  let v = 1 / (ax + bp);
  const ss = u * v;
  const sH = head(ss);
  // t_h = ax + bp to 21 bits, built from the exponent bits (exact), and its tail t_l.
  let tH = fromWords(((ix >> 1) | 0x20000000) + 0x00080000 + (k << 18), 0);
  let tL = ax - (tH - bp);
  const sL = v * (u - sH * tH - sH * tL);
  let s2 = ss * ss;
  let r = s2 * s2 * (L1 + s2 * (L2 + s2 * (L3 + s2 * (L4 + s2 * (L5 + s2 * L6)))));
  r += sL * (sH + ss);
  s2 = sH * sH;
  tH = head(3 + s2 + r);
  tL = r - (tH - 3 - s2);
  // 2·s·(3 + s² + r)/3 ·(1/ln 2), as p_h + p_l, then z = log2(ax) + dp as z_h + z_l.
  u = sH * tH;
  v = sL * tH + tL * ss;
  let pH = head(u + v);
  let pL = v - (pH - u);
  const zH = CP_H * pH;
  const zL = CP_L * pH + pL * CP + DP_L[k]!;
  // log2(x) = n + z as t1 + t2 (t1 to 21 bits, so y1·t1 below is exact).
  let t = n;
  const t1 = head(zH + zL + DP_H[k]! + t);
  const t2 = zL - (t1 - t - DP_H[k]! - zH);
  // y·log2(x) as p_h + p_l, with y split into y1 (21 bits) and y − y1.
  const y1 = head(y);
  pL = (y - y1) * t1 + y * t2;
  pH = y1 * t1;
  let z = pL + pH;
  const jz = high(z);
  if (jz >= 0x40900000) return Infinity; // y·log2 x ≥ 1024 (never reached for y ≤ 1)
  if ((jz & 0x7fffffff) >= 0x4090cc00) {
    // y·log2 x ≤ −1075: below half the smallest subnormal.
    if (jz !== (0xc090cc00 | 0) || low(z) !== 0) return 0;
    if (pL <= z - pH) return 0;
  }
  // 2^(p_h + p_l): split off the integer part n of p_h + p_l (from its bits), keep the fraction.
  const i = jz & 0x7fffffff;
  k = (i >> 20) - 0x3ff;
  n = 0;
  if (i > 0x3fe00000) {
    n = jz + (0x00100000 >> (k + 1));
    k = ((n & 0x7fffffff) >> 20) - 0x3ff;
    t = fromWords(n & ~(0x000fffff >> k), 0);
    n = ((n & 0x000fffff) | 0x00100000) >> (20 - k);
    if (jz < 0) n = -n;
    pH -= t;
  }
  // exp(w·ln 2) for the fraction, by e^z = 1 + 2z/(2 − R(z)) with z = u + v in extra precision.
  t = head(pL + pH);
  u = t * LG2_H;
  v = (pL - (t - pH)) * LG2 + t * LG2_L;
  z = u + v;
  const w = v - (z - u);
  t = z * z;
  const tt1 = z - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  r = (z * tt1) / (tt1 - 2) - (w + z * w);
  z = 1 - (r - z);
  // Scale by 2^n: add n to the exponent field, or round once into the subnormals.
  const je = high(z) + (n << 20);
  if (je >> 20 <= 0) return scalbn(z, n);
  return fromWords(je, low(z));
}
