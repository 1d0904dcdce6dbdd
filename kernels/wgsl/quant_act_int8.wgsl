// quant_act_int8: one 64-wide workgroup per row. n0 = M, n1 = K. Maximum and code sum: per
// subgroup first (sg_max_u32 / sg_add_i32; exact integers), then one workgroup atomic per subgroup.
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<u32>;
@group(0) @binding(4) var<storage, read_write> QS: array<u32>;

var<workgroup> amax_bits: atomic<u32>;
var<workgroup> qsum: atomic<i32>;
var<workgroup> amax_u: u32;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let K = P.n1;
  if (lid == 0u) { atomicStore(&amax_bits, 0u); atomicStore(&qsum, 0); }
  workgroupBarrier();
  if (row >= P.n0) { return; }
  let base = row * K;
  // max |x| on the binary16 magnitude bits (monotone in the value for finite inputs)
  var m = 0u;
  for (var k = lid; k < K; k += 64u) { let i = base + k; m = max(m, h16(X[i >> 1u], i) & 0x7fffu); }
  let sm = sg_max_u32(m);
  if (sg_lead()) { atomicMax(&amax_bits, sm); }
  workgroupBarrier();
  if (lid == 0u) { amax_u = atomicLoad(&amax_bits); }
  let ab = workgroupUniformLoad(&amax_u);
  if (ab == 0u) {
    for (var k = lid; k < K; k += 64u) { Q[GW + base + k] = 0u; }
    if (lid == 0u) { S[GW + row] = 0u; QS[GW + row] = 0u; }
    return;
  }
  let amax = f16_to_f32(ab);
  let r = div_rn(127.0, amax);
  var s = 0;
  for (var k = lid; k < K; k += 64u) {
    let i = base + k;
    let q = rne_clamp(mul(f16_to_f32(h16(X[i >> 1u], i)), r), -127, 127);
    Q[GW + i] = bitcast<u32>(q);
    s += q;
  }
  let ts = sg_add_i32(s);
  if (sg_lead()) { atomicAdd(&qsum, ts); }
  workgroupBarrier();
  if (lid == 0u) {
    S[GW + row] = f32_to_f16(div_rn(amax, 127.0));
    QS[GW + row] = bitcast<u32>(atomicLoad(&qsum));
  }
}
