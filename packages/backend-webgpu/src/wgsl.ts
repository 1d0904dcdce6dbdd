/**
 * Composing the WGSL module of a kernel from its source files, wherever the files come from:
 * read from `kernels/wgsl/` in Node ({@link readWgsl}), or embedded in a browser bundle (a map
 * from file name to text). Each module is the prelude (`common.wgsl`), the INT8 dot-product
 * helpers (`dot_builtin.wgsl` with the `packed_4x8_integer_dot_product` language feature,
 * `dot_fallback.wgsl` without), the subgroup helpers (`subgroup_on.wgsl` after `enable subgroups;`
 * when the device has the feature and the backend uses it, `subgroup_off.wgsl` otherwise), the
 * op's includes and the op's kernel.
 * @module
 */
import { IoError } from "@qoq/core";

/** Where WGSL sources come from: the text of a file of `kernels/wgsl/` by its name (e.g. `common.wgsl`). */
export type WgslSource = (file: string) => string;

/** A {@link WgslSource} over a map from file name to WGSL text; a file not in the map is an `IoError`. */
export function wgslFromMap(files: Readonly<Record<string, string>>): WgslSource {
  return (file) => {
    const text = Object.prototype.hasOwnProperty.call(files, file) ? files[file] : undefined;
    if (text === undefined) throw new IoError(`webgpu: no WGSL source '${file}' among the ${Object.keys(files).length} embedded file(s)`);
    return text;
  };
}

/**
 * The full WGSL module of a kernel: prelude, dot-product helpers, subgroup helpers, includes,
 * kernel. `subgroups` selects `subgroup_on.wgsl` (the module then enables the `subgroups`
 * extension, so the device must have been created with that feature) or `subgroup_off.wgsl`.
 */
export function composeModule(kernel: string, includes: readonly string[], dot4: boolean, source: WgslSource, subgroups = false): string {
  const parts = [
    dot4 ? "requires packed_4x8_integer_dot_product;\n" : "",
    subgroups ? "enable subgroups;\n" : "",
    source("common.wgsl"),
    source(dot4 ? "dot_builtin.wgsl" : "dot_fallback.wgsl"),
    source(subgroups ? "subgroup_on.wgsl" : "subgroup_off.wgsl"),
    ...includes.map((f) => source(f)),
    source(kernel),
  ];
  return parts.join("\n");
}
