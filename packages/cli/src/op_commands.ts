/**
 * `qoq op list` and `qoq op run`.
 * @module
 */
import { getSignature, OP_NAMES, OP_SIGNATURES, ParamError, readSafetensorsFile, writeSafetensorsFile, type ParamSpec, type TensorSpec } from "@qoq/core";
import { openBackend } from "./backends.js";
import { QOQ_REF_VERSION } from "./version.js";

function tensorLine(s: TensorSpec): string {
  const dtype = typeof s.dtype === "string" ? s.dtype : s.dtype.join("|");
  return `${s.name}${s.optional ? "?" : ""}: ${dtype}[${s.shape.join("×")}]  ${s.doc}`;
}

function paramLine(p: ParamSpec): string {
  const range = p.kind === "enum" ? ` one of ${p.values!.join("|")}` : `${p.min !== undefined ? ` ≥ ${p.min}` : ""}${p.max !== undefined ? ` ≤ ${p.max}` : ""}`;
  const def = p.default !== undefined ? ` (default ${p.default})` : " (required)";
  return `${p.name}: ${p.kind}${range}${def}  ${p.doc}`;
}

/** Text of `qoq op list`: every op with its tensors and parameters. */
export function opListText(): string {
  const out: string[] = [];
  for (const name of OP_NAMES) {
    const sig = OP_SIGNATURES[name];
    out.push(`${name} — ${sig.summary}`);
    for (const s of sig.inputs) out.push(`  in   ${tensorLine(s)}`);
    for (const s of sig.outputs) out.push(`  out  ${tensorLine(s)}`);
    for (const p of sig.params) out.push(`  param ${paramLine(p)}`);
    out.push("");
  }
  return out.join("\n");
}

/** JSON of `qoq op list --json`. */
export function opListJson(): string {
  return JSON.stringify(OP_NAMES.map((n) => OP_SIGNATURES[n]), null, 2);
}

/** Parse repeated `key=value` strings into a parameter map. */
export function parseParamArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf("=");
    if (eq <= 0) throw new ParamError(`--param expects key=value, got '${a}'`);
    const key = a.slice(0, eq);
    if (key in out) throw new ParamError(`--param '${key}' given twice`);
    out[key] = a.slice(eq + 1);
  }
  return out;
}

/** `qoq op run`: read inputs, run on a backend, write outputs. Returns the output names written. */
export async function opRun(op: string, inPath: string, outPath: string, backendName: string, paramArgs: readonly string[]): Promise<string[]> {
  const sig = getSignature(op); // unknown op: a typed error before any file is touched
  const params = parseParamArgs(paramArgs);
  const { tensors } = readSafetensorsFile(inPath);
  const backend = await openBackend(backendName);
  try {
    const support = backend.supports(sig.name, params);
    if (support !== "supported") throw new ParamError(`backend '${backendName}' does not support ${op}: ${support.unsupported}`);
    const outputs = await backend.run(sig.name, tensors, params);
    writeSafetensorsFile(outPath, outputs, { op, backend: backendName, params: JSON.stringify(params), numerics: QOQ_REF_VERSION });
    return Object.keys(outputs);
  } finally {
    await backend.dispose();
  }
}
