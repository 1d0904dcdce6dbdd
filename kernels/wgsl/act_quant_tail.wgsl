// Shared tail of the fused row kernels (rmsnorm_quant, silu_mul_quant): quant_act_int8 of the
// binary16 row this workgroup has just written to Y (each invocation rereads only its own
// elements, so no storage barrier is needed for them). The maximum and the code sum are
// reduced per subgroup first (integers: any order is exact), then one atomic per subgroup. Needs `amax_bits`, `qsum` and the bindings
// Y, Q, S, QS, and a workgroup size of WG.
fn quant_tail(row: u32, K: u32, lid: u32, local_max: u32) {
  let lm = sg_max_u32(local_max);
  if (sg_lead()) { atomicMax(&amax_bits, lm); }
  workgroupBarrier();
  if (lid == 0u) { amax_u = atomicLoad(&amax_bits); }
  let ab = workgroupUniformLoad(&amax_u);
  let base = row * K;
  if (ab == 0u) {
    for (var k = lid; k < K; k += WG) { Q[GW + base + k] = 0u; }
    if (lid == 0u) { S[GW + row] = 0u; QS[GW + row] = 0u; }
    return;
  }
  let amax = f16_to_f32(ab);
  let r = div_rn(127.0, amax);
  var s = 0;
  for (var k = lid; k < K; k += WG) {
    let q = rne_clamp(mul(f16_to_f32(Y[GW + base + k] & 0xffffu), r), -127, 127);
    Q[GW + base + k] = bitcast<u32>(q);
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
