/** The WGSL sources of `kernels/wgsl/`, embedded by `browser/build.mjs`: file name → text. */
declare module "qoq:wgsl" {
  const files: Readonly<Record<string, string>>;
  export default files;
}
