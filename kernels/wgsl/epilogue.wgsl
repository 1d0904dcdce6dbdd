// The GEMM epilogue y = f16(f32(f32(acc) · f32(s_w · s_x))): s_w·s_x of two binary16 values is
// exact (and normal) in binary32, f32(acc) is built exactly from the integer, and the one
// remaining product is a single IEEE multiply of normal values.
fn epilogue(acc: i32, swb: u32, sxb: u32) -> u32 {
  let s = mul(f16_to_f32(swb), f16_to_f32(sxb));
  return f32_to_f16(mul(i32_to_f32(acc), s));
}
