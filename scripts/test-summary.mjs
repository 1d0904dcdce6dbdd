// Adds up every package's vitest JSON results and prints one closing line:
// "tests: N passed, M failed". Exits non-zero if a package has no results, any test failed, or
// vitest caught an error outside the tests (.vitest-errors.json, from vitest-errors-reporter.mjs);
// each such error counts as one failure and is named.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
let passed = 0;
let failed = 0;
let missing = [];
for (const pkg of readdirSync(join(root, "packages"))) {
  const file = join(root, "packages", pkg, ".vitest-results.json");
  if (!existsSync(join(root, "packages", pkg, "test"))) continue;
  if (!existsSync(file)) {
    missing.push(pkg);
    continue;
  }
  const r = JSON.parse(readFileSync(file, "utf8"));
  const errorsFile = join(root, "packages", pkg, ".vitest-errors.json");
  const outside = existsSync(errorsFile) ? JSON.parse(readFileSync(errorsFile, "utf8")) : [];
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0) + outside.length;
  const errors = outside.length > 0 ? `, ${outside.length} error(s) outside tests` : "";
  console.log(`${pkg}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped${errors}`);
  for (const message of outside) console.log(`  ${pkg}: error outside tests: ${message.split("\n")[0]}`);
}
for (const pkg of missing) console.log(`${pkg}: no test results (the package's tests did not run)`);
console.log(`tests: ${passed} passed, ${failed + missing.length} failed`);
process.exit(failed + missing.length > 0 || passed === 0 ? 1 : 0);
