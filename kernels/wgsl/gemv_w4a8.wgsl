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
// groups; their partial sums are reduced in workgroup memory (no subgroup operations needed).
// n0 = M, n1 = N, n2 = KC (chunks per row), n3 = chunks per group, n4 = G (groups per row).
@group(0) @binding(1) var<storage, read> XQ: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> XS: array<u32>;
@group(0) @binding(3) var<storage, read> WQ: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> ZS: array<u32>;
@group(0) @binding(5) var<storage, read> WS: array<u32>;
@group(0) @binding(6) var<storage, read_write> Y: array<u32>;

const TPR: u32 = 32u;
const WG: u32 = 256u;
const MR: u32 = MT * R;
const OB: u32 = min(MR, 8u);
var<workgroup> red: array<i32, 2048>;

fn signed_codes(v: u32, zz: u32) -> u32 { return ((v | 0x80808080u) - zz) ^ 0x80808080u; }

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let lane = lid % TPR;
  let rs = lid / TPR;
  let n0 = (wid.x * (WG / TPR) + rs) * R;
  let m0 = wid.y * MT;
  let KC = P.n2;
  let CPG = P.n3;
  let G = P.n4;
  var acc: array<i32, MR>;
  var nrow: array<u32, R>;
  for (var r = 0u; r < R; r++) { nrow[r] = min(n0 + r, P.n1 - 1u); }
  var mrow: array<u32, MT>;
  for (var m = 0u; m < MT; m++) { mrow[m] = min(m0 + m, P.n0 - 1u) * KC; }
  let iters = (KC + TPR - 1u) / TPR;
  for (var it = 0u; it < iters; it++) {
    let c = it * TPR + lane;
    if (c < KC) {
      let g = c / CPG;
      var wd: array<u32, 8u * R>;
      var s2: array<i32, R>;
      for (var r = 0u; r < R; r++) {
        let v = WQ[nrow[r] * KC + c];
        let zi = nrow[r] * G + g;
        let e = h16(ZS[zi >> 1u], zi);
        let zz = (e & 0xffu) * 0x01010101u;
        s2[r] = i32(e >> 8u);
        for (var i = 0u; i < 4u; i++) {
          wd[8u * r + 2u * i] = signed_codes(v[i] & 0x0f0f0f0fu, zz);
          wd[8u * r + 2u * i + 1u] = signed_codes((v[i] >> 4u) & 0x0f0f0f0fu, zz);
        }
      }
      for (var m = 0u; m < MT; m++) {
        let xi = (mrow[m] + c) * 2u;
        let xa = XQ[xi];
        let xb = XQ[xi + 1u];
        for (var r = 0u; r < R; r++) {
          let b = 8u * r;
          let d = dot4(xa.x, wd[b]) + dot4(xa.y, wd[b + 1u]) + dot4(xa.z, wd[b + 2u]) + dot4(xa.w, wd[b + 3u])
                + dot4(xb.x, wd[b + 4u]) + dot4(xb.y, wd[b + 5u]) + dot4(xb.z, wd[b + 6u]) + dot4(xb.w, wd[b + 7u]);
          acc[m * R + r] += d * s2[r];
        }
      }
    }
  }
  // Sum the 32 partials of each output, OB outputs at a time: lane l first adds the OB partials of
  // segment l / OB of output l % OB, then lanes 0 … OB−1 add the 32 / OB segment sums and write.
  for (var b = 0u; b < MR; b += OB) {
    for (var o = 0u; o < OB; o++) { red[o * WG + lid] = acc[b + o]; }
    workgroupBarrier();
    let o = lane % OB;
    let seg = lane / OB;
    var s = 0;
    for (var t = 0u; t < OB; t++) { s += red[o * WG + rs * TPR + seg * OB + t]; }
    workgroupBarrier();
    red[lid] = s;
    workgroupBarrier();
    if (lane < OB) {
      var tot = 0;
      for (var q = 0u; q < TPR / OB; q++) { tot += red[rs * TPR + q * OB + lane]; }
      let oi = b + lane;
      let m = m0 + oi / R;
      let n = n0 + oi % R;
      if (m < P.n0 && n < P.n1) { Y[GW + m * P.n1 + n] = epilogue(tot, h16(WS[n >> 1u], n), h16(XS[m >> 1u], m)); }
    }
    workgroupBarrier();
  }
}
