// binary64 arithmetic in integer arithmetic (WGSL has no f64): values are their two little-endian
// words vec2<u32>(low, high); 64-bit integers likewise. Add, subtract and multiply are correctly
// rounded to nearest even with subnormals, exactly IEEE 754 for finite operands. A NaN or infinite
// operand gives NaN (the transforms reject non-finite results, so which one does not matter); an
// overflowing result gives infinity. Used by the offline transforms (hadamard_rotate, ...).

fn u64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
fn u64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}
fn u64_lt(a: vec2<u32>, b: vec2<u32>) -> bool { return a.y < b.y || (a.y == b.y && a.x < b.x); }
fn u64_zero(a: vec2<u32>) -> bool { return (a.x | a.y) == 0u; }
fn u64_clz(a: vec2<u32>) -> u32 {
  if (a.y != 0u) { return countLeadingZeros(a.y); }
  return 32u + countLeadingZeros(a.x);
}
// a << d for d < 64 (WGSL takes shift amounts mod 32, so every shift here stays below 32).
fn u64_shl(a: vec2<u32>, d: u32) -> vec2<u32> {
  if (d == 0u) { return a; }
  if (d >= 32u) { return vec2<u32>(0u, a.x << (d - 32u)); }
  return vec2<u32>(a.x << d, (a.y << d) | (a.x >> (32u - d)));
}
// a >> d with every bit shifted out ORed into bit 0 (the sticky bit), any d.
fn u64_shr_sticky(a: vec2<u32>, d: u32) -> vec2<u32> {
  if (d == 0u) { return a; }
  if (d >= 64u) { return vec2<u32>(select(0u, 1u, !u64_zero(a)), 0u); }
  var r: vec2<u32>;
  var lost: bool;
  if (d >= 32u) {
    let s = d - 32u;
    r = vec2<u32>(a.y >> s, 0u);
    lost = a.x != 0u || (s > 0u && (a.y & ((1u << s) - 1u)) != 0u);
  } else {
    r = vec2<u32>((a.x >> d) | (a.y << (32u - d)), a.y >> d);
    lost = (a.x & ((1u << d) - 1u)) != 0u;
  }
  if (lost) { r.x |= 1u; }
  return r;
}

// A binary64 as sign bit, exponent e and 53-bit significand m: value = m · 2^(e − 1075)
// (subnormals: e = 1 without the hidden bit). `special`: NaN or infinity.
struct F64 { s: u32, e: i32, m: vec2<u32>, special: bool, }
fn f64_unpack(x: vec2<u32>) -> F64 {
  let ef = (x.y >> 20u) & 0x7ffu;
  var m = vec2<u32>(x.x, x.y & 0xfffffu);
  var e = 1;
  if (ef != 0u) { m.y |= 0x100000u; e = i32(ef); }
  return F64(x.y & 0x80000000u, e, m, ef == 0x7ffu);
}

const F64_NAN: vec2<u32> = vec2<u32>(0u, 0x7ff80000u);

// Round m · 2^(e − 1085) (m a 64-bit integer whose bit 0 may be a sticky bit, at least 9 bits
// below the rounding position) to nearest even: normalize to bit 62, denormalize below the
// smallest exponent, drop 10 bits with round-half-even, carry into the exponent, overflow to ∞.
fn f64_round_pack(s: u32, e0: i32, m0: vec2<u32>) -> vec2<u32> {
  if (u64_zero(m0)) { return vec2<u32>(0u, s); }
  var m = m0;
  var e = e0;
  let lz = u64_clz(m);
  if (lz == 0u) { m = u64_shr_sticky(m, 1u); e += 1; }
  else if (lz > 1u) { m = u64_shl(m, lz - 1u); e -= i32(lz - 1u); }
  if (e < 1) { m = u64_shr_sticky(m, u32(1 - e)); e = 1; }
  let low = m.x & 0x3ffu;
  m = vec2<u32>((m.x >> 10u) | (m.y << 22u), m.y >> 10u);
  if (low > 0x200u || (low == 0x200u && (m.x & 1u) == 1u)) { m = u64_add(m, vec2<u32>(1u, 0u)); }
  if ((m.y & 0x200000u) != 0u) { m = vec2<u32>((m.x >> 1u) | (m.y << 31u), m.y >> 1u); e += 1; }
  if (e >= 2047) { return vec2<u32>(0u, s | 0x7ff00000u); }
  let ef = select(0u, u32(e), (m.y & 0x100000u) != 0u);
  return vec2<u32>(m.x, s | (ef << 20u) | (m.y & 0xfffffu));
}

// a + b, correctly rounded (x − x = +0, −0 + −0 = −0).
fn f64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  var A = f64_unpack(a);
  var B = f64_unpack(b);
  if (A.special || B.special) { return F64_NAN; }
  if (A.e < B.e || (A.e == B.e && u64_lt(A.m, B.m))) { let t = A; A = B; B = t; }
  // 10 extra bits below the significand; the aligned smaller operand keeps a sticky bit.
  let ma = u64_shl(A.m, 10u);
  let mb = u64_shr_sticky(u64_shl(B.m, 10u), u32(A.e - B.e));
  if (A.s == B.s) { return f64_round_pack(A.s, A.e, u64_add(ma, mb)); }
  let d = u64_sub(ma, mb);
  if (u64_zero(d)) { return vec2<u32>(0u, 0u); }
  return f64_round_pack(A.s, A.e, d);
}
fn f64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> { return f64_add(a, vec2<u32>(b.x, b.y ^ 0x80000000u)); }

// a · b, correctly rounded: the 106-bit product of the normalized significands from 16-bit limbs.
fn f64_mul(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let A = f64_unpack(a);
  let B = f64_unpack(b);
  let s = A.s ^ B.s;
  if (A.special || B.special) { return F64_NAN; }
  if (u64_zero(A.m) || u64_zero(B.m)) { return vec2<u32>(0u, s); }
  let la = u64_clz(A.m) - 11u;
  let lb = u64_clz(B.m) - 11u;
  let ma = u64_shl(A.m, la);
  let mb = u64_shl(B.m, lb);
  let al = array<u32, 4>(ma.x & 0xffffu, ma.x >> 16u, ma.y & 0xffffu, ma.y >> 16u);
  let bl = array<u32, 4>(mb.x & 0xffffu, mb.x >> 16u, mb.y & 0xffffu, mb.y >> 16u);
  var col = array<u32, 8>(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let p = al[i] * bl[j];
      col[i + j] += p & 0xffffu;
      col[i + j + 1u] += p >> 16u;
    }
  }
  var l = array<u32, 8>(0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
  var carry = 0u;
  for (var k = 0u; k < 8u; k++) {
    let v = col[k] + carry;
    l[k] = v & 0xffffu;
    carry = v >> 16u;
  }
  let w0 = l[0] | (l[1] << 16u);
  let w1 = l[2] | (l[3] << 16u);
  let w2 = l[4] | (l[5] << 16u);
  let w3 = l[6] | (l[7] << 16u);
  // The product lies in [2^104, 2^106): keep bits 105 … 42, the rest as sticky bit.
  var m = vec2<u32>((w1 >> 10u) | (w2 << 22u), (w2 >> 10u) | (w3 << 22u));
  if (w0 != 0u || (w1 & 0x3ffu) != 0u) { m.x |= 1u; }
  return f64_round_pack(s, (A.e - i32(la)) + (B.e - i32(lb)) - 1023, m);
}

// binary64 -> binary32 bits, round to nearest even, subnormals kept, overflow to infinity (NaN for NaN/∞).
fn f64_to_f32_bits(x: vec2<u32>) -> u32 {
  let X = f64_unpack(x);
  if (X.special) { return 0x7fc00000u; }
  if (u64_zero(X.m)) { return X.s; }
  let lz = u64_clz(X.m);
  let m = u64_shl(X.m, lz);
  return X.s | pack_rn(m.y, X.e - 1075 - i32(lz) + 32, m.x != 0u, 23, -149, 127, 0x7f800000u);
}

// a / b, correctly rounded (b nonzero): 63 quotient bits of the normalized significands by
// restoring division, the remainder as sticky bit.
fn f64_div(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let A = f64_unpack(a);
  let B = f64_unpack(b);
  let s = A.s ^ B.s;
  if (A.special || B.special || u64_zero(B.m)) { return F64_NAN; }
  if (u64_zero(A.m)) { return vec2<u32>(0u, s); }
  let la = u64_clz(A.m) - 11u;
  let lb = u64_clz(B.m) - 11u;
  var r = u64_shl(A.m, la);
  let d = u64_shl(B.m, lb);
  var e = (A.e - i32(la)) - (B.e - i32(lb));
  if (u64_lt(r, d)) { r = u64_shl(r, 1u); e -= 1; }
  var q = vec2<u32>(0u, 0u);
  for (var i = 0; i < 63; i++) {
    q = u64_shl(q, 1u);
    if (!u64_lt(r, d)) { r = u64_sub(r, d); q.x |= 1u; }
    r = u64_shl(r, 1u);
  }
  if (!u64_zero(r)) { q.x |= 1u; }
  return f64_round_pack(s, e + 1023, q);
}

// Exact conversions to binary64: an unsigned integer, a binary32 value (finite).
fn u32_to_f64(v: u32) -> vec2<u32> { return f64_round_pack(0u, 1085, vec2<u32>(v, 0u)); }
fn f32_to_f64(x: f32) -> vec2<u32> {
  let U = unpack_f32(x);
  return f64_round_pack(U.s, U.e + 1085, vec2<u32>(U.sig, 0u));
}
fn f64_finite(x: vec2<u32>) -> bool { return ((x.y >> 20u) & 0x7ffu) != 0x7ffu; }

// sqrt(a), correctly rounded (a ≥ 0 finite; −0 gives −0): digit-by-digit integer root of
// m·2^66 (60 bits), the remainder as sticky bit.
fn f64_sqrt(a: vec2<u32>) -> vec2<u32> {
  let A = f64_unpack(a);
  if (A.special) { return F64_NAN; }
  if (u64_zero(A.m)) { return a; }
  let l = u64_clz(A.m) - 11u;
  var m = u64_shl(A.m, l);
  var e = A.e - i32(l) - 1075;
  if ((e & 1) != 0) { m = u64_shl(m, 1u); e -= 1; }
  var res = vec2<u32>(0u, 0u);
  var rem = vec2<u32>(0u, 0u);
  for (var j = 0u; j < 60u; j++) {
    var pair = 0u;
    if (j <= 26u) {
      let sh = 52u - 2u * j;
      pair = select(m.x >> sh, m.y >> (sh - 32u), sh >= 32u);
      if (sh > 0u && sh < 32u) { pair |= m.y << (32u - sh); }
      pair &= 3u;
    }
    rem = u64_shl(rem, 2u);
    rem.x |= pair;
    let trial = u64_shl(res, 2u) | vec2<u32>(1u, 0u);
    res = u64_shl(res, 1u);
    if (!u64_lt(rem, trial)) { rem = u64_sub(rem, trial); res.x |= 1u; }
  }
  if (!u64_zero(rem)) { res.x |= 1u; }
  return f64_round_pack(0u, (e - 66) / 2 + 1085, res);
}

// a ≤ b for finite a, b (±0 equal).
fn f64_le(a: vec2<u32>, b: vec2<u32>) -> bool {
  if (u64_zero(vec2<u32>(a.x, a.y & 0x7fffffffu)) && u64_zero(vec2<u32>(b.x, b.y & 0x7fffffffu))) { return true; }
  let ka = select(vec2<u32>(a.x, a.y | 0x80000000u), vec2<u32>(~a.x, ~a.y), (a.y & 0x80000000u) != 0u);
  let kb = select(vec2<u32>(b.x, b.y | 0x80000000u), vec2<u32>(~b.x, ~b.y), (b.y & 0x80000000u) != 0u);
  return !u64_lt(kb, ka);
}

fn i32_to_f64(v: i32) -> vec2<u32> {
  let r = u32_to_f64(u32(abs(v)));
  return vec2<u32>(r.x, r.y | select(0u, 0x80000000u, v < 0));
}

// x · 2^n, correctly rounded (fdlibm's scalbn for a finite x).
fn f64_scalbn(x: vec2<u32>, n: i32) -> vec2<u32> {
  let X = f64_unpack(x);
  if (X.special) { return F64_NAN; }
  return f64_round_pack(X.s, X.e + n + 10, X.m);
}

// The smoothing factor λ = a^α / b^β from its two powers (binary64); a λ that is 0, NaN or ±∞
// becomes 1, as transform_common.ts's smoothingFactor does.
fn smoothing_ratio(pa: vec2<u32>, pb: vec2<u32>) -> vec2<u32> {
  let l = f64_div(pa, pb);
  if (!f64_finite(l) || u64_zero(vec2<u32>(l.x, l.y & 0x7fffffffu))) { return vec2<u32>(0u, 0x3ff00000u); }
  return l;
}
