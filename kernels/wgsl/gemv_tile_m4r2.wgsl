// Tile of gemv_w4a8.wgsl: 4 token(s) per workgroup, 2 weight row(s) per invocation.
const MT: u32 = 4u;
const R: u32 = 2u;
