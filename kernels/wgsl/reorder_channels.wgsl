// reorder_channels: stable ascending sort of the K channels by xmax (ties by index), then W's
// columns and prev's rows moved to their new places. One invocation per old channel j: its new
// place is rank_j = #{i : x_i < x_j or (x_i == x_j and i < j)} (O(K) compares, all invocations in
// parallel), so perm[rank_j] = j. Keys are compared as integers: xmax is finite and >= 0
// (validated on the host), and for such binary32 values the bit pattern with the sign cleared
// orders exactly as the value (so -0 and +0 tie, and no FTZ of the device can merge a subnormal
// with 0). Values are moved as words (one per binary32 element, two per binary64): no float
// arithmetic at all, so every bit is kept.
// n0 = K, n1 = N (rows of w), n2 = C (columns of prev), n3 = words per element (1 or 2),
// n4 = 1 when prev is given (else binding 6 is a scratch word and nothing is written there).
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read> XMAX: array<u32>;
@group(0) @binding(3) var<storage, read> PREV: array<u32>;
@group(0) @binding(4) var<storage, read_write> WOUT: array<u32>;
@group(0) @binding(5) var<storage, read_write> PERM: array<u32>;
@group(0) @binding(6) var<storage, read_write> PREVOUT: array<u32>;

fn sort_key(i: u32) -> u32 { return XMAX[i] & 0x7fffffffu; }

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let j = flat_index(gid, nw);
  let k = P.n0;
  if (j >= k) { return; }
  let kj = sort_key(j);
  var rank = 0u;
  for (var i = 0u; i < k; i++) {
    let ki = sort_key(i);
    if (ki < kj || (ki == kj && i < j)) { rank += 1u; }
  }
  PERM[GW + rank] = j;
  let wpe = P.n3;
  for (var r = 0u; r < P.n1; r++) {
    for (var t = 0u; t < wpe; t++) { WOUT[GW + (r * k + rank) * wpe + t] = W[(r * k + j) * wpe + t]; }
  }
  if (P.n4 == 1u) {
    let c = P.n2;
    for (var i = 0u; i < c * wpe; i++) { PREVOUT[GW + rank * c * wpe + i] = PREV[j * c * wpe + i]; }
  }
}
