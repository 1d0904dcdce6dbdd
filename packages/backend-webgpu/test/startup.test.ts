/**
 * Without a Vulkan driver the factory must fail with a typed error whose message is one line
 * saying why (checked in a child process whose Vulkan loader is pointed at no driver), and the
 * adapter report must name the features the kernels care about.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

describe("backend start-up", () => {
  it("reports a missing adapter as WebGpuUnavailableError with a one-line reason", () => {
    expect(existsSync(dist), "build the package first (npx tsc -b)").toBe(true);
    const script = `import { createWebGpuBackend } from ${JSON.stringify(dist)};
try { const b = await createWebGpuBackend(); await b.dispose(); console.log(JSON.stringify({ started: true })); }
catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent/qoq-no-driver.json", VK_DRIVER_FILES: "/nonexistent/qoq-no-driver.json" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const last = JSON.parse(out.trim().split("\n").pop()!) as { name: string; code: string; message: string };
    expect(last.name).toBe("WebGpuUnavailableError");
    expect(last.code).toBe("unsupported");
    expect(last.message).not.toContain("\n");
    expect(last.message).toMatch(/^no WebGPU adapter: install mesa-vulkan-drivers from bookworm-backports/);
  });
});
