// Measure the onnx-fp16 backend's worst errors per op and output against the reference, on the
// oracle's cases (edge + `runs` random, seeds as `qoq conform`). Usage: node scripts/measure.mjs [runs] [seed] [op]
import { OP_NAMES, QoqError } from "@qoq/core";
import { runReference } from "@qoq/reference";
import { createOnnxFp16Backend } from "../dist/index.js";
import { OP_SPECS, planCases, compareTensor } from "../../oracle/dist/index.js";

const runs = Number(process.argv[2] ?? 20);
const seed = Number(process.argv[3] ?? 1);
const only = process.argv[4];
const be = createOnnxFp16Backend();
const probe = { kind: "tolerance", name: "probe", why: "measure" };
for (const op of OP_NAMES) {
  if (only && op !== only) continue;
  if (be.supports(op, {}) !== "supported") continue;
  const stats = {};
  let n = 0, errOk = 0, errBad = [];
  for (const pc of planCases(OP_SPECS[op], OP_NAMES.indexOf(op), runs, seed)) {
    if (pc.kind === "error") {
      try { await be.run(op, pc.c.inputs, pc.c.params); errBad.push(pc.label + " accepted"); } catch (e) { if (e instanceof QoqError) errOk++; else errBad.push(pc.label + " " + e); }
      continue;
    }
    let want;
    try { want = runReference(op, pc.c.inputs, pc.c.params); } catch (e) {
      try { await be.run(op, pc.c.inputs, pc.c.params); errBad.push(pc.c.id + " ref-rejected but accepted"); } catch (e2) { if (e2 instanceof QoqError) errOk++; else errBad.push(String(e2)); }
      continue;
    }
    const got = await be.run(op, pc.c.inputs, pc.c.params);
    n++;
    for (const name of Object.keys(want)) {
      const c = compareTensor(name, want[name], got[name], probe);
      const s = (stats[name] ??= { ulp: 0, abs: 0, nmse: 0, mism: 0, worstAbsCase: "", fail: [] });
      if (!c.ok) s.fail.push(`${pc.c.id}: ${c.reason}`);
      if (c.maxAbs > s.abs) { s.abs = c.maxAbs; s.worstAbsCase = pc.c.id; }
      s.ulp = Math.max(s.ulp, c.maxUlp); s.nmse = Math.max(s.nmse, c.nmse); s.mism += c.mismatches;
    }
  }
  console.log(`${op}: ${n} value cases, ${errOk} rejected as required${errBad.length ? ", BAD: " + errBad.join("; ") : ""}`);
  for (const [k, s] of Object.entries(stats)) console.log(`  ${k}: maxUlp ${s.ulp} maxAbs ${s.abs} (${s.worstAbsCase}) maxNmse ${s.nmse.toExponential(3)} mismatches ${s.mism}${s.fail.length ? " FAIL " + s.fail.slice(0, 3).join(" | ") : ""}`);
}
await be.dispose();
