// Tile of gemv_w4a8.wgsl: 1 token(s) per workgroup, 1 weight row(s) per invocation.
const MT: u32 = 1u;
const R: u32 = 1u;
