// Subgroup helpers, the variant without subgroups (no `subgroups` feature, or the backend option
// `subgroups: "off"`): the same names as subgroup_on.wgsl, with no subgroup operation. Every
// invocation is its own "subgroup": reductions go through workgroup atomics and memory only.

// An entry-point input that no kernel uses otherwise, so SgIn is a valid (ignored) parameter.
struct SgIn {
  @builtin(local_invocation_id) unused: vec3<u32>,
}

fn sg_setup(s: SgIn, lid: u32, wg: u32) -> u32 { return 1u; }
// Never called: sg_setup's width 1 sends every xor step through workgroup memory.
fn sg_xor_f32(v: f32, off: u32) -> f32 { return v; }
fn sg_xor_i32(v: i32, off: u32) -> i32 { return v; }
fn sg_max_u32(v: u32) -> u32 { return v; }
fn sg_max_i32(v: i32) -> i32 { return v; }
fn sg_min_i32(v: i32) -> i32 { return v; }
fn sg_add_i32(v: i32) -> i32 { return v; }
fn sg_lead() -> bool { return true; }
