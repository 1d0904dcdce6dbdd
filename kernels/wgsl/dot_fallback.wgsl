// INT8 dot products without the packed_4x8_integer_dot_product language feature (same results).
fn dot4(a: u32, b: u32) -> i32 {
  var s = 0;
  for (var i = 0u; i < 4u; i++) { s += i8at(a, i) * i8at(b, i); }
  return s;
}
fn pack4i8(v: vec4<i32>) -> u32 {
  return (u32(v.x) & 0xffu) | ((u32(v.y) & 0xffu) << 8u) | ((u32(v.z) & 0xffu) << 16u) | ((u32(v.w) & 0xffu) << 24u);
}
fn unpack4u8(w: u32) -> vec4<i32> { return vec4<i32>(vec4<u32>(w & 0xffu, (w >> 8u) & 0xffu, (w >> 16u) & 0xffu, w >> 24u)); }
