// dequant_weight_g128: w8 = (q − z)·s2 and w = s1·w8 (exact). n0 = elements, n1 = K, n2 = group size, n3 = G.
@group(0) @binding(1) var<storage, read> Q: array<u32>;
@group(0) @binding(2) var<storage, read> Z: array<u32>;
@group(0) @binding(3) var<storage, read> S2: array<u32>;
@group(0) @binding(4) var<storage, read> S1: array<u32>;
@group(0) @binding(5) var<storage, read_write> W8: array<u32>;
@group(0) @binding(6) var<storage, read_write> W: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = flat_index(gid, nw);
  if (i >= P.n0) { return; }
  let n = i / P.n1;
  let g = n * P.n3 + (i % P.n1) / P.n2;
  let w8 = (i32(u8at(Q[i >> 2u], i)) - i32(u8at(Z[g >> 2u], g))) * i32(u8at(S2[g >> 2u], g));
  W8[GW + i] = bitcast<u32>(w8);
  W[GW + i] = bitcast<u32>(mul(f16_to_f32(h16(S1[n >> 1u], n)), f32(w8)));
}
