// dequant_weight_chn: w = scale·(q − z) (exact). n0 = elements, n1 = K.
@group(0) @binding(1) var<storage, read> Q: array<u32>;
@group(0) @binding(2) var<storage, read> Z: array<u32>;
@group(0) @binding(3) var<storage, read> S: array<u32>;
@group(0) @binding(4) var<storage, read_write> W: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = flat_index(gid, nw);
  if (i >= P.n0) { return; }
  let n = i / P.n1;
  let v = i32(u8at(Q[i >> 2u], i)) - i32(u8at(Z[n >> 2u], n));
  W[GW + i] = bitcast<u32>(mul(f16_to_f32(h16(S[n >> 1u], n)), f32(v)));
}
