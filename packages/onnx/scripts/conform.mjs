// Run the oracle's conformance harness (contracts from the op specs) on the onnx-fp16 backend —
// what `qoq conform --backend onnx-fp16` does once the CLI can resolve @qoq/onnx.
// Usage: node scripts/conform.mjs [runs] [seed]
import { runConformance } from "../../oracle/dist/index.js";
import { createOnnxFp16Backend } from "../dist/index.js";

const runs = Number(process.argv[2] ?? 20);
const seed = Number(process.argv[3] ?? 1);
const be = createOnnxFp16Backend();
const t0 = performance.now();
const sums = await runConformance({ backends: [be], runs, seed });
for (const s of sums) {
  console.log(`${s.op.padEnd(22)} ${s.status.padEnd(12)} executed ${String(s.executed).padStart(4)} failed ${s.failed} worstUlp ${s.worstUlp} worstAbs ${s.worstAbs}${s.note ? "  (" + s.note.slice(0, 60) + ")" : ""}`);
  for (const f of s.failures.slice(0, 3)) console.log(`    FAIL ${f.id}: ${f.message}`);
}
console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
await be.dispose();
