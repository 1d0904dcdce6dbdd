// residual_add: y = f16(f32(a + b)), one invocation per element. n0 = element count.
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = flat_index(gid, nw);
  if (i >= P.n0) { return; }
  // Two binary16 values: the binary32 sum is a normal number or zero, so the hardware add is exact IEEE.
  Y[GW + i] = f32_to_f16(f16_to_f32(h16(A[i >> 1u], i)) + f16_to_f32(h16(B[i >> 1u], i)));
}
