// qoq WGSL prelude: shared by every kernel (prepended by the host). Exact numerics for the few
// conversions WGSL leaves loose (DESIGN.md §3): f16 decode/encode, i32 -> f32, division, sqrt,
// round-half-even to integer, all in integer arithmetic, so no rounding mode, FTZ or
// implementation-defined conversion of the device can change a bit. Hardware f32 + - x are used
// only where inputs and results are normal binary32 values, and every product goes through rd()
// so the compiler cannot contract it into a fused multiply-add.

struct Params { zero: u32, n0: u32, n1: u32, n2: u32, n3: u32, n4: u32, n5: u32, n6: u32, }
@group(0) @binding(0) var<uniform> P: Params;

// Guard words before every output payload (the host fills 64 guard bytes on each side).
const GW: u32 = 16u;

// An opaque copy of x: P.zero is 0 at run time but unknown to the compiler, so a product that
// passes through rd() cannot be fused with a following add (no FMA contraction, no reassociation).
fn rd(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) ^ P.zero); }
// Binary32 product, rounded on its own (never fused).
fn mul(a: f32, b: f32) -> f32 { return rd(a * b); }

// Flat invocation index of a 1-D problem dispatched as a 2-D grid of 64-wide workgroups.
fn flat_index(gid: vec3<u32>, nw: vec3<u32>) -> u32 { return gid.x + gid.y * nw.x * 64u; }
// Workgroup index of a grid dispatched as (x, y) workgroups.
fn group_index(wid: vec3<u32>, nw: vec3<u32>) -> u32 { return wid.x + wid.y * nw.x; }

// Element i of a tightly packed binary16 / byte array stored in u32 words.
fn h16(w: u32, i: u32) -> u32 { return (w >> ((i & 1u) * 16u)) & 0xffffu; }
fn u8at(w: u32, i: u32) -> u32 { return (w >> ((i & 3u) * 8u)) & 0xffu; }
fn i8at(w: u32, i: u32) -> i32 { return bitcast<i32>(w << (24u - (i & 3u) * 8u)) >> 24u; }

// binary16 bits -> binary32 value (exact; subnormal binary16 become normal binary32). Finite inputs.
fn f16_to_f32(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) { return bitcast<f32>(s); }
    let p = 31u - countLeadingZeros(m);
    return bitcast<f32>(s | ((p + 103u) << 23u) | ((m << (23u - p)) & 0x7fffffu));
  }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}

// Round sig * 2^e (plus a fraction below its last bit when `sticky`) to nearest even in a binary
// format with `mb` stored mantissa bits, smallest LSB exponent `minlsb` (subnormals kept) and
// largest exponent `emax`; returns the magnitude bits (saturating to `inf`).
fn pack_rn(sig: u32, e: i32, sticky: bool, mb: i32, minlsb: i32, emax: i32, inf: u32) -> u32 {
  if (sig == 0u) { return 0u; }
  let top = 31 - i32(countLeadingZeros(sig)) + e;
  if (top > emax) { return inf; }
  let lsb = max(top - mb, minlsb);
  let sh = lsb - e;
  var mant = 0u;
  if (sh <= 0) {
    mant = sig << u32(-sh);
  } else if (sh < 32) {
    mant = sig >> u32(sh);
    let rem = sig & ((1u << u32(sh)) - 1u);
    let half = 1u << u32(sh - 1);
    if (rem > half || (rem == half && (sticky || (mant & 1u) == 1u))) { mant += 1u; }
  } else if (sh == 32) {
    if (sig > 0x80000000u || (sig == 0x80000000u && sticky)) { mant = 1u; }
  }
  return min((u32(lsb - minlsb) << u32(mb)) + mant, inf);
}
fn pack_f32(sign: u32, sig: u32, e: i32, sticky: bool) -> f32 {
  return bitcast<f32>(sign | pack_rn(sig, e, sticky, 23, -149, 127, 0x7f800000u));
}

// binary32 -> binary16 bits, round to nearest even, subnormals kept, overflow to infinity.
fn f32_to_f16(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let s = (b >> 16u) & 0x8000u;
  let ef = (b >> 23u) & 0xffu;
  if (ef == 255u) { return s | 0x7c00u; }
  var sig = b & 0x7fffffu;
  var e = -149;
  if (ef != 0u) { sig |= 0x800000u; e = i32(ef) - 150; }
  return s | pack_rn(sig, e, false, 10, -24, 15, 0x7c00u);
}

// i32 -> binary32, round to nearest even (|v| up to 2^31), by construction of the bits.
fn i32_to_f32(v: i32) -> f32 {
  let neg = v < 0;
  let m = select(u32(v), 0u - u32(v), neg);
  return pack_f32(select(0u, 0x80000000u, neg), m, 0, false);
}

// A finite binary32 as sign, significand normalized to [2^23, 2^24) (0 for zero) and exponent.
struct Unpacked { s: u32, sig: u32, e: i32, }
fn unpack_f32(x: f32) -> Unpacked {
  let b = bitcast<u32>(x);
  let ef = (b >> 23u) & 0xffu;
  var sig = b & 0x7fffffu;
  var e = -149;
  if (ef != 0u) { sig |= 0x800000u; e = i32(ef) - 150; }
  else if (sig != 0u) { let sh = countLeadingZeros(sig) - 8u; sig <<= sh; e -= i32(sh); }
  return Unpacked(b & 0x80000000u, sig, e);
}

// Correctly rounded a / b (finite a, finite nonzero b) by restoring long division: 26 quotient
// bits and the remainder as sticky bit, then one rounding (pack_rn). Subnormals in and out.
fn div_rn(a: f32, b: f32) -> f32 {
  let A = unpack_f32(a);
  let B = unpack_f32(b);
  let s = A.s ^ B.s;
  if (A.sig == 0u) { return bitcast<f32>(s); }
  var r = A.sig;
  var q = 0u;
  for (var i = 0; i < 26; i++) {
    q <<= 1u;
    if (r >= B.sig) { r -= B.sig; q |= 1u; }
    r <<= 1u;
  }
  return pack_f32(s, q, A.e - B.e - 25, r != 0u);
}

// Correctly rounded sqrt(a), a >= 0 finite: digit-by-digit integer root of m·2^28 (27 bit pairs),
// remainder as sticky bit, one rounding.
fn sqrt_rn(a: f32) -> f32 {
  let A = unpack_f32(a);
  if (A.sig == 0u) { return a; }
  var m = A.sig;
  var e = A.e;
  if ((e & 1) != 0) { m <<= 1u; e -= 1; }
  var res = 0u;
  var rem = 0u;
  for (var j = 0; j < 27; j++) {
    let lo = 52 - 2 * j; // low bit of the pair (bits lo+1, lo) of m·2^28
    var pair = 0u;
    if (lo >= 28) { pair = (m >> u32(lo - 28)) & 3u; }
    rem = (rem << 2u) | pair;
    let trial = (res << 2u) | 1u;
    if (rem >= trial) { rem -= trial; res = (res << 1u) | 1u; } else { res <<= 1u; }
  }
  return pack_f32(0u, res, (e - 28) / 2, rem != 0u);
}

// Correctly rounded a · b in integer arithmetic (subnormals in and out; finite inputs).
fn mul_rn(a: f32, b: f32) -> f32 {
  let A = unpack_f32(a);
  let B = unpack_f32(b);
  let s = A.s ^ B.s;
  if (A.sig == 0u || B.sig == 0u) { return bitcast<f32>(s); }
  let ah = A.sig >> 12u; let al = A.sig & 0xfffu;
  let bh = B.sig >> 12u; let bl = B.sig & 0xfffu;
  let hh = ah * bh;
  let mid = ah * bl + al * bh;
  let low = ((mid & 0xfffu) << 12u) + al * bl;
  let hi = hh + (mid >> 12u) + (low >> 24u); // product = hi·2^24 + lo24
  let lo24 = low & 0xffffffu;
  return pack_f32(s, (hi << 6u) | (lo24 >> 18u), A.e + B.e + 18, (lo24 & 0x3ffffu) != 0u);
}

// Correctly rounded a + b in integer arithmetic (subnormals in and out; finite inputs).
fn add_rn(a: f32, b: f32) -> f32 {
  var A = unpack_f32(a);
  var B = unpack_f32(b);
  if (B.sig == 0u) { if (A.sig == 0u) { return bitcast<f32>(A.s & B.s); } return a; }
  if (A.sig == 0u) { return b; }
  if (A.e < B.e || (A.e == B.e && A.sig < B.sig)) { let t = A; A = B; B = t; }
  let x = A.sig << 6u;
  let yfull = B.sig << 6u;
  let d = u32(A.e - B.e);
  var y = 0u;
  var sticky = false;
  if (d >= 31u) { sticky = true; } else { y = yfull >> d; sticky = (yfull & ((1u << d) - 1u)) != 0u; }
  if (A.s == B.s) { return pack_f32(A.s, x + y, A.e - 6, sticky); }
  var r = x - y;
  if (sticky) { r -= 1u; }
  if (r == 0u && !sticky) { return 0.0; }
  return pack_f32(A.s, r, A.e - 6, sticky);
}

// Round half to even to an integer, then clamp to [lo, hi]; |x| >= 2^30 (and infinity) saturates.
fn rne_clamp(x: f32, lo: i32, hi: i32) -> i32 {
  let b = bitcast<u32>(x);
  let ef = i32((b >> 23u) & 0xffu);
  var mag = 0;
  if (ef >= 157) { mag = 0x40000000; }
  else if (ef >= 126) {
    let sig = (b & 0x7fffffu) | 0x800000u;
    let sh = 150 - ef;
    if (sh <= 0) { mag = i32(sig << u32(-sh)); }
    else {
      var q = sig >> u32(sh);
      let rem = sig & ((1u << u32(sh)) - 1u);
      let half = 1u << u32(sh - 1);
      if (rem > half || (rem == half && (q & 1u) == 1u)) { q += 1u; }
      mag = i32(q);
    }
  }
  return clamp(select(mag, -mag, (b >> 31u) == 1u), lo, hi);
}

// Round half to even of the ratio of integers n / d (d > 0).
fn rne_div(n: i32, d: i32) -> i32 {
  let a = abs(n);
  var q = a / d;
  let r = a % d;
  if (2 * r > d || (2 * r == d && (q & 1) == 1)) { q += 1; }
  return select(q, -q, n < 0);
}

// +infinity, built at run time (WGSL rejects an infinite constant).
fn f32_inf() -> f32 { return bitcast<f32>(0x7f800000u ^ P.zero); }

// The canonical exponential of packages/core/src/exp.ts, bit for bit: k = rne(x·log2e),
// r = (x − k·ln2hi) − k·ln2lo, degree-7 Horner in binary32, times 2^k built from bits.
fn exp_canon(x: f32) -> f32 {
  if (x > 88.0) { return f32_inf(); }
  if (x < -86.0) { return 0.0; }
  let k = rne_clamp(mul(x, bitcast<f32>(0x3fb8aa3bu)), -200, 200);
  let kf = f32(k);
  let r = (x - mul(kf, bitcast<f32>(0x3f317200u))) - mul(kf, bitcast<f32>(0x35bfbe8eu));
  var p = bitcast<f32>(0x39500d01u);
  p = mul(p, r) + bitcast<f32>(0x3ab60b61u);
  p = mul(p, r) + bitcast<f32>(0x3c088889u);
  p = mul(p, r) + bitcast<f32>(0x3d2aaaabu);
  p = mul(p, r) + bitcast<f32>(0x3e2aaaabu);
  p = mul(p, r) + 0.5;
  p = mul(p, r) + 1.0;
  p = mul(p, r) + 1.0;
  return mul(p, bitcast<f32>(u32(k + 127) << 23u));
}

// ---- Cross-invocation R32 butterfly (subgroup helpers: subgroup_on.wgsl / subgroup_off.wgsl) ----
// Workgroup memory for the xor steps that subgroups cannot do (workgroups of at most 256).
var<workgroup> sg_f: array<f32, 256>;

// v + the value of invocation lid ^ off. `off` and `w` (sg_setup's width) must be uniform and the
// call in uniform control flow: steps with off < w are one subgroupShuffleXor, others go through
// sg_f between barriers. The sum's operands are in the reference's order for the lower lane
// (lanes[l] + lanes[l + off]); the upper lane gets the same bits (binary32 + is commutative).
fn xor_add_f32(v: f32, off: u32, lid: u32, w: u32) -> f32 {
  if (off < w) { return v + sg_xor_f32(v, off); }
  workgroupBarrier();
  sg_f[lid] = v;
  workgroupBarrier();
  return v + sg_f[lid ^ off];
}

// The R32 butterfly (offsets 16, 8, 4, 2, 1; core's butterflyR32) over the 32 invocations that
// share lid >> 5, invocation lid holding lane lid & 31's partial sum; every one of them returns
// the reduced value. Uniform control flow, uniform `w`.
fn r32_butterfly(v: f32, lid: u32, w: u32) -> f32 {
  var x = v;
  for (var off = 16u; off >= 1u; off = off / 2u) { x = xor_add_f32(x, off, lid, w); }
  return x;
}
