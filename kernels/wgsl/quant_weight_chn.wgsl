// quant_weight_chn: one 64-wide workgroup per row, all scalar float steps in integer arithmetic
// (weights and their range may be subnormal). n0 = N, n1 = K, n2 = 1 when a ratio tensor is bound.
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> RATIO: array<f32>;
@group(0) @binding(3) var<storage, read_write> Q: array<u32>;
@group(0) @binding(4) var<storage, read_write> Z: array<u32>;
@group(0) @binding(5) var<storage, read_write> S: array<u32>;

var<workgroup> kmax: atomic<i32>;
var<workgroup> kmin: atomic<i32>;

// Ordered integer key of binary32 bits (finite values; −0 → 0).
fn key(b: u32) -> i32 { return select(i32(b), -i32(b & 0x7fffffffu), (b & 0x80000000u) != 0u); }
fn unkey(k: i32) -> f32 { return bitcast<f32>(select(u32(k), 0x80000000u | u32(-k), k < 0)); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let K = P.n1;
  if (lid == 0u) { atomicStore(&kmax, 0); atomicStore(&kmin, 0); }
  workgroupBarrier();
  if (row >= P.n0) { return; }
  let base = row * K;
  var mx = 0;
  var mn = 0;
  for (var k = lid; k < K; k += 64u) { let c = key(bitcast<u32>(W[base + k])); mx = max(mx, c); mn = min(mn, c); }
  atomicMax(&kmax, mx);
  atomicMin(&kmin, mn);
  workgroupBarrier();
  var vmax = unkey(atomicLoad(&kmax));
  var vmin = unkey(atomicLoad(&kmin));
  if (P.n2 == 1u) { let r = RATIO[row]; vmax = mul_rn(vmax, r); vmin = mul_rn(vmin, r); }
  let range = add_rn(vmax, bitcast<f32>(bitcast<u32>(vmin) ^ 0x80000000u));
  let sb = f32_to_f16(div_rn(range, 15.0));
  if (lid == 0u) { S[GW + row] = sb; }
  if (sb == 0u || sb == 0x7c00u) {
    for (var k = lid; k < K; k += 64u) { Q[GW + base + k] = 0u; }
    if (lid == 0u) { Z[GW + row] = 0u; }
    return;
  }
  let s = f16_to_f32(sb);
  let z = rne_clamp(div_rn(bitcast<f32>(bitcast<u32>(vmin) ^ 0x80000000u), s), 0, 15);
  if (lid == 0u) { Z[GW + row] = u32(z); }
  for (var k = lid; k < K; k += 64u) {
    Q[GW + base + k] = u32(clamp(rne_clamp(div_rn(W[base + k], s), -0x40000000, 0x40000000) + z, 0, 15));
  }
}
