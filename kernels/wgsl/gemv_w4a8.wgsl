// gemv_w4a8: the packed fast path of gemm_w4a8_g128 and gemm_w4a8_chn for small M (any M works;
// tokens are tiled MT at a time over grid y). Tile constants MT (tokens per workgroup) and R
// (weight rows per invocation) come from one gemv_tile_*.wgsl include.
//
// Packed formats (packages/backend-webgpu/src/gemv.ts builds them; the logical tensors stay the
// reference's). K is padded with zeros to Kp, a multiple of 32; a "chunk" is 32 consecutive k.
//   WQ: row n, chunk c = one vec4<u32> of UINT4 codes; component i holds k = 32c + 8i + j in the
//       low nibble of byte j and k = 32c + 8i + 4 + j in its high nibble (j = 0 … 3), so
//       `w & 0x0f0f0f0f` and `(w >> 4) & 0x0f0f0f0f` are four codes each, byte-aligned with the
//       activation words.
//   XQ: row m, chunk c = two vec4<u32> of INT8 codes, four per word in k order.
//   ZS: one 16-bit entry z | s2 << 8 per (row, group), two per word; per-channel weights are one
//       group of Kp with s2 = 1.
// Arithmetic (all exact int32): a byte q | 0x80 minus z (≤ 15) cannot borrow, and XOR 0x80 turns
// q + 128 − z into the INT8 code q − z, so one dot4I8Packed gives Σ x·(q − z) over four k; per
// chunk acc += s2 · Σ x·(q − z) = Σ x·w8 (g128: w8 = (q − z)·s2; per channel: Σ x·q − z·Σ x).
// Partial sums are bounded as the reference's accumulator (|x·w8| ≤ 128·128, or ≤ 128·15 per
// channel), so no order of the exact integer additions can overflow. Then the reference epilogue.
// 32 invocations share one group of R rows (coalesced 512-byte loads), a workgroup holds 8 such
// groups; their partial sums are reduced in workgroup memory, the last steps (those inside one
// subgroup, see subgroup_on.wgsl) by subgroupShuffleXor where subgroups are available.
// n0 = M, n1 = N, n2 = KC (chunks per row), n3 = chunks per group, n4 = G (groups per row).
@group(0) @binding(1) var<storage, read> XQ: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> XS: array<u32>;
@group(0) @binding(3) var<storage, read> WQ: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> ZS: array<u32>;
@group(0) @binding(5) var<storage, read> WS: array<u32>;
@group(0) @binding(6) var<storage, read_write> Y: array<u32>;

const TPR: u32 = 32u;
const WG: u32 = 256u;
var<workgroup> red: array<i32, 2048>;

fn signed_codes(v: u32, zz: u32) -> u32 { return ((v | 0x80808080u) - zz) ^ 0x80808080u; }

// 16-bit zero/s2 entry i.
fn zs_at(i: u32) -> u32 { return h16(ZS[i >> 1u], i); }

// Outputs b … b+ob−1 of every invocation are in red[o·WG + lid] (o < ob, ob a power of two ≤ 8):
// sum the 32 partials of each, lane l first adding the ob partials of segment l / ob of output
// l % ob, then lanes 0 … ob−1 the 32 / ob segment sums; output b + o is token m0 + (b+o) / r,
// row n0 + (b+o) % r. Called in uniform control flow by every invocation. With subgroup shuffles
// (`w` > 1, sg_setup's width) the row group of 32 is reduced as a split tile's (reduce_tree).
fn reduce_write(b: u32, ob: u32, r: u32, lid: u32, n0: u32, m0: u32, w: u32) {
  if (w > 1u) { reduce_tree(b, ob, r, TPR, lid, n0, m0, w); return; }
  workgroupBarrier();
  let lane = lid % TPR;
  let rs = lid / TPR;
  let o = lane % ob;
  let seg = lane / ob;
  var s = 0;
  for (var t = 0u; t < ob; t++) { s += red[o * WG + rs * TPR + seg * ob + t]; }
  workgroupBarrier();
  red[lid] = s;
  workgroupBarrier();
  if (lane < ob) {
    var tot = 0;
    for (var q = 0u; q < TPR / ob; q++) { tot += red[rs * TPR + q * ob + lane]; }
    let oi = b + lane;
    let m = m0 + oi / r;
    let n = n0 + oi % r;
    if (m < P.n0 && n < P.n1) { Y[GW + m * P.n1 + n] = epilogue(tot, h16(WS[n >> 1u], n), h16(XS[m >> 1u], m)); }
  }
  workgroupBarrier();
}

// Split tiles: outputs b … b+ob−1 of every invocation are in red[o·WG + lid] (o < ob ≤ 8), and
// the tpr invocations of a row group (consecutive lid, tpr a power of two) hold partial sums of
// the same outputs. A tree in workgroup memory adds them (exact int32; any order gives the same
// sum) down to hs = min(tpr, w) partials per output (w: sg_setup's subgroup width, 1 without
// subgroups), an xor-butterfly of subgroup shuffles over those hs lanes finishes it (lane 0 puts
// the total back), then lane o writes output b + o: token m0 + (b+o) / r, row n0 + (b+o) % r (the
// ob epilogues in parallel). Called in uniform control flow by every invocation.
fn reduce_tree(b: u32, ob: u32, r: u32, tpr: u32, lid: u32, n0: u32, m0: u32, w: u32) {
  workgroupBarrier();
  let lane = lid % tpr;
  let hs = min(tpr, w);
  for (var h = tpr / 2u; h >= hs; h = h / 2u) {
    if (lane < h) {
      for (var o = 0u; o < ob; o++) { red[o * WG + lid] += red[o * WG + lid + h]; }
    }
    workgroupBarrier();
  }
  if (hs > 1u) {
    for (var o = 0u; o < ob; o++) {
      var s = red[o * WG + lid];
      // Lanes 0 … hs−1 of the group hold the partials (one aligned block inside one subgroup).
      for (var h = hs / 2u; h > 0u; h = h / 2u) { s += sg_xor_i32(s, h); }
      if (lane == 0u) { red[o * WG + lid] = s; }
    }
    workgroupBarrier();
  }
  if (lane < ob) {
    let tot = red[lane * WG + lid - lane];
    let oi = b + lane;
    let m = m0 + oi / r;
    let n = n0 + oi % r;
    if (m < P.n0 && n < P.n1) { Y[GW + m * P.n1 + n] = epilogue(tot, h16(WS[n >> 1u], n), h16(XS[m >> 1u], m)); }
  }
  workgroupBarrier();
}
