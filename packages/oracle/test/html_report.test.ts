/// <reference lib="dom" />
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReferenceBackend } from "@qoq/reference";
import { buildConformReport, plantedBugs, renderHtmlReport, runConformance, writeHtmlReport, type ConformReport, type ModelResult } from "../src/index.js";

const CHROMIUM = "/usr/bin/chromium";
const tmp = mkdtempSync(join(tmpdir(), "qoq-html-"));
let server: Server | undefined;
let browser: Browser | undefined;
let report: ConformReport;
let url = "";

/** Model results shaped as the model-level checks will write them (fixture values, not measurements). */
const MODELS: ModelResult[] = [
  { name: "synthetic", backend: "reference", precision: "W4A8KV4", ppl: 12.4, pplReference: 11.9, logitCosine: 0.9987, kl: 0.012, top1: 0.94, perLayerError: [1e-5, 3e-5, 8e-5, 2e-4], perLayerMetric: "NMSE of the residual stream" },
  { name: "stories260K", backend: "reference", precision: "W4A8KV4", ppl: 9.1, pplReference: 8.7, perLayerError: [2e-5, 6e-5, 1e-4, 3e-4, 5e-4], perLayerMetric: "NMSE of the residual stream" },
];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the HTML report test needs Debian's chromium. Install it with 'sudo scripts/install-system-deps.sh' (as root), then rerun.`);
  }
  const bug = plantedBugs().find((b) => b.name === "bug-rounding")!;
  const reference = createReferenceBackend();
  const summaries = [
    ...(await runConformance({ backends: [reference, bug.backend], filter: "quant_act", runs: 2, seed: 5 })),
    ...(await runConformance({ backends: [reference, bug.backend], filter: "residual_add", runs: 3, seed: 5 })),
    ...(await runConformance({ backends: [reference, bug.backend], filter: "dequant_kv4", runs: 2, seed: 5 })),
  ];
  report = buildConformReport({ version: "test", numerics: "QoQ-ref v1", commit: "unknown", seed: 5, runs: 2, backends: [reference.name, bug.name], summaries, models: MODELS });
  writeHtmlReport(tmp, report);
  const html = readFileSync(join(tmp, "index.html"));
  server = createServer((req, res) => {
    if (req.url === "/" || req.url === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

describe("the HTML report", () => {
  it("is self-contained: Chart.js and the data inline, no external URL", () => {
    const html = renderHtmlReport(report);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('id="qoq-data"');
    expect(html).toMatch(/Chart\.js v4\.6\.1/);
  });

  it("renders in headless Chromium: a table row per op, every chart canvas drawn, no request leaves the page", async () => {
    const page = await browser!.newPage({ viewport: { width: 1250, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.chartsRendered !== undefined, undefined, { timeout: 120_000 });
    expect(errors).toEqual([]);
    expect(requests.filter((u) => u !== url)).toEqual([]);

    const ops = [...new Set(report.summaries.map((s) => s.op))];
    const rowOps = await page.$$eval("#matrix tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-op")));
    expect(rowOps).toEqual(ops);
    const failCells = await page.$$eval("#matrix td.fail", (tds) => tds.length);
    expect(failCells).toBe(1); // bug-rounding on residual_add

    // Two charts per backend, plus the per-layer and perplexity charts of the model section.
    const expected = report.backends.length * 2 + 2;
    expect(Number(await page.evaluate(() => document.body.dataset.chartsRendered))).toBe(expected);
    const inked = await page.$$eval("canvas", (cs) =>
      cs.map((c) => {
        const ctx = (c as HTMLCanvasElement).getContext("2d")!;
        const { data } = ctx.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height);
        let ink = 0;
        let colored = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3]! > 0) ink++;
          // A saturated pixel: bars, points or lines, not just black text and grey grid.
          if (data[i + 3]! > 0 && Math.max(data[i]!, data[i + 1]!, data[i + 2]!) - Math.min(data[i]!, data[i + 1]!, data[i + 2]!) > 60) colored++;
        }
        return { id: c.id, ink, colored };
      }),
    );
    expect(inked.length).toBe(expected);
    for (const c of inked) {
      expect(c.ink, `canvas ${c.id} is blank`).toBeGreaterThan(2000);
      expect(c.colored, `canvas ${c.id} has axes but no data drawn`).toBeGreaterThan(50);
    }
    const shot = process.env.QOQ_REPORT_SCREENSHOT;
    if (shot) writeFileSync(shot, await page.screenshot({ fullPage: true }));
    await page.close();
  });

  it("without model results the model section says so and draws no model chart", async () => {
    const bare = { ...report, models: [] };
    const dir = join(tmp, "bare");
    writeHtmlReport(dir, bare);
    const page = await browser!.newPage();
    await page.setContent(readFileSync(join(dir, "index.html"), "utf8"));
    await page.waitForFunction(() => document.body.dataset.chartsRendered !== undefined, undefined, { timeout: 120_000 });
    expect(Number(await page.evaluate(() => document.body.dataset.chartsRendered))).toBe(report.backends.length * 2);
    expect(await page.textContent("body")).toContain("No model-level results in this run");
    await page.close();
  });
});
