/**
 * Golden vectors: small safetensors files, one per case, holding the inputs (`in.<name>`) and
 * the reference outputs (`out.<name>`) of one op call, with the op and parameters in the
 * metadata; a `MANIFEST.sha256` (the `sha256sum` format) lists every file. `verify` proves the
 * reference still reproduces every file byte for byte, and `verifyGoldensOn` that another backend
 * does too.
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { bytesEqual, IoError, OP_NAMES, parseSafetensors, QoqError, serializeSafetensors, type Backend, type NamedTensors, type OpCase, type OpName } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { OP_SPECS } from "./specs/index.js";

/** Name of the manifest file inside the golden directory. */
export const MANIFEST = "MANIFEST.sha256";
/** Numerics version recorded in every golden file. */
export const GOLDEN_NUMERICS = "QoQ-ref v1";

/** The cases kept as goldens: each op's first edge case, plus its extreme-data edge case if it has one. */
export function goldenCases(): OpCase[] {
  const out: OpCase[] = [];
  for (const op of OP_NAMES) {
    const edges = OP_SPECS[op].edgeCases();
    out.push(edges[0]!);
    const extreme = edges.find((c, i) => i > 0 && c.id.includes("data=extremes"));
    if (extreme) out.push(extreme);
  }
  return out;
}

/** File name of a golden case: op directory, then a name made from the case labels. */
export function goldenPath(c: OpCase): string {
  const labels = c.id.slice(c.op.length + 1, -1).replace(/[^\w=.,+-]/g, "_").replace(/,/g, "__");
  return `${c.op}/${labels}.safetensors`;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Serialize one golden case with its reference outputs. */
export function goldenBytes(c: OpCase): Uint8Array {
  const outputs = runReference(c.op, c.inputs, c.params);
  const tensors: NamedTensors = {};
  for (const [k, v] of Object.entries(c.inputs)) tensors[`in.${k}`] = v;
  for (const [k, v] of Object.entries(outputs)) tensors[`out.${k}`] = v;
  return serializeSafetensors(tensors, { op: c.op, id: c.id, params: JSON.stringify(c.params), numerics: GOLDEN_NUMERICS });
}

/** Regenerate every golden file and the manifest in `dir` (old files removed). Returns the manifest lines. */
export function updateGoldens(dir: string): string[] {
  for (const op of OP_NAMES) if (existsSync(join(dir, op))) rmSync(join(dir, op), { recursive: true });
  const lines: string[] = [];
  for (const c of goldenCases()) {
    const rel = goldenPath(c);
    const bytes = goldenBytes(c);
    mkdirSync(join(dir, c.op), { recursive: true });
    writeFileSync(join(dir, rel), bytes);
    lines.push(`${sha256(bytes)}  ${rel}`);
  }
  lines.sort((a, b) => a.slice(66).localeCompare(b.slice(66)));
  writeFileSync(join(dir, MANIFEST), lines.join("\n") + "\n");
  return lines;
}

/** One problem found by {@link verifyGoldens}. */
export interface GoldenProblem {
  /** File (relative to the golden directory). */
  readonly file: string;
  /** What is wrong. */
  readonly problem: string;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".safetensors")) out.push(relative(dir, p).split(sep).join("/"));
    }
  };
  walk(dir);
  return out;
}

/** Runs one golden's op: the reference's `runReference`, or a backend's `run`. */
type GoldenRunner = (op: OpName, inputs: NamedTensors, params: Record<string, number | string>) => NamedTensors | Promise<NamedTensors>;

/**
 * The walk shared by {@link verifyGoldens} and {@link verifyGoldensOn}: manifest and file checks,
 * then each golden's op run by `run` (or skipped when `skip` names a reason) and its outputs
 * compared with the stored ones byte for byte.
 */
async function walkGoldens(
  dir: string,
  run: GoldenRunner,
  skip: (op: OpName, params: Record<string, number | string>) => string | undefined,
): Promise<{ checked: number; problems: GoldenProblem[]; skipped: GoldenProblem[] }> {
  const manifestPath = join(dir, MANIFEST);
  if (!existsSync(manifestPath)) throw new IoError(`no ${MANIFEST} in '${dir}'; run 'qoq golden update' first`);
  const problems: GoldenProblem[] = [];
  const skipped: GoldenProblem[] = [];
  const entries = readFileSync(manifestPath, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(l);
      if (!m) throw new IoError(`${MANIFEST}: malformed line '${l}'`);
      return { hash: m[1]!, file: m[2]! };
    });
  const listed = new Set(entries.map((e) => e.file));
  for (const f of listFiles(dir)) if (!listed.has(f)) problems.push({ file: f, problem: "not in the manifest" });
  const covered = new Set<string>();
  let checked = 0;
  for (const { hash, file } of entries) {
    const path = join(dir, file);
    if (!existsSync(path)) {
      problems.push({ file, problem: "listed in the manifest but missing" });
      continue;
    }
    const bytes = readFileSync(path);
    if (sha256(bytes) !== hash) problems.push({ file, problem: "sha256 differs from the manifest" });
    try {
      const { tensors, metadata } = parseSafetensors(bytes);
      const op = metadata.op as OpName;
      const params = JSON.parse(metadata.params ?? "{}") as Record<string, number | string>;
      const inputs: NamedTensors = {};
      const stored: NamedTensors = {};
      for (const [k, v] of Object.entries(tensors)) {
        if (k.startsWith("in.")) inputs[k.slice(3)] = v;
        else if (k.startsWith("out.")) stored[k.slice(4)] = v;
      }
      covered.add(op);
      const why = skip(op, params);
      if (why !== undefined) {
        skipped.push({ file, problem: why });
        continue;
      }
      const outputs = await run(op, inputs, params);
      const names = new Set([...Object.keys(outputs), ...Object.keys(stored)]);
      for (const n of names) {
        if (!outputs[n] || !stored[n] || !bytesEqual(outputs[n]!, stored[n]!)) problems.push({ file, problem: `output '${n}' no longer reproduced byte for byte` });
      }
      checked++;
    } catch (e) {
      if (!(e instanceof QoqError)) throw e;
      problems.push({ file, problem: e.message });
    }
  }
  for (const op of OP_NAMES) if (!covered.has(op)) problems.push({ file: `${op}/`, problem: "op has no golden vector" });
  return { checked, problems, skipped };
}

/**
 * Check every golden: manifest hash matches, the reference reproduces the stored outputs byte for
 * byte, every op has a golden, and no file is missing from or extra to the manifest.
 */
export async function verifyGoldens(dir: string): Promise<{ checked: number; problems: GoldenProblem[] }> {
  const { checked, problems } = await walkGoldens(dir, (op, inputs, params) => runReference(op, inputs, params), () => undefined);
  return { checked, problems };
}

/**
 * {@link verifyGoldens} on another backend: every golden whose op `backend` supports is run there
 * and must reproduce the stored (reference) outputs byte for byte; the others are listed in
 * `skipped` with the backend's reason. Manifest and coverage problems are reported as by
 * {@link verifyGoldens}.
 */
export async function verifyGoldensOn(dir: string, backend: Backend): Promise<{ checked: number; problems: GoldenProblem[]; skipped: GoldenProblem[] }> {
  return walkGoldens(
    dir,
    (op, inputs, params) => backend.run(op, inputs, params),
    (op, params) => {
      const s = backend.supports(op, params);
      return s === "supported" ? undefined : `unsupported by ${backend.name}: ${s.unsupported}`;
    },
  );
}
