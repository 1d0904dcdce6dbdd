// Subgroup helpers, the variant with subgroups (the device has the `subgroups` feature; the host
// puts `enable subgroups;` first in the module). subgroup_off.wgsl defines the same names
// without any subgroup operation; a kernel is written once against these names.
//
// Integer maxima and sums (order-independent, so exact in any order) use subgroupMax/Min/Add
// on any subgroup size and any mapping of invocations to subgroups, then one atomic per subgroup.
// Float xor-butterflies (R32) need the partner lid ^ off in the same subgroup at subgroup id
// id ^ off: sg_setup checks, per workgroup, that subgroups are full, a power of two that divides
// the workgroup, and laid out as consecutive local_invocation_index (id = lid mod size). Then
// butterfly steps with off < that size use subgroupShuffleXor and the larger ones workgroup
// memory, in the same order (so a size of 4 or 8, as on SwiftShader and lavapipe, still gives the
// R32 bits); otherwise sg_setup returns 1 and every step uses workgroup memory.

struct SgIn {
  @builtin(subgroup_size) size: u32,
  @builtin(subgroup_invocation_id) id: u32,
}

var<workgroup> sg_ref: u32;
var<workgroup> sg_bad: atomic<u32>;
var<workgroup> sg_ok: u32;

// The subgroup width usable for xor steps (see above), workgroup-uniform; 1 = none. Call at the
// start of the entry point, in uniform control flow, with the workgroup size `wg`.
fn sg_setup(s: SgIn, lid: u32, wg: u32) -> u32 {
  if (lid == 0u) { sg_ref = s.size; }
  let r = workgroupUniformLoad(&sg_ref);
  let bad = s.size != r || r == 0u || (r & (r - 1u)) != 0u || r > wg || wg % r != 0u || s.id != lid % r;
  if (bad) { atomicStore(&sg_bad, 1u); }
  workgroupBarrier();
  if (lid == 0u) { sg_ok = select(r, 1u, atomicLoad(&sg_bad) != 0u); }
  return workgroupUniformLoad(&sg_ok);
}

fn sg_xor_f32(v: f32, off: u32) -> f32 { return subgroupShuffleXor(v, off); }
fn sg_xor_i32(v: i32, off: u32) -> i32 { return subgroupShuffleXor(v, off); }
fn sg_max_u32(v: u32) -> u32 { return subgroupMax(v); }
fn sg_max_i32(v: i32) -> i32 { return subgroupMax(v); }
fn sg_min_i32(v: i32) -> i32 { return subgroupMin(v); }
fn sg_add_i32(v: i32) -> i32 { return subgroupAdd(v); }
// True in one invocation per subgroup (the one that does the atomic for the subgroup's result).
fn sg_lead() -> bool { return subgroupElect(); }
