// Test kernel: applies one helper of common.wgsl to bit patterns A[i] (and B[i]). n0 = count,
// n1 = which helper (the order of PROBE_FUNCTIONS in packages/backend-webgpu/src/backend.ts).
@group(0) @binding(1) var<storage, read> A: array<u32>;
@group(0) @binding(2) var<storage, read> B: array<u32>;
@group(0) @binding(3) var<storage, read_write> R: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = flat_index(gid, nw);
  if (i >= P.n0) { return; }
  let a = bitcast<f32>(A[i]);
  let b = bitcast<f32>(B[i]);
  var r = 0u;
  switch (P.n1) {
    case 0u: { r = bitcast<u32>(div_rn(a, b)); }
    case 1u: { r = bitcast<u32>(sqrt_rn(a)); }
    case 2u: { r = f32_to_f16(a); }
    case 3u: { r = bitcast<u32>(i32_to_f32(bitcast<i32>(A[i]))); }
    case 4u: { r = bitcast<u32>(mul(a, b)); }
    case 5u: { r = bitcast<u32>(a + b); }
    case 6u: { r = bitcast<u32>(exp_canon(a)); }
    case 7u: { r = bitcast<u32>(mul_rn(a, b)); }
    case 8u: { r = bitcast<u32>(add_rn(a, b)); }
    case 9u: { r = bitcast<u32>(rne_clamp(a, -2147483647, 2147483647)); }
    case 10u: { r = bitcast<u32>(f16_to_f32(A[i])); }
    case 11u: { r = bitcast<u32>(mul(a, b) - mul(a, a)); }
    default: { r = 0xdeadbeefu; }
  }
  R[GW + i] = r;
}
