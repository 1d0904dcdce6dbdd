/**
 * Facts about where a run happened, written into JSON results: the commit and the device.
 * @module
 */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** `git rev-parse HEAD` of the tree this CLI runs from, or `unknown` (no git, not a checkout). */
export function currentCommit(): string {
  try {
    const r = spawnSync("git", ["rev-parse", "HEAD"], { cwd: dirname(fileURLToPath(import.meta.url)), encoding: "utf8", timeout: 5000 });
    const out = r.status === 0 ? r.stdout.trim() : "";
    return /^[0-9a-f]{40,64}$/.test(out) ? out : "unknown";
  } catch {
    return "unknown";
  }
}

/** The host CPU's model name (the device of CPU backends), or `unknown`. */
export function cpuModel(): string {
  return cpus()[0]?.model.trim() || "unknown";
}
