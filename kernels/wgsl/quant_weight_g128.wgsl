// quant_weight_g128: one 64-wide workgroup per row. n0 = N, n1 = K, n2 = group size, n3 = G.
// Level 1 (s1, integers u) with integer-exact division; u is staged in Q, then level 2 per group.
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;
@group(0) @binding(3) var<storage, read_write> Z: array<u32>;
@group(0) @binding(4) var<storage, read_write> S2: array<u32>;
@group(0) @binding(5) var<storage, read_write> S1: array<u32>;

var<workgroup> amax_bits: atomic<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let K = P.n1;
  let gs = P.n2;
  let G = P.n3;
  if (lid == 0u) { atomicStore(&amax_bits, 0u); }
  workgroupBarrier();
  let live = row < P.n0;
  let base = row * K;
  if (live) {
    var m = 0u;
    for (var k = lid; k < K; k += 64u) { m = max(m, bitcast<u32>(W[base + k]) & 0x7fffffffu); }
    atomicMax(&amax_bits, m);
  }
  workgroupBarrier();
  let sb = f32_to_f16(div_rn(bitcast<f32>(atomicLoad(&amax_bits)), 119.0));
  let s1 = f16_to_f32(sb);
  if (live) {
    if (lid == 0u) { S1[GW + row] = sb; }
    for (var k = lid; k < K; k += 64u) {
      var u = 0;
      if (sb != 0u && sb != 0x7c00u) { u = rne_clamp(div_rn(W[base + k], s1), -119, 119); }
      Q[GW + base + k] = bitcast<u32>(u);
    }
  }
  storageBarrier();
  workgroupBarrier();
  if (!live) { return; }
  for (var g = lid; g < G; g += 64u) {
    let o = base + g * gs;
    var vmax = 0;
    var vmin = 0;
    for (var j = 0u; j < gs; j++) { let u = bitcast<i32>(Q[GW + o + j]); vmax = max(vmax, u); vmin = min(vmin, u); }
    let s2 = max(1, rne_div(vmax - vmin, 15));
    let z = clamp(rne_div(-vmin, s2), 0, 15);
    for (var j = 0u; j < gs; j++) {
      let u = bitcast<i32>(Q[GW + o + j]);
      Q[GW + o + j] = u32(clamp(rne_div(u, s2) + z, 0, 15));
    }
    Z[GW + row * G + g] = u32(z);
    S2[GW + row * G + g] = u32(s2);
  }
}
