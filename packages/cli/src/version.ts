/**
 * Version strings written into files the CLI produces.
 * @module
 */

/** Version of the numerics contract the reference implements (DESIGN.md §3.5). */
export const QOQ_REF_VERSION = "QoQ-ref v1";
/** Version of the qoq packages. */
export const QOQ_VERSION = "0.1.0";
