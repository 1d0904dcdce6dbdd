// attention_kv4_decode: one workgroup per (sequence b, query head h); keys 0 … L−1 from the paged
// KV4 cache (dequantized as dequant_kv4), key L the new token's own binary16 k/v.
// n0 = B, n1 = HQ, n2 = HKV, n3 = D, n4 = NB (blocks per sequence), n5 = max context + 1.
// The eleven inputs share one storage buffer IN (WebGPU's default limit is 8 storage buffers per
// shader stage; SwiftShader in Chromium allows 10, one binding per input would need 13): IN[0 … 10]
// are the word offsets of q, k, v, k_cache, k_scale, k_min, v_cache, v_scale, v_min,
// block_table, ctx_len in IN, each tensor's raw bytes packed into words as in every other kernel.
@group(0) @binding(1) var<storage, read> IN: array<u32>;
@group(0) @binding(2) var<storage, read_write> O: array<u32>;
@group(0) @binding(3) var<storage, read_write> SC: array<f32>;

var<private> qoff: u32;
var<private> kvhead: u32;
var<private> seq: u32;
var<private> len: u32;
var<private> off: array<u32, 11>;

// Word w of input tensor t (0 = q … 10 = ctx_len).
fn inw(t: u32, w: u32) -> u32 { return IN[off[t] + w]; }

fn q_at(c: u32) -> f32 { let i = qoff + c; return f16_to_f32(h16(inw(0u, i >> 1u), i)); }
// Row of (page, kv head, slot) of past token j.
fn cache_row(j: u32) -> u32 { let p = inw(9u, seq * P.n4 + (j >> 6u)); return (p * P.n2 + kvhead) * 64u + (j & 63u); }
fn deq(codes: u32, i: u32, s: u32, m: u32) -> f32 { return mul(f32(u8at(codes, i)), f16_to_f32(s)) + f16_to_f32(m); }
fn key_at(j: u32, c: u32) -> f32 {
  if (j == len) { let i = (seq * P.n2 + kvhead) * P.n3 + c; return f16_to_f32(h16(inw(1u, i >> 1u), i)); }
  let r = cache_row(j);
  let i = r * P.n3 + c;
  return deq(inw(3u, i >> 2u), i, h16(inw(4u, r >> 1u), r), h16(inw(5u, r >> 1u), r));
}
fn val_at(j: u32, c: u32) -> f32 {
  if (j == len) { let i = (seq * P.n2 + kvhead) * P.n3 + c; return f16_to_f32(h16(inw(2u, i >> 1u), i)); }
  let r = cache_row(j);
  let i = r * P.n3 + c;
  return deq(inw(6u, i >> 2u), i, h16(inw(7u, r >> 1u), r), h16(inw(8u, r >> 1u), r));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw); // b * HQ + h
  if (row >= P.n0 * P.n1) { return; }
  seq = row / P.n1;
  let h = row % P.n1;
  qoff = row * P.n3;
  kvhead = h / (P.n1 / P.n2);
  for (var t = 0u; t < 11u; t++) { off[t] = IN[t]; }
  len = inw(10u, seq);
  attend(len + 1u, P.n3, row * P.n5, row * P.n3, lid);
}
