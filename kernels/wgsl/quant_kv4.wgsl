// quant_kv4: one 64-wide workgroup per (token, head) row of D values. n0 = rows, n1 = D.
// Maximum and minimum keys: per subgroup first (exact integers), then one atomic per subgroup.
@group(0) @binding(1) var<storage, read> V: array<u32>;
@group(0) @binding(2) var<storage, read_write> Q: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<u32>;
@group(0) @binding(4) var<storage, read_write> MN: array<u32>;

var<workgroup> kmax: atomic<i32>;
var<workgroup> kmin: atomic<i32>;

// Ordered integer key of binary16 bits; −0 and +0 both map to 0 (the reference reads −0 as +0).
fn key(h: u32) -> i32 { return select(i32(h), -i32(h & 0x7fffu), (h & 0x8000u) != 0u); }
fn unkey(k: i32) -> u32 { return select(u32(k), 0x8000u | u32(-k), k < 0); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let D = P.n1;
  if (lid == 0u) { atomicStore(&kmax, -0x7fffffff); atomicStore(&kmin, 0x7fffffff); }
  workgroupBarrier();
  if (row >= P.n0) { return; }
  let base = row * D;
  var mx = -0x7fffffff;
  var mn = 0x7fffffff;
  for (var k = lid; k < D; k += 64u) { let i = base + k; let c = key(h16(V[i >> 1u], i)); mx = max(mx, c); mn = min(mn, c); }
  let smx = sg_max_i32(mx);
  let smn = sg_min_i32(mn);
  if (sg_lead()) { atomicMax(&kmax, smx); atomicMin(&kmin, smn); }
  workgroupBarrier();
  let mnb = unkey(atomicLoad(&kmin));
  let mnf = f16_to_f32(mnb);
  let range = f16_to_f32(unkey(atomicLoad(&kmax))) - mnf; // binary16 operands: normal or zero result
  let sb = f32_to_f16(div_rn(range, 15.0));
  if (lid == 0u) { S[GW + row] = sb; MN[GW + row] = mnb; }
  if (sb == 0u) {
    for (var k = lid; k < D; k += 64u) { Q[GW + base + k] = 0u; }
    return;
  }
  let inv = div_rn(1.0, f16_to_f32(sb));
  for (var k = lid; k < D; k += 64u) {
    let i = base + k;
    let t = mul(f16_to_f32(h16(V[i >> 1u], i)) - mnf, inv);
    Q[GW + i] = u32(rne_clamp(t, 0, 15));
  }
}
