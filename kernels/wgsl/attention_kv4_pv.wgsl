// attention_kv4_decode, dispatch 3 of 3: l = Σ_R32 e_j and o_c = f16(f32(Σ_R32 f32(e_j · v̂_jc) / l)).
// Each R32 lane is a sequential fold over its keys j ≡ lane (mod 32), so the 32 lanes of every
// sum run in parallel in 32 invocations: invocation lid is lane lid >> 3 of channel
// c = 8·wid.x + (lid & 7), for up to HB = 4 query heads of one KV head at once (each dequantized
// value is shared by those heads; l is folded along with channel 0's sums). The lanes' partial
// sums meet in workgroup memory and one invocation per (head, channel) applies the butterfly
// (16, 8, 4, 2, 1) and the one division. Grid x = ⌈D / 8⌉, y = (b·HKV + g)·⌈G / 4⌉ + head batch.
// The sequential fold is latency-bound (block table → cache row → code, scale, min), so each
// loop iteration first loads U = 8 steps (keys j, j+32, …, j+224; indices clamped, results of
// steps past the last key discarded) with no branch between the loads, then adds them in order.
// Parameters as attention_kv4_scores.wgsl.
@group(0) @binding(2) var<storage, read_write> O: array<u32>;
@group(0) @binding(3) var<storage, read> SC: array<u32>;

const HB: u32 = 4u;
const U: u32 = 8u;

// What one step (key j) of a lane needs: the value v̂_jc and e_j of the four heads.
struct Step { v: f32, x: vec4<f32>, }
var<workgroup> pn: array<f32, 1024>; // [head t][lane][channel cc]: t·256 + lane·8 + cc
var<workgroup> pl: array<f32, 128>; // [head t][lane]

// core's butterflyR32 on 32 lane sums held by one invocation.
fn fold32(lanes: ptr<function, array<f32, 32>>) -> f32 {
  for (var o = 16u; o >= 1u; o = o / 2u) {
    for (var l = 0u; l < o; l++) { (*lanes)[l] = (*lanes)[l] + (*lanes)[l + o]; }
  }
  return (*lanes)[0];
}

// Loads of key j (≤ len: the new token's own value at j = len; past len: clamped, discarded).
fn load_step(b: u32, g: u32, j: u32, len: u32, c: u32, e: vec4<u32>) -> Step {
  let je = min(j, len);
  let r = cache_row(b, g, min(j, max(len, 1u) - 1u));
  let sc = f16f(h16(inw(7u, r >> 1u), r));
  let mn = f16f(h16(inw(8u, r >> 1u), r));
  let i = r * P.n3 + c;
  let cached = mul(f32(u8at(inw(6u, i >> 2u), i)), sc) + mn;
  let n = (b * P.n2 + g) * P.n3 + c;
  let fresh = f16f(h16(inw(2u, n >> 1u), n));
  let x = vec4<f32>(bitcast<f32>(SC[e.x + je]), bitcast<f32>(SC[e.y + je]), bitcast<f32>(SC[e.z + je]), bitcast<f32>(SC[e.w + je]));
  return Step(select(cached, fresh, j >= len), x);
}

// Binary32 products of four pairs, each rounded on its own (rd: never fused with the add after).
fn mul4(a: vec4<f32>, v: f32) -> vec4<f32> { return bitcast<vec4<f32>>(bitcast<vec4<u32>>(a * v) ^ vec4<u32>(P.zero)); }

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
  let e = vec4<u32>(e0, select(e0, e0 + P.n5, nh > 1u), select(e0, e0 + 2u * P.n5, nh > 2u), select(e0, e0 + 3u * P.n5, nh > 3u));
  var a = vec4<f32>(0.0);
  var l = vec4<f32>(0.0);
  for (var j = lane; j <= len; j += 32u * U) {
    let s0 = load_step(b, g, j, len, c, e);
    let s1 = load_step(b, g, j + 32u, len, c, e);
    let s2 = load_step(b, g, j + 64u, len, c, e);
    let s3 = load_step(b, g, j + 96u, len, c, e);
    let s4 = load_step(b, g, j + 128u, len, c, e);
    let s5 = load_step(b, g, j + 160u, len, c, e);
    let s6 = load_step(b, g, j + 192u, len, c, e);
    let s7 = load_step(b, g, j + 224u, len, c, e);
    // In key order; binary32 vector + is four separately rounded adds.
    a = a + mul4(s0.x, s0.v); l = l + s0.x;
    if (j + 32u <= len) { a = a + mul4(s1.x, s1.v); l = l + s1.x; }
    if (j + 64u <= len) { a = a + mul4(s2.x, s2.v); l = l + s2.x; }
    if (j + 96u <= len) { a = a + mul4(s3.x, s3.v); l = l + s3.x; }
    if (j + 128u <= len) { a = a + mul4(s4.x, s4.v); l = l + s4.x; }
    if (j + 160u <= len) { a = a + mul4(s5.x, s5.v); l = l + s5.x; }
    if (j + 192u <= len) { a = a + mul4(s6.x, s6.v); l = l + s6.x; }
    if (j + 224u <= len) { a = a + mul4(s7.x, s7.v); l = l + s7.x; }
  }
  let p = lane * 8u + cc;
  pn[p] = a.x; pn[256u + p] = a.y; pn[512u + p] = a.z; pn[768u + p] = a.w;
  if (cc == 0u) { pl[lane] = l.x; pl[32u + lane] = l.y; pl[64u + lane] = l.z; pl[96u + lane] = l.w; }
  workgroupBarrier();
  let t = lid >> 3u;
  let oc = wid.x * 8u + (lid & 7u);
  if (lid < 32u && t < nh && oc < D) {
    var nl: array<f32, 32>;
    var ll: array<f32, 32>;
    for (var i = 0u; i < 32u; i++) { nl[i] = pn[t * 256u + i * 8u + (lid & 7u)]; ll[i] = pl[t * 32u + i]; }
    let num = fold32(&nl);
    let den = fold32(&ll);
    O[GW + (b * P.n1 + h0 + t) * D + oc] = f32_to_f16(div_rn(num, den));
  }
}
