// dequant_kv4: v = f32(f32(q·scale) + min), one invocation per element. n0 = elements, n1 = D.
@group(0) @binding(1) var<storage, read> Q: array<u32>;
@group(0) @binding(2) var<storage, read> S: array<u32>;
@group(0) @binding(3) var<storage, read> MN: array<u32>;
@group(0) @binding(4) var<storage, read_write> V: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = flat_index(gid, nw);
  if (i >= P.n0) { return; }
  let r = i / P.n1;
  let qs = mul(f32(u8at(Q[i >> 2u], i)), f16_to_f32(h16(S[r >> 1u], r))); // exact; rd() keeps it unfused
  V[GW + i] = bitcast<u32>(qs + f16_to_f32(h16(MN[r >> 1u], r)));
}
