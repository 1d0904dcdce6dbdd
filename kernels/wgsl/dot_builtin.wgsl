// INT8 dot products through the packed_4x8_integer_dot_product language feature.
fn dot4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }
fn pack4i8(v: vec4<i32>) -> u32 { return pack4xI8(v); }
fn unpack4u8(w: u32) -> vec4<i32> { return vec4<i32>(unpack4xU8(w)); }
