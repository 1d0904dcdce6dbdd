// gemm_w4a8_chn: acc = Σ xq·q − z·xqsum (exact int32). n0 = M, n1 = N, n2 = K words per row.
// WQ: UINT4 codes as bytes, 4 per word (valid signed INT8 lanes), rows zero-padded.
@group(0) @binding(1) var<storage, read> XQ: array<u32>;
@group(0) @binding(2) var<storage, read> XS: array<u32>;
@group(0) @binding(3) var<storage, read> XSUM: array<i32>;
@group(0) @binding(4) var<storage, read> WQ: array<u32>;
@group(0) @binding(5) var<storage, read> WZ: array<u32>;
@group(0) @binding(6) var<storage, read> WS: array<u32>;
@group(0) @binding(7) var<storage, read_write> Y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (n >= P.n1 || m >= P.n0) { return; }
  let kw = P.n2;
  var d = 0;
  for (var w = 0u; w < kw; w++) { d += dot4(XQ[m * kw + w], WQ[n * kw + w]); }
  let acc = d - i32(u8at(WZ[n >> 2u], n)) * XSUM[m];
  Y[GW + m * P.n1 + n] = epilogue(acc, h16(WS[n >> 1u], n), h16(XS[m >> 1u], m));
}
