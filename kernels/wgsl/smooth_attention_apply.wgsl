// smooth_attention, dispatch 3 of 3: one invocation per weight row. Query row (h, j) of Wq is
// multiplied by λ[g(h)·D + j] (g(h) = ⌊h / G⌋), key row r of Wk divided by λ[r], each element one
// correctly rounded binary64 operation, written as binary64 or rounded once to binary32; the key
// rows' invocations also write λ. λ_r = kbase^α / qbase^β (invalid → 1) from the two powers in the
// scratch (smoothing_pow.wgsl). WQ, WK: binary64 words (binary32 widened exactly on the host).
// n0 = NK, n1 = D, n2 = G, n3 = C, n6 = 1 for binary64 outputs; NQ = n0 · G.
@group(0) @binding(1) var<storage, read> WQ: array<u32>;
@group(0) @binding(2) var<storage, read> WK: array<u32>;
@group(0) @binding(4) var<storage, read_write> WQOUT: array<u32>;
@group(0) @binding(5) var<storage, read_write> WKOUT: array<u32>;
@group(0) @binding(6) var<storage, read_write> LAMBDA: array<u32>;
@group(0) @binding(7) var<storage, read_write> SCR: array<u32>;

fn lambda_of(r: u32) -> vec2<u32> {
  let at = 4u + 8u * r;
  return smoothing_ratio(vec2<u32>(SCR[at + 2u], SCR[at + 3u]), vec2<u32>(SCR[at + 6u], SCR[at + 7u]));
}
fn put_q(i: u32, v: vec2<u32>) {
  if (P.n6 == 1u) { WQOUT[GW + 2u * i] = v.x; WQOUT[GW + 2u * i + 1u] = v.y; } else { WQOUT[GW + i] = f64_to_f32_bits(v); }
}
fn put_k(i: u32, v: vec2<u32>) {
  if (P.n6 == 1u) { WKOUT[GW + 2u * i] = v.x; WKOUT[GW + 2u * i + 1u] = v.y; } else { WKOUT[GW + i] = f64_to_f32_bits(v); }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let row = flat_index(gid, nw);
  let nk = P.n0;
  let d = P.n1;
  let nq = nk * P.n2;
  let c = P.n3;
  if (row >= nq + nk) { return; }
  if (row < nq) {
    let h = row / d;
    let l = lambda_of((h / P.n2) * d + row % d);
    for (var i = 0u; i < c; i++) {
      let e = row * c + i;
      put_q(e, f64_mul(vec2<u32>(WQ[2u * e], WQ[2u * e + 1u]), l));
    }
    return;
  }
  let r = row - nq;
  let l = lambda_of(r);
  LAMBDA[GW + 2u * r] = l.x;
  LAMBDA[GW + 2u * r + 1u] = l.y;
  for (var i = 0u; i < c; i++) {
    let e = r * c + i;
    put_k(e, f64_div(vec2<u32>(WK[2u * e], WK[2u * e + 1u]), l));
  }
}
