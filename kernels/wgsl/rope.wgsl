// rope: one invocation per (token, head, frequency) pair. n0 = pairs, n1 = H, n2 = D, n3 = style
// (0 rotate_half, 1 interleaved).
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> POS: array<i32>;
@group(0) @binding(3) var<storage, read> C: array<f32>;
@group(0) @binding(4) var<storage, read> SN: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let p = flat_index(gid, nw);
  if (p >= P.n0) { return; }
  let half = P.n2 / 2u;
  let i = p % half;
  let th = p / half; // token * H + head
  let t = th / P.n1;
  let base = th * P.n2;
  var ia = base + i;
  var ib = base + i + half;
  if (P.n3 == 1u) { ia = base + 2u * i; ib = ia + 1u; }
  let a = f16_to_f32(h16(X[ia >> 1u], ia));
  let b = f16_to_f32(h16(X[ib >> 1u], ib));
  let row = u32(POS[t]) * half + i;
  let c = C[row];
  let s = SN[row];
  Y[GW + ia] = f32_to_f16(mul(a, c) - mul(b, s));
  Y[GW + ib] = f32_to_f16(mul(a, s) + mul(b, c));
}
