// smooth_linear, dispatch 1 of 3 (then smoothing_pow.wgsl, then smooth_linear_apply.wgsl): one
// invocation per input channel j writes the bases of λ_j = xmax_j^α / wmax_j^β into the scratch
// (layout in smoothing_pow.wgsl): xmax_j and wmax_j = max_n |W[n, j]|, an integer maximum of the
// magnitude bits (exact, and the same value as the reference's Math.max of |w|).
// W: binary64 words. XM: words 0–1 α, 2–3 β, then xmax as binary64. n0 = K, n1 = N.
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> XM: array<u32>;
@group(0) @binding(7) var<storage, read_write> SCR: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let j = flat_index(gid, nw);
  let k = P.n0;
  if (j >= k) { return; }
  if (j == 0u) { for (var w = 0u; w < 4u; w++) { SCR[w] = XM[w]; } }
  var wmax = vec2<u32>(0u, 0u);
  for (var r = 0u; r < P.n1; r++) {
    let e = r * k + j;
    let a = vec2<u32>(W[2u * e], W[2u * e + 1u] & 0x7fffffffu);
    if (u64_lt(wmax, a)) { wmax = a; }
  }
  let at = 4u + 8u * j;
  SCR[at] = XM[4u + 2u * j];
  SCR[at + 1u] = XM[5u + 2u * j];
  SCR[at + 4u] = wmax.x;
  SCR[at + 5u] = wmax.y;
}
