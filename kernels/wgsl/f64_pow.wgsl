// The powers of the smoothing factors (transform_common.ts's smoothingFactor): fdlibm's e_pow.c
// step for step in emulated binary64, as the reference's fdlibmPow does in binary64, so λ is
// bit-exact. base^0.5 is the correctly rounded square root, base^0 = 1 and base^1 = base.
const POW_ONE: vec2<u32> = vec2<u32>(0x0u, 0x3ff00000u);
const POW_THREE: vec2<u32> = vec2<u32>(0x0u, 0x40080000u);
const POW_TWO: vec2<u32> = vec2<u32>(0x0u, 0x40000000u);
const POW_HALF: vec2<u32> = vec2<u32>(0x0u, 0x3fe00000u);
const POW_BP1: vec2<u32> = vec2<u32>(0x0u, 0x3ff80000u);
const POW_DP_H1: vec2<u32> = vec2<u32>(0x40000000u, 0x3fe2b803u);
const POW_DP_L1: vec2<u32> = vec2<u32>(0x43cfd006u, 0x3e4cfdebu);
const POW_TWO53: vec2<u32> = vec2<u32>(0x0u, 0x43400000u);
const POW_L1: vec2<u32> = vec2<u32>(0x33333303u, 0x3fe33333u);
const POW_L2: vec2<u32> = vec2<u32>(0xdb6fabffu, 0x3fdb6db6u);
const POW_L3: vec2<u32> = vec2<u32>(0x518f264du, 0x3fd55555u);
const POW_L4: vec2<u32> = vec2<u32>(0xa91d4101u, 0x3fd17460u);
const POW_L5: vec2<u32> = vec2<u32>(0x93c9db65u, 0x3fcd864au);
const POW_L6: vec2<u32> = vec2<u32>(0x4a454eefu, 0x3fca7e28u);
const POW_P1: vec2<u32> = vec2<u32>(0x5555553eu, 0x3fc55555u);
const POW_P2: vec2<u32> = vec2<u32>(0x16bebd93u, 0xbf66c16cu);
const POW_P3: vec2<u32> = vec2<u32>(0xaf25de2cu, 0x3f11566au);
const POW_P4: vec2<u32> = vec2<u32>(0xc5d26bf1u, 0xbebbbd41u);
const POW_P5: vec2<u32> = vec2<u32>(0x72bea4d0u, 0x3e663769u);
const POW_LG2: vec2<u32> = vec2<u32>(0xfefa39efu, 0x3fe62e42u);
const POW_LG2_H: vec2<u32> = vec2<u32>(0x0u, 0x3fe62e43u);
const POW_LG2_L: vec2<u32> = vec2<u32>(0xca86c39u, 0xbe205c61u);
const POW_CP: vec2<u32> = vec2<u32>(0xdc3a03fdu, 0x3feec709u);
const POW_CP_H: vec2<u32> = vec2<u32>(0xe0000000u, 0x3feec709u);
const POW_CP_L: vec2<u32> = vec2<u32>(0x145b01f5u, 0xbe3e2fe0u);

fn f64_eq(a: vec2<u32>, b: vec2<u32>) -> bool { return a.x == b.x && a.y == b.y; }
fn lo0(x: vec2<u32>) -> vec2<u32> { return vec2<u32>(0u, x.y); }

// x^y for finite x ≥ 0 and 0 ≤ y ≤ 1 (the smoothing exponents): fdlibm's __ieee754_pow.
fn f64_pow(x: vec2<u32>, y: vec2<u32>) -> vec2<u32> {
  if (u64_zero(vec2<u32>(y.x, y.y & 0x7fffffffu))) { return POW_ONE; }
  if (f64_eq(y, POW_ONE)) { return x; }
  if (f64_eq(y, POW_HALF)) { return f64_sqrt(x); }
  var ix = x.y & 0x7fffffffu;
  if (x.x == 0u && (ix == 0u || ix == 0x3ff00000u)) { return vec2<u32>(0u, ix); } // 0^y = +0, 1^y = 1
  var ax = vec2<u32>(x.x, ix);
  var n = 0;
  if (ix < 0x00100000u) { ax = f64_mul(ax, POW_TWO53); n -= 53; ix = ax.y; }
  n += i32(ix >> 20u) - 0x3ff;
  let j = ix & 0x000fffffu;
  ix = j | 0x3ff00000u;
  var k = 0;
  if (j <= 0x3988eu) { k = 0; } else if (j < 0xbb67au) { k = 1; } else { k = 0; n += 1; ix -= 0x00100000u; }
  ax.y = ix;
  let bpk = select(POW_ONE, POW_BP1, k == 1);
  let dph = select(vec2<u32>(0u, 0u), POW_DP_H1, k == 1);
  let dpl = select(vec2<u32>(0u, 0u), POW_DP_L1, k == 1);
  var u = f64_sub(ax, bpk);
  var v = f64_div(POW_ONE, f64_add(ax, bpk));
  let s = f64_mul(u, v);
  let s_h = vec2<u32>(0u, s.y);
  var t_h = vec2<u32>(0u, ((ix >> 1u) | 0x20000000u) + 0x00080000u + (u32(k) << 18u));
  var t_l = f64_sub(ax, f64_sub(t_h, bpk));
  let s_l = f64_mul(v, f64_sub(f64_sub(u, f64_mul(s_h, t_h)), f64_mul(s_h, t_l)));
  var s2 = f64_mul(s, s);
  var poly = f64_add(POW_L5, f64_mul(s2, POW_L6));
  poly = f64_add(POW_L4, f64_mul(s2, poly));
  poly = f64_add(POW_L3, f64_mul(s2, poly));
  poly = f64_add(POW_L2, f64_mul(s2, poly));
  poly = f64_add(POW_L1, f64_mul(s2, poly));
  var r = f64_mul(f64_mul(s2, s2), poly);
  r = f64_add(r, f64_mul(s_l, f64_add(s_h, s)));
  s2 = f64_mul(s_h, s_h);
  t_h = lo0(f64_add(f64_add(POW_THREE, s2), r));
  t_l = f64_sub(r, f64_sub(f64_sub(t_h, POW_THREE), s2));
  u = f64_mul(s_h, t_h);
  v = f64_add(f64_mul(s_l, t_h), f64_mul(t_l, s));
  var p_h = lo0(f64_add(u, v));
  var p_l = f64_sub(v, f64_sub(p_h, u));
  let z_h = f64_mul(POW_CP_H, p_h);
  let z_l = f64_add(f64_add(f64_mul(POW_CP_L, p_h), f64_mul(p_l, POW_CP)), dpl);
  var t = i32_to_f64(n);
  let t1 = lo0(f64_add(f64_add(f64_add(z_h, z_l), dph), t));
  let t2 = f64_sub(z_l, f64_sub(f64_sub(f64_sub(t1, t), dph), z_h));
  let y1 = lo0(y);
  p_l = f64_add(f64_mul(f64_sub(y, y1), t1), f64_mul(y, t2));
  p_h = f64_mul(y1, t1);
  var z = f64_add(p_l, p_h);
  let jj = bitcast<i32>(z.y);
  if (jj >= 0x40900000) { return vec2<u32>(0u, 0x7ff00000u); } // overflow (not reached for y ≤ 1)
  if ((z.y & 0x7fffffffu) >= 0x4090cc00u) {
    if (z.y != 0xc090cc00u || z.x != 0u) { return vec2<u32>(0u, 0u); } // underflow
    if (f64_le(p_l, f64_sub(z, p_h))) { return vec2<u32>(0u, 0u); }
  }
  let i = i32(z.y & 0x7fffffffu);
  k = (i >> 20u) - 0x3ff;
  n = 0;
  if (i > 0x3fe00000) {
    n = jj + (0x00100000 >> u32(k + 1));
    k = ((n & 0x7fffffff) >> 20u) - 0x3ff;
    t = vec2<u32>(0u, bitcast<u32>(n & ~(0x000fffff >> u32(k))));
    n = ((n & 0x000fffff) | 0x00100000) >> u32(20 - k);
    if (jj < 0) { n = -n; }
    p_h = f64_sub(p_h, t);
  }
  t = lo0(f64_add(p_l, p_h));
  u = f64_mul(t, POW_LG2_H);
  v = f64_add(f64_mul(f64_sub(p_l, f64_sub(t, p_h)), POW_LG2), f64_mul(t, POW_LG2_L));
  z = f64_add(u, v);
  let w = f64_sub(v, f64_sub(z, u));
  t = f64_mul(z, z);
  var q = f64_add(POW_P4, f64_mul(t, POW_P5));
  q = f64_add(POW_P3, f64_mul(t, q));
  q = f64_add(POW_P2, f64_mul(t, q));
  q = f64_add(POW_P1, f64_mul(t, q));
  let tt1 = f64_sub(z, f64_mul(t, q));
  r = f64_sub(f64_div(f64_mul(z, tt1), f64_sub(tt1, POW_TWO)), f64_add(w, f64_mul(z, w)));
  z = f64_sub(POW_ONE, f64_sub(r, z));
  let jz = bitcast<i32>(z.y) + (n << 20u);
  if ((jz >> 20u) <= 0) { return f64_scalbn(z, n); }
  return vec2<u32>(z.x, bitcast<u32>(jz));
}
