// Reading attention_kv4_decode's inputs, shared by its three dispatches (attention_kv4_scores,
// attention_kv4_exp, attention_kv4_pv). The eleven input tensors share one storage buffer IN (as
// in attention_kv4_decode.wgsl, WebGPU's default is 8 storage buffers per stage): IN[0 … 10] are
// the word offsets of q, k, v, k_cache, k_scale, k_min, v_cache, v_scale, v_min, block_table,
// ctx_len, each tensor's raw bytes packed into words. Codes are one byte each.
@group(0) @binding(1) var<storage, read> IN: array<u32>;

var<private> off: array<u32, 11>;

// Call once before any other function of this file.
fn kv_init() { for (var t = 0u; t < 11u; t++) { off[t] = IN[t]; } }
// Word w of input tensor t (0 = q … 10 = ctx_len).
fn inw(t: u32, w: u32) -> u32 { return IN[off[t] + w]; }
// Past tokens of sequence b (its key L = ctx_len[b] is the new token).
fn ctx_of(b: u32) -> u32 { return inw(10u, b); }
// Query value c of query row `qrow` = b·HQ + h.
fn q_val(qrow: u32, c: u32) -> f32 { let i = qrow * P.n3 + c; return f16_to_f32(h16(inw(0u, i >> 1u), i)); }
// Row (page, kv head, slot) of past token j of sequence b in the scale/min tensors (×D + c: codes).
fn cache_row(b: u32, g: u32, j: u32) -> u32 { let p = inw(9u, b * P.n4 + (j >> 6u)); return (p * P.n2 + g) * 64u + (j & 63u); }
// Scale and min of cache row r (ts = 4, tm = 5 for keys; 7, 8 for values), as binary32.
fn kv_sm(ts: u32, tm: u32, r: u32) -> vec2<f32> { return vec2<f32>(f16_to_f32(h16(inw(ts, r >> 1u), r)), f16_to_f32(h16(inw(tm, r >> 1u), r))); }
// dequant_kv4 of code c of cache row r of codes tensor tc (3 = keys, 6 = values): f32(f32(q · scale) + min).
fn kv_deq(tc: u32, r: u32, c: u32, sm: vec2<f32>) -> f32 { let i = r * P.n3 + c; return mul(f32(u8at(inw(tc, i >> 2u), i)), sm.x) + sm.y; }
// The new token's own binary16 key (t = 1) or value (t = 2), channel c, of sequence b and kv head g.
fn kv_new(t: u32, b: u32, g: u32, c: u32) -> f32 { let i = (b * P.n2 + g) * P.n3 + c; return f16_to_f32(h16(inw(t, i >> 1u), i)); }

// Scratch layout (u32 words, binary32 bits): SC[qrow·N + j] the score, then e_j, of key j for
// query row qrow (N = n5 = max context + 1); after B·HQ·N words, SC[BM + qrow·NBLK + blk] the
// largest score of key block blk (64 keys) as an ordered key (0: no key; see okey).
fn bm_base() -> u32 { return P.n0 * P.n1 * P.n5; }
// Ordered key of a binary32 value: unsigned order = value order, every finite value above 0.
fn okey(x: f32) -> u32 { let b = bitcast<u32>(x); return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u); }
fn ounkey(k: u32) -> f32 { return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u)); }

// f16_to_f32 without branches (selects only), for the hot loops: every load of an unrolled group
// of steps then sits in one basic block and can be issued before any of them is used.
fn f16f(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  let p = 31u - countLeadingZeros(m | 1u);
  let sub = select(bitcast<f32>(s | ((p + 103u) << 23u) | ((m << (23u - p)) & 0x7fffffu)), bitcast<f32>(s), m == 0u);
  return select(sub, bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u)), e != 0u);
}
