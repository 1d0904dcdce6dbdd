// smooth_attention, dispatch 1 of 3 (then smoothing_pow.wgsl, then smooth_attention_apply.wgsl):
// one invocation per key channel r = g·D + j (KV head g, dim j) writes the bases of
// λ_r = kbase^α / qbase^β into the scratch (layout in smoothing_pow.wgsl):
// kbase = max(kmax[g·D + j], kmax[g·D + p(j)]) with p(j) j's RoPE partner, and qbase = the max of
// qmax over the group's query heads and over {j, p(j)} (or 1 when β = 0: qmax is not consulted).
// Maxima are integer maxima of the magnitude bits: the inputs are ≥ 0 (−0 allowed), so this is
// the reference's Math.max up to the sign of a zero, which no λ can tell apart.
// KM: words 0–1 α, 2–3 β, then kmax (NK binary64), then qmax (NQ binary64) when n5 = 1.
// n0 = NK, n1 = D, n2 = G (query heads per KV head), n4 = 1 for interleaved RoPE pairs.
@group(0) @binding(3) var<storage, read> KM: array<u32>;
@group(0) @binding(7) var<storage, read_write> SCR: array<u32>;

fn km_abs(i: u32) -> vec2<u32> { return vec2<u32>(KM[4u + 2u * i], KM[5u + 2u * i] & 0x7fffffffu); }
fn max64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> { return select(a, b, u64_lt(a, b)); }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let r = flat_index(gid, nw);
  let nk = P.n0;
  if (r >= nk) { return; }
  if (r == 0u) { for (var w = 0u; w < 4u; w++) { SCR[w] = KM[w]; } }
  let d = P.n1;
  let g = r / d;
  let j = r % d;
  let half = d / 2u;
  let p = select(select(j - half, j + half, j < half), j ^ 1u, P.n4 == 1u);
  let kbase = max64(km_abs(g * d + j), km_abs(g * d + p));
  var qbase = vec2<u32>(0u, 0x3ff00000u);
  if (P.n5 == 1u) {
    qbase = vec2<u32>(0u, 0u);
    for (var h = g * P.n2; h < (g + 1u) * P.n2; h++) {
      qbase = max64(qbase, max64(km_abs(nk + h * d + j), km_abs(nk + h * d + p)));
    }
  }
  let at = 4u + 8u * r;
  SCR[at] = kbase.x;
  SCR[at + 1u] = kbase.y;
  SCR[at + 4u] = qbase.x;
  SCR[at + 5u] = qbase.y;
}
