// smooth_linear, dispatch 3 of 3: one invocation per input channel j takes the two powers from the
// scratch (smoothing_pow.wgsl), λ_j = xmax_j^α / wmax_j^β (invalid → 1), and writes W[:, j]·λ_j and
// prev[j, :] / λ_j, each one correctly rounded binary64 operation, written as binary64 or rounded
// once to binary32. W, PREV: binary64 words (binary32 widened exactly on the host).
// n0 = K, n1 = N, n2 = C, n3 = 1 for binary64 outputs.
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> PREV: array<u32>;
@group(0) @binding(4) var<storage, read_write> WOUT: array<u32>;
@group(0) @binding(5) var<storage, read_write> PREVOUT: array<u32>;
@group(0) @binding(6) var<storage, read_write> LAMBDA: array<u32>;
@group(0) @binding(7) var<storage, read_write> SCR: array<u32>;

fn put_w(i: u32, v: vec2<u32>) {
  if (P.n3 == 1u) { WOUT[GW + 2u * i] = v.x; WOUT[GW + 2u * i + 1u] = v.y; } else { WOUT[GW + i] = f64_to_f32_bits(v); }
}
fn put_prev(i: u32, v: vec2<u32>) {
  if (P.n3 == 1u) { PREVOUT[GW + 2u * i] = v.x; PREVOUT[GW + 2u * i + 1u] = v.y; } else { PREVOUT[GW + i] = f64_to_f32_bits(v); }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let j = flat_index(gid, nw);
  let k = P.n0;
  if (j >= k) { return; }
  let at = 4u + 8u * j;
  let l = smoothing_ratio(vec2<u32>(SCR[at + 2u], SCR[at + 3u]), vec2<u32>(SCR[at + 6u], SCR[at + 7u]));
  LAMBDA[GW + 2u * j] = l.x;
  LAMBDA[GW + 2u * j + 1u] = l.y;
  for (var r = 0u; r < P.n1; r++) {
    let e = r * k + j;
    put_w(e, f64_mul(vec2<u32>(W[2u * e], W[2u * e + 1u]), l));
  }
  let c = P.n2;
  for (var i = 0u; i < c; i++) {
    let e = j * c + i;
    put_prev(e, f64_div(vec2<u32>(PREV[2u * e], PREV[2u * e + 1u]), l));
  }
}
