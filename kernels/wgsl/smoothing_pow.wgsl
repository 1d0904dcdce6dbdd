// The powers of the smoothing factors λ = a^α / b^β, shared by smooth_linear and smooth_attention
// (one pipeline, so the emulated pow compiles once per device, and only once per kernel). Runs
// between a "bases" dispatch, which writes the bases, and an "apply" dispatch, which divides the
// powers and scales the weights (smoothing_ratio in f64.wgsl).
// SCR (the plan's scratch, binding 7): words 0–1 α, 2–3 β, then item i at words 4 + 4i: its base
// (2 words) and, written here, its power (2 words). Item 2j is channel j's a (to the power α),
// item 2j + 1 its b (to the power β). n0 = channels.
@group(0) @binding(7) var<storage, read_write> SCR: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = flat_index(gid, nw);
  if (i >= 2u * P.n0) { return; }
  let e = 2u * (i & 1u);
  let at = 4u + 4u * i;
  let p = f64_pow(vec2<u32>(SCR[at], SCR[at + 1u]), vec2<u32>(SCR[e], SCR[e + 1u]));
  SCR[at + 2u] = p.x;
  SCR[at + 3u] = p.y;
}
