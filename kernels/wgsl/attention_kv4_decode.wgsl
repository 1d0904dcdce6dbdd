// attention_kv4_decode: one workgroup per (sequence b, query head h); keys 0 … L−1 from the paged
// KV4 cache (dequantized as dequant_kv4), key L the new token's own binary16 k/v.
// n0 = B, n1 = HQ, n2 = HKV, n3 = D, n4 = NB (blocks per sequence), n5 = max context + 1.
@group(0) @binding(1) var<storage, read> QB: array<u32>;
@group(0) @binding(2) var<storage, read> KB: array<u32>;
@group(0) @binding(3) var<storage, read> VB: array<u32>;
@group(0) @binding(4) var<storage, read> KC: array<u32>;
@group(0) @binding(5) var<storage, read> KS: array<u32>;
@group(0) @binding(6) var<storage, read> KM: array<u32>;
@group(0) @binding(7) var<storage, read> VC: array<u32>;
@group(0) @binding(8) var<storage, read> VS: array<u32>;
@group(0) @binding(9) var<storage, read> VM: array<u32>;
@group(0) @binding(10) var<storage, read> BT: array<i32>;
@group(0) @binding(11) var<storage, read> CTX: array<i32>;
@group(0) @binding(12) var<storage, read_write> O: array<u32>;
@group(0) @binding(13) var<storage, read_write> SC: array<f32>;

var<private> qoff: u32;
var<private> kvhead: u32;
var<private> seq: u32;
var<private> len: u32;

fn q_at(c: u32) -> f32 { let i = qoff + c; return f16_to_f32(h16(QB[i >> 1u], i)); }
// Row of (page, kv head, slot) of past token j.
fn cache_row(j: u32) -> u32 { let p = u32(BT[seq * P.n4 + (j >> 6u)]); return (p * P.n2 + kvhead) * 64u + (j & 63u); }
fn deq(codes: u32, i: u32, s: u32, m: u32) -> f32 { return mul(f32(u8at(codes, i)), f16_to_f32(s)) + f16_to_f32(m); }
fn key_at(j: u32, c: u32) -> f32 {
  if (j == len) { let i = (seq * P.n2 + kvhead) * P.n3 + c; return f16_to_f32(h16(KB[i >> 1u], i)); }
  let r = cache_row(j);
  let i = r * P.n3 + c;
  return deq(KC[i >> 2u], i, h16(KS[r >> 1u], r), h16(KM[r >> 1u], r));
}
fn val_at(j: u32, c: u32) -> f32 {
  if (j == len) { let i = (seq * P.n2 + kvhead) * P.n3 + c; return f16_to_f32(h16(VB[i >> 1u], i)); }
  let r = cache_row(j);
  let i = r * P.n3 + c;
  return deq(VC[i >> 2u], i, h16(VS[r >> 1u], r), h16(VM[r >> 1u], r));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw); // b * HQ + h
  if (row >= P.n0 * P.n1) { return; }
  seq = row / P.n1;
  let h = row % P.n1;
  qoff = row * P.n3;
  kvhead = h / (P.n1 / P.n2);
  len = u32(CTX[seq]);
  attend(len + 1u, P.n3, row * P.n5, row * P.n3, lid);
}
