// silu_mul_quant: one 64-wide workgroup per row. silu = f16(g / (1 + expCanon(−g))),
// y = f16(silu · up), then quant_act_int8 of y. n0 = M, n1 = K.
@group(0) @binding(1) var<storage, read> GATE: array<u32>;
@group(0) @binding(2) var<storage, read> UP: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<u32>;
@group(0) @binding(4) var<storage, read_write> Q: array<u32>;
@group(0) @binding(5) var<storage, read_write> S: array<u32>;
@group(0) @binding(6) var<storage, read_write> QS: array<u32>;

const WG: u32 = 64u;
var<workgroup> amax_bits: atomic<u32>;
var<workgroup> qsum: atomic<i32>;
var<workgroup> amax_u: u32;

fn silu16(gb: u32) -> u32 {
  let g = f16_to_f32(gb);
  let x = f16_to_f32(gb ^ 0x8000u);
  if (x > 88.0) { return gb & 0x8000u; } // g / (1 + ∞) = ±0 with the sign of g
  return f32_to_f16(div_rn(g, 1.0 + exp_canon(x)));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nw);
  let K = P.n1;
  if (lid == 0u) { atomicStore(&amax_bits, 0u); atomicStore(&qsum, 0); }
  workgroupBarrier();
  if (row >= P.n0) { return; }
  let base = row * K;
  var m = 0u;
  for (var k = lid; k < K; k += WG) {
    let i = base + k;
    let y = f32_to_f16(mul(f16_to_f32(silu16(h16(GATE[i >> 1u], i))), f16_to_f32(h16(UP[i >> 1u], i))));
    Y[GW + i] = y;
    m = max(m, y & 0x7fffu);
  }
  quant_tail(row, K, lid, m);
}
