// Shared core of the attention kernels: one 64-wide workgroup per (query row, query head) over
// keys j = 0 … n−1, in the canonical two-pass order of packages/reference/src/ops/attention_common.ts.
// Every R32 sum is reproduced by one invocation holding the 32 lane accumulators itself (lane
// j mod 32, then the xor-butterfly 16, 8, 4, 2, 1), so no cross-invocation float order exists.
// The including kernel defines key_at(j, c), val_at(j, c), q_at(c), the scratch buffer SC
// (one f32 per key of each workgroup, at `sbase`) and the output O.

var<workgroup> smax: atomic<i32>;

fn r32_fold(lanes: ptr<function, array<f32, 32>>) -> f32 {
  for (var off = 16u; off >= 1u; off = off / 2u) {
    for (var l = 0u; l < off; l++) { (*lanes)[l] = (*lanes)[l] + (*lanes)[l + off]; }
  }
  return (*lanes)[0];
}

// Ordered i32 key of a finite binary32 (−0 → 0).
fn fkey(x: f32) -> i32 { let b = bitcast<u32>(x); return select(i32(b), -i32(b & 0x7fffffffu), (b & 0x80000000u) != 0u); }
fn funkey(k: i32) -> f32 { return bitcast<f32>(select(u32(k), 0x80000000u | u32(-k), k < 0)); }

fn attend(n: u32, D: u32, sbase: u32, obase: u32, lid: u32) {
  if (lid == 0u) { atomicStore(&smax, -0x7fffffff - 1); }
  workgroupBarrier();
  let sc = div_rn(1.0, sqrt_rn(f32(D)));
  // Pass 1: scores s_j = f32(Σ_R32 f32(q_c · k_jc) · sc), and their max.
  var mx = -0x7fffffff - 1;
  for (var j = lid; j < n; j += 64u) {
    var lanes: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) { lanes[l] = 0.0; }
    for (var c = 0u; c < D; c++) { lanes[c % 32u] = lanes[c % 32u] + mul(q_at(c), key_at(j, c)); }
    let s = mul(r32_fold(&lanes), sc);
    SC[sbase + j] = s;
    mx = max(mx, fkey(s));
  }
  atomicMax(&smax, mx);
  storageBarrier();
  workgroupBarrier();
  let m = funkey(atomicLoad(&smax));
  // Pass 2: e_j = expCanon(f32(s_j − m)), in place.
  for (var j = lid; j < n; j += 64u) { SC[sbase + j] = exp_canon(SC[sbase + j] - m); }
  storageBarrier();
  workgroupBarrier();
  // Pass 3: per channel, o_c = f16(f32(Σ_R32 f32(e_j · v_jc) / Σ_R32 e_j)).
  for (var c = lid; c < D; c += 64u) {
    var ll: array<f32, 32>;
    var nl: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) { ll[l] = 0.0; nl[l] = 0.0; }
    for (var j = 0u; j < n; j++) {
      let e = SC[sbase + j];
      ll[j % 32u] = ll[j % 32u] + e;
      nl[j % 32u] = nl[j % 32u] + mul(e, val_at(j, c));
    }
    let l = r32_fold(&ll);
    O[GW + obase + c] = f32_to_f16(div_rn(r32_fold(&nl), l));
  }
}
