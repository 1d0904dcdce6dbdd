// Perplexity throughput of stories260K W4A8KV4 on the cpu and reference backends, interleaved
// in one process: node scripts/bench-ppl.mjs [dataDir] [maxChars] [rounds]. Prints tokens/s per
// run and the median ratio. Built packages (pnpm build) are required.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createReferenceBackend } from "@qoq/reference";
import { createW4A8KV4Model, loadLlama2cBin, loadTokenizer, perplexity } from "@qoq/model";
import { createCpuBackend } from "@qoq/backend-cpu";

const dir = process.argv[2] || join(import.meta.dirname, "../../../../shared/data");
const maxChars = Number(process.argv[3] ?? 3000);
const rounds = Number(process.argv[4] ?? 3);
const w = loadLlama2cBin(join(dir, "stories260K.bin"));
const tok = loadTokenizer(join(dir, "tok512.bin"), w.config.vocabSize);
const text = readFileSync(join(dir, "tinystories_val.txt"), "utf8");
const backends = { reference: createReferenceBackend, cpu: createCpuBackend };
const rates = { reference: [], cpu: [] };
const ppls = new Set();
for (let r = 0; r < rounds; r++) {
  for (const [name, make] of Object.entries(backends)) {
    const model = createW4A8KV4Model(w, { backend: make() });
    await model.quantized();
    const t0 = performance.now();
    const res = await perplexity(model, tok, text, { maxChars });
    const s = (performance.now() - t0) / 1000;
    rates[name].push(res.tokens / s);
    ppls.add(res.ppl);
    console.log(`${name.padEnd(9)} round ${r}: ${res.tokens} tokens in ${s.toFixed(2)} s = ${(res.tokens / s).toFixed(1)} tokens/s, ppl ${res.ppl}`);
  }
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`median tokens/s: reference ${med(rates.reference).toFixed(1)}, cpu ${med(rates.cpu).toFixed(1)}; speedup ${(med(rates.cpu) / med(rates.reference)).toFixed(2)}x; identical ppl: ${ppls.size === 1}`);
