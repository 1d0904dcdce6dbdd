// rmsnorm_quant: one 32-wide workgroup per row; the sum of squares in the canonical R32 order
// (lane l sums terms l, l+32, … in order, then the xor-butterfly 16, 8, 4, 2, 1: r32_butterfly,
// subgroup shuffles for the steps a subgroup covers, workgroup memory for the rest).
// n0 = M, n1 = K, n2 = binary32 bits of eps.
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> GAMMA: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<u32>;
@group(0) @binding(4) var<storage, read_write> Q: array<u32>;
@group(0) @binding(5) var<storage, read_write> S: array<u32>;
@group(0) @binding(6) var<storage, read_write> QS: array<u32>;

const WG: u32 = 32u;
var<workgroup> amax_bits: atomic<u32>;
var<workgroup> qsum: atomic<i32>;
var<workgroup> amax_u: u32;

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>, @builtin(local_invocation_index) lid: u32, sg: SgIn) {
  let sw = sg_setup(sg, lid, WG);
  let row = group_index(wid, nw);
  let K = P.n1;
  if (lid == 0u) { atomicStore(&amax_bits, 0u); atomicStore(&qsum, 0); }
  let live = row < P.n0;
  let base = row * K;
  var acc = 0.0;
  if (live) {
    for (var k = lid; k < K; k += WG) { let i = base + k; let x = f16_to_f32(h16(X[i >> 1u], i)); acc = acc + mul(x, x); }
  }
  let ss = r32_butterfly(acc, lid, sw);
  if (!live) { return; }
  let ms = div_rn(ss, f32(K));
  let den = add_rn(ms, bitcast<f32>(P.n2));
  var m = 0u;
  if (den == 0.0) {
    for (var k = lid; k < K; k += WG) { Y[GW + base + k] = 0u; }
  } else {
    let r = div_rn(1.0, sqrt_rn(den));
    for (var k = lid; k < K; k += WG) {
      let i = base + k;
      let y = f32_to_f16(mul(mul(f16_to_f32(h16(X[i >> 1u], i)), r), f16_to_f32(h16(GAMMA[k >> 1u], k))));
      Y[GW + i] = y;
      m = max(m, y & 0x7fffu);
    }
  }
  quant_tail(row, K, lid, m);
}
