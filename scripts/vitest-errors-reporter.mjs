// Vitest fails a run on an error raised outside any test (an unhandled rejection, a worker's RPC
// timing out) even when every test passed, and its JSON report has no field for such errors.
// This reporter writes their messages to .vitest-errors.json beside it, so that
// scripts/test-summary.mjs counts them and names them instead of printing "0 failed".
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export default class ErrorsOutsideTestsReporter {
  onInit(vitest) {
    this.root = vitest.config.root;
  }

  onTestRunEnd(_testModules, unhandledErrors) {
    const messages = unhandledErrors.map((e) => String(e?.message ?? e));
    writeFileSync(join(this.root, ".vitest-errors.json"), `${JSON.stringify(messages)}\n`);
  }
}
