// attention_prefill: causal GQA over binary16 Q/K/V. One workgroup per (token t, query head h);
// keys 0 … t. n0 = T, n1 = HQ, n2 = HKV, n3 = D.
@group(0) @binding(1) var<storage, read> QB: array<u32>;
@group(0) @binding(2) var<storage, read> KB: array<u32>;
@group(0) @binding(3) var<storage, read> VB: array<u32>;
@group(0) @binding(4) var<storage, read_write> O: array<u32>;
@group(0) @binding(5) var<storage, read_write> SC: array<f32>;

var<private> qoff: u32;
var<private> kvhead: u32;

fn q_at(c: u32) -> f32 { let i = qoff + c; return f16_to_f32(h16(QB[i >> 1u], i)); }
fn key_at(j: u32, c: u32) -> f32 { let i = (j * P.n2 + kvhead) * P.n3 + c; return f16_to_f32(h16(KB[i >> 1u], i)); }
fn val_at(j: u32, c: u32) -> f32 { let i = (j * P.n2 + kvhead) * P.n3 + c; return f16_to_f32(h16(VB[i >> 1u], i)); }

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw); // t * HQ + h
  if (row >= P.n0 * P.n1) { return; }
  let t = row / P.n1;
  let h = row % P.n1;
  qoff = row * P.n3;
  kvhead = h / (P.n1 / P.n2);
  attend(t + 1u, P.n3, row * P.n0, row * P.n3, lid);
}
