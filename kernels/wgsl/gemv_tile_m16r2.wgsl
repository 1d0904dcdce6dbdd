// Tile of gemv_w4a8.wgsl: 16 token(s) per workgroup, 2 weight row(s) per invocation.
const MT: u32 = 16u;
const R: u32 = 2u;
