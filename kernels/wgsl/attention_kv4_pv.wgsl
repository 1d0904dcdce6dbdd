// attention_kv4_decode, dispatch 3 of 3: l = Σ_R32 e_j and o_c = f16(f32(Σ_R32 f32(e_j · v̂_jc) / l)).
// Each R32 lane is a sequential fold over its keys j ≡ lane (mod 32), so the 32 lanes of every
// sum run in parallel in 32 invocations: invocation lid is lane lid >> 3 of channel
// c = 8·wid.x + (lid & 7), for up to HB = 4 query heads of one KV head at once (each dequantized
// value is shared by those heads; l is folded along with channel 0's sums). The lanes' partial
// sums meet in workgroup memory and one invocation per (head, channel) applies the butterfly
// (16, 8, 4, 2, 1) and the one division. Grid x = ⌈D / 8⌉, y = (b·HKV + g)·⌈G / 4⌉ + head batch.
// Parameters as attention_kv4_scores.wgsl.
@group(0) @binding(2) var<storage, read_write> O: array<u32>;
@group(0) @binding(3) var<storage, read> SC: array<u32>;

const HB: u32 = 4u;
var<workgroup> pn: array<f32, 1024>; // [head t][lane][channel cc]: t·256 + lane·8 + cc
var<workgroup> pl: array<f32, 128>; // [head t][lane]

// core's butterflyR32 on 32 lane sums held by one invocation.
fn fold32(lanes: ptr<function, array<f32, 32>>) -> f32 {
  for (var o = 16u; o >= 1u; o = o / 2u) {
    for (var l = 0u; l < o; l++) { (*lanes)[l] = (*lanes)[l] + (*lanes)[l + o]; }
  }
  return (*lanes)[0];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  kv_init();
  let G = P.n1 / P.n2;
  let D = P.n3;
  let nhb = (G + HB - 1u) / HB;
  let bg = wid.y / nhb;
  let hb = wid.y % nhb;
  let b = bg / P.n2;
  let g = bg % P.n2;
  let cc = lid & 7u;
  let lane = lid >> 3u;
  let c = min(wid.x * 8u + cc, D - 1u); // channels past D compute channel D−1 and are not written
  let h0 = g * G + hb * HB;
  let nh = min(HB, G - hb * HB);
  let len = ctx_of(b);
  // e rows of the up-to-four heads (a head past the batch reads head h0's row, never written out)
  let e0 = (b * P.n1 + h0) * P.n5;
  let e1 = select(e0, e0 + P.n5, nh > 1u);
  let e2 = select(e0, e0 + 2u * P.n5, nh > 2u);
  let e3 = select(e0, e0 + 3u * P.n5, nh > 3u);
  var a0 = 0.0; var a1 = 0.0; var a2 = 0.0; var a3 = 0.0;
  var l0 = 0.0; var l1 = 0.0; var l2 = 0.0; var l3 = 0.0;
  for (var j = lane; j <= len; j += 32u) {
    var v: f32;
    if (j < len) {
      let r = cache_row(b, g, j);
      v = kv_deq(6u, r, c, kv_sm(7u, 8u, r));
    } else {
      v = kv_new(2u, b, g, c);
    }
    let x0 = bitcast<f32>(SC[e0 + j]);
    let x1 = bitcast<f32>(SC[e1 + j]);
    let x2 = bitcast<f32>(SC[e2 + j]);
    let x3 = bitcast<f32>(SC[e3 + j]);
    a0 = a0 + mul(x0, v); a1 = a1 + mul(x1, v); a2 = a2 + mul(x2, v); a3 = a3 + mul(x3, v);
    l0 = l0 + x0; l1 = l1 + x1; l2 = l2 + x2; l3 = l3 + x3;
  }
  let p = lane * 8u + cc;
  pn[p] = a0; pn[256u + p] = a1; pn[512u + p] = a2; pn[768u + p] = a3;
  if (cc == 0u) { pl[lane] = l0; pl[32u + lane] = l1; pl[64u + lane] = l2; pl[96u + lane] = l3; }
  workgroupBarrier();
  let t = lid >> 3u;
  let oc = wid.x * 8u + (lid & 7u);
  if (lid < 32u && t < nh && oc < D) {
    var nl: array<f32, 32>;
    var ll: array<f32, 32>;
    for (var l = 0u; l < 32u; l++) { nl[l] = pn[t * 256u + l * 8u + (lid & 7u)]; ll[l] = pl[t * 32u + l]; }
    let num = fold32(&nl);
    let den = fold32(&ll);
    O[GW + (b * P.n1 + h0 + t) * D + oc] = f32_to_f16(div_rn(num, den));
  }
}
