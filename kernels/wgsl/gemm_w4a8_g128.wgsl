// gemm_w4a8_g128: w8 = (q − z)·s2 expanded in registers, acc = Σ xq·w8 (exact int32).
// n0 = M, n1 = N, n2 = K words per row, n3 = K, n4 = group size, n5 = G (groups per row).
// WQ: UINT4 codes as bytes, 4 per word, rows zero-padded; ZS: per (n, group) z | s2 << 8.
@group(0) @binding(1) var<storage, read> XQ: array<u32>;
@group(0) @binding(2) var<storage, read> XS: array<u32>;
@group(0) @binding(3) var<storage, read> WQ: array<u32>;
@group(0) @binding(4) var<storage, read> ZS: array<u32>;
@group(0) @binding(5) var<storage, read> S1: array<u32>;
@group(0) @binding(6) var<storage, read_write> Y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (n >= P.n1 || m >= P.n0) { return; }
  let kw = P.n2;
  let gs = P.n4;
  let G = P.n5;
  var acc = 0;
  for (var w = 0u; w < kw; w++) {
    let k0 = 4u * w;
    let q = unpack4u8(WQ[n * kw + w]);
    var z: vec4<i32>;
    var s2: vec4<i32>;
    if (gs % 4u == 0u) {
      let e = ZS[n * G + min(k0 / gs, G - 1u)];
      z = vec4<i32>(i32(e & 0xffu));
      s2 = vec4<i32>(i32(e >> 8u));
    } else {
      for (var j = 0u; j < 4u; j++) {
        let e = ZS[n * G + min((k0 + j) / gs, G - 1u)];
        z[j] = i32(e & 0xffu);
        s2[j] = i32(e >> 8u);
      }
    }
    // Padding lanes (k >= K) hold activation 0, so their weight byte never matters.
    acc += dot4(XQ[m * kw + w], pack4i8((q - z) * s2));
  }
  Y[GW + m * P.n1 + n] = epilogue(acc, h16(S1[n >> 1u], n), h16(XS[m >> 1u], m));
}
