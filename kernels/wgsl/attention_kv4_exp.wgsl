// attention_kv4_decode, dispatch 2 of 3: m = the largest score of the query row (over the block
// maxima of dispatch 1; an exact integer maximum of ordered keys), then e_j = expCanon(f32(s_j − m))
// in place. Grid x = ⌈N / 256⌉ (one key per invocation), y = query row b·HQ + h.
// Parameters as attention_kv4_scores.wgsl.
@group(0) @binding(3) var<storage, read_write> SC: array<u32>;

var<workgroup> wmax: atomic<u32>;
var<workgroup> mu: u32;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  kv_init();
  let qrow = wid.y;
  var mx = 0u;
  for (var i = lid; i < P.n6; i += 256u) { mx = max(mx, SC[bm_base() + qrow * P.n6 + i]); }
  let smx = sg_max_u32(mx);
  if (sg_lead()) { atomicMax(&wmax, smx); }
  workgroupBarrier();
  if (lid == 0u) { mu = atomicLoad(&wmax); }
  let m = ounkey(workgroupUniformLoad(&mu));
  let j = wid.x * 256u + lid;
  if (j <= ctx_of(qrow / P.n1)) {
    let i = qrow * P.n5 + j;
    SC[i] = bitcast<u32>(exp_canon(bitcast<f32>(SC[i]) - m));
  }
}
