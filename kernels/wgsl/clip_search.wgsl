// clip_search: one 64-wide workgroup per row; invocation l scores candidates c = l, l + 64, …
// exactly as the reference: ratio r_c = f32(1 − c·max_shrink/grid) in emulated binary64 (r_0 = 1),
// the row quantized as quant_weight_chn does at that ratio (binary32 steps in integer arithmetic),
// d_k = w_k − s·(q_k − z) (s·(q_k − z) is exact in binary32; the difference is one binary64
// subtraction), err = (Σ_t (Σ_k x[t,k]·d_k)²)/T with both sums in natural order, all binary64
// (f64.wgsl). The smallest err wins, a tie keeps the smaller c (the reference's strict < scan).
// A scale that overflows binary16 or an err that is not finite marks the row: its err is written
// as NaN and the host raises the reference's OverflowError.
// n0 = N, n1 = K, n2 = T, n3 = grid, n4/n5 = max_shrink as binary64 (low, high word).
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> RATIO: array<u32>;
@group(0) @binding(4) var<storage, read_write> ERR: array<u32>;

var<workgroup> kmax: atomic<i32>;
var<workgroup> kmin: atomic<i32>;
var<workgroup> bad: atomic<u32>;
var<workgroup> best_err: array<vec2<u32>, 64>;
var<workgroup> best_c: array<u32, 64>;

// Ordered integer key of binary32 bits (finite values; −0 → 0).
fn key(b: u32) -> i32 { return select(i32(b), -i32(b & 0x7fffffffu), (b & 0x80000000u) != 0u); }
fn unkey(k: i32) -> f32 { return bitcast<f32>(select(u32(k), 0x80000000u | u32(-k), k < 0)); }
fn neg(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) ^ 0x80000000u); }

// Candidate ratio c as binary32 bits: 1, then f32(1 − (c·max_shrink)/grid) in binary64.
fn ratio_bits(c: u32) -> u32 {
  if (c == 0u) { return 0x3f800000u; }
  let t = f64_div(f64_mul(u32_to_f64(c), vec2<u32>(P.n4, P.n5)), u32_to_f64(P.n3));
  return f64_to_f32_bits(f64_sub(u32_to_f64(1u), t));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let K = P.n1;
  let T = P.n2;
  if (lid == 0u) { atomicStore(&kmax, 0); atomicStore(&kmin, 0); atomicStore(&bad, 0u); }
  workgroupBarrier();
  if (row >= P.n0) { return; }
  let base = row * K;
  var mx = 0;
  var mn = 0;
  for (var k = lid; k < K; k += 64u) { let c = key(bitcast<u32>(W[base + k])); mx = max(mx, c); mn = min(mn, c); }
  atomicMax(&kmax, mx);
  atomicMin(&kmin, mn);
  workgroupBarrier();
  let vmax0 = unkey(atomicLoad(&kmax));
  let vmin0 = unkey(atomicLoad(&kmin));
  let tf = u32_to_f64(T);
  var mine = vec2<u32>(0xffffffffu, 0xffffffffu); // above every finite err
  var mine_c = 0xffffffffu;
  for (var c = lid; c <= P.n3; c += 64u) {
    let r = bitcast<f32>(ratio_bits(c));
    let vmax = mul_rn(vmax0, r);
    let vmin = mul_rn(vmin0, r);
    let sb = f32_to_f16(div_rn(add_rn(vmax, neg(vmin)), 15.0));
    if (sb == 0x7c00u) { atomicOr(&bad, 1u); break; }
    let s = f16_to_f32(sb);
    var z = 0;
    if (sb != 0u) { z = rne_clamp(div_rn(neg(vmin), s), 0, 15); }
    var total = vec2<u32>(0u, 0u);
    for (var t = 0u; t < T; t++) {
      var dot = vec2<u32>(0u, 0u);
      for (var k = 0u; k < K; k++) {
        let w = W[base + k];
        var what = 0.0;
        if (sb != 0u) {
          let q = clamp(rne_clamp(div_rn(w, s), -0x40000000, 0x40000000) + z, 0, 15);
          what = mul_rn(s, i32_to_f32(q - z));
        }
        let d = f64_sub(f32_to_f64(w), f32_to_f64(what));
        dot = f64_add(dot, f64_mul(f32_to_f64(X[t * K + k]), d));
      }
      total = f64_add(total, f64_mul(dot, dot));
    }
    let err = f64_div(total, tf);
    if (!f64_finite(err)) { atomicOr(&bad, 1u); break; }
    // err ≥ 0, so its words order as its value; strict < keeps this invocation's smallest c.
    if (u64_lt(err, mine)) { mine = err; mine_c = c; }
  }
  best_err[lid] = mine;
  best_c[lid] = mine_c;
  workgroupBarrier();
  if (lid != 0u) { return; }
  var be = best_err[0];
  var bc = best_c[0];
  for (var l = 1u; l < 64u; l++) {
    let e = best_err[l];
    if (best_c[l] != 0xffffffffu && (u64_lt(e, be) || (e.x == be.x && e.y == be.y && best_c[l] < bc))) { be = e; bc = best_c[l]; }
  }
  if (atomicLoad(&bad) != 0u) { be = F64_NAN; bc = 0u; }
  RATIO[GW + row] = ratio_bits(bc);
  ERR[GW + 2u * row] = be.x;
  ERR[GW + 2u * row + 1u] = be.y;
}
