// attention_kv4_decode, dispatch 1 of 3: every score, in parallel over keys. Grid x = key block
// (64 keys), y = b·HKV + g; one workgroup runs the G = HQ/HKV query heads of KV head g over its
// 64 keys, reading each key row once from HBM (the other heads hit the cache).
// Invocation lid is R32 lane lid & 31 of key slot lid >> 5: lane l sums f32(q_c · k̂_jc) over
// c = l, l+32, … in order, r32_butterfly combines the 32 lanes (subgroup shuffles where they fit,
// workgroup memory otherwise), s_j = f32(sum · sc). Also the block's largest score per head.
// Each invocation's 8 keys (slot + 8·it) have their cache rows and scale/min loaded once, before
// the head loop, so the loop's loads depend on nothing loaded in it.
// n0 = B, n1 = HQ, n2 = HKV, n3 = D (≤ 1024), n4 = NB, n5 = N, n6 = NBLK = ⌈N / 64⌉.
@group(0) @binding(3) var<storage, read_write> SC: array<u32>;

var<workgroup> qf: array<f32, 1024>;
var<workgroup> wmax: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, sg: SgIn) {
  let sw = sg_setup(sg, lid, 256u);
  kv_init();
  let blk = wid.x;
  let b = wid.y / P.n2;
  let g = wid.y % P.n2;
  let G = P.n1 / P.n2;
  let D = P.n3;
  let lane = lid & 31u;
  let slot = lid >> 5u;
  let len = ctx_of(b);
  let sc = div_rn(1.0, sqrt_rn(f32(D)));
  var rows: array<u32, 8>;
  var sms: array<vec2<f32>, 8>;
  for (var it = 0u; it < 8u; it++) {
    let j = blk * 64u + it * 8u + slot;
    let r = cache_row(b, g, min(j, max(len, 1u) - 1u));
    rows[it] = r;
    sms[it] = vec2<f32>(f16f(h16(inw(4u, r >> 1u), r)), f16f(h16(inw(5u, r >> 1u), r)));
  }
  for (var t = 0u; t < G; t++) {
    let qrow = b * P.n1 + g * G + t;
    workgroupBarrier(); // the previous head is done with qf and wmax
    for (var c = lid; c < D; c += 256u) { qf[c] = q_val(qrow, c); }
    workgroupBarrier();
    var mx = 0u;
    for (var it = 0u; it < 8u; it++) {
      let j = blk * 64u + it * 8u + slot;
      let live = j <= len;
      var acc = 0.0;
      if (live && j < len) {
        let r = rows[it];
        let sm = sms[it];
        for (var c = lane; c < D; c += 32u) { acc = acc + mul(qf[c], kv_deq(3u, r, c, sm)); }
      } else if (live) {
        for (var c = lane; c < D; c += 32u) { acc = acc + mul(qf[c], kv_new(1u, b, g, c)); }
      }
      let s = mul(r32_butterfly(acc, lid, sw), sc);
      if (live) {
        if (lane == 0u) { SC[qrow * P.n5 + j] = bitcast<u32>(s); }
        mx = max(mx, okey(s));
      }
    }
    // The block maximum: integers, so any order (subgroup, then one atomic per subgroup) is exact.
    let smx = sg_max_u32(mx);
    if (sg_lead()) { atomicMax(&wmax, smx); }
    workgroupBarrier();
    if (lid == 0u) {
      SC[bm_base() + qrow * P.n6 + blk] = atomicLoad(&wmax);
      atomicStore(&wmax, 0u);
    }
  }
}
