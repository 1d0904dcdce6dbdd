// hadamard_rotate: the reference's float64 fast Walsh–Hadamard transform, in emulated binary64
// (f64.wgsl), one invocation per (vector, block of b elements): the block is copied into the
// scratch buffer, the butterflies (a, b) -> (a + b, a − b) run in the reference's order (stages
// h = 1, 2, …, b/2, natural order), then each element is multiplied by 1/√b (the host's float64
// value, words 0–1 of X) and written as binary64 or rounded once to binary32.
// X: word 0–1 = 1/√b, then the weight as binary64 (binary32 inputs widened exactly on the host).
// Element i of block `blk` of vector v is flat element v·n3 + (blk·b + i)·n4.
// n0 = vectors × blocks, n1 = blocks per vector, n2 = b, n3 = vector stride, n4 = element stride,
// n5 = 1 for a binary64 output (two words per element), 0 for binary32.
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<u32>;
@group(0) @binding(3) var<storage, read_write> S: array<u32>;

fn ld(e: u32) -> vec2<u32> { return vec2<u32>(S[2u * e], S[2u * e + 1u]); }
fn st(e: u32, v: vec2<u32>) { S[2u * e] = v.x; S[2u * e + 1u] = v.y; }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let inv = flat_index(gid, nw);
  if (inv >= P.n0) { return; }
  let b = P.n2;
  let es = P.n4;
  let base = (inv / P.n1) * P.n3 + (inv % P.n1) * b * es;
  for (var i = 0u; i < b; i++) {
    let e = base + i * es;
    st(e, vec2<u32>(X[2u + 2u * e], X[3u + 2u * e]));
  }
  for (var h = 1u; h < b; h *= 2u) {
    for (var i = 0u; i < b; i += 2u * h) {
      for (var j = i; j < i + h; j++) {
        let p = base + j * es;
        let q = p + h * es;
        let a = ld(p);
        let c = ld(q);
        st(p, f64_add(a, c));
        st(q, f64_sub(a, c));
      }
    }
  }
  let s = vec2<u32>(X[0], X[1]);
  for (var i = 0u; i < b; i++) {
    let e = base + i * es;
    let y = f64_mul(ld(e), s);
    if (P.n5 == 1u) {
      Y[GW + 2u * e] = y.x;
      Y[GW + 2u * e + 1u] = y.y;
    } else {
      Y[GW + e] = f64_to_f32_bits(y);
    }
  }
}
