// quant_weight_int8: one 64-wide workgroup per row. n0 = N, n1 = K. Division in integer arithmetic
// (weights may be subnormal binary32 values).
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<u32>;

var<workgroup> amax_bits: atomic<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let K = P.n1;
  if (lid == 0u) { atomicStore(&amax_bits, 0u); }
  workgroupBarrier();
  if (row >= P.n0) { return; }
  let base = row * K;
  var m = 0u;
  for (var k = lid; k < K; k += 64u) { m = max(m, bitcast<u32>(W[base + k]) & 0x7fffffffu); }
  atomicMax(&amax_bits, m);
  workgroupBarrier();
  let sb = f32_to_f16(div_rn(bitcast<f32>(atomicLoad(&amax_bits)), 127.0));
  if (lid == 0u) { S[GW + row] = sb; }
  let s = f16_to_f32(sb);
  for (var k = lid; k < K; k += 64u) {
    var q = 0;
    if (sb != 0u && sb != 0x7c00u) { q = rne_clamp(div_rn(W[base + k], s), -127, 127); }
    Q[GW + base + k] = bitcast<u32>(q);
  }
}
