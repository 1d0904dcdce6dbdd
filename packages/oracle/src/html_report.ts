/**
 * The HTML report of `qoq conform --html DIR`: one self-contained `index.html` (Chart.js and the
 * run's {@link ConformReport} JSON inlined; no network) with the ops × backends table, per-op
 * error and ULP-distribution charts per backend, and model-level sections (per-layer error,
 * perplexity) that render when the report carries model results.
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { QoqError } from "@qoq/core";
import type { ConformReport } from "./report_json.js";
import { ULP_BUCKETS } from "./runner.js";

/** The report cannot be written (Chart.js missing from node_modules, or an unwritable directory). */
export class ReportError extends QoqError {
  constructor(message: string) {
    super("io", message);
    this.name = "ReportError";
  }
}

/** The source of Chart.js's UMD bundle, read from the installed `chart.js` package. */
export function chartJsSource(): string {
  try {
    const main = createRequire(import.meta.url).resolve("chart.js"); // …/chart.js/dist/chart.cjs
    return readFileSync(join(dirname(main), "chart.umd.min.js"), "utf8");
  } catch (e) {
    throw new ReportError(`cannot read Chart.js's UMD bundle from the chart.js package: ${(e as Error).message}`);
  }
}

/** Escape text for HTML. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a `<script>` element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function fmt(x: number): string {
  return x === 0 ? "0" : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

function tableHtml(report: ConformReport): string {
  const ops = [...new Set(report.summaries.map((s) => s.op))];
  const backends = report.backends;
  const head = `<tr><th>op</th>${backends.map((b) => `<th>${esc(b)}</th>`).join("")}</tr>`;
  const rows = ops.map((op) => {
    const cells = backends.map((b) => {
      const s = report.summaries.find((x) => x.op === op && x.backend === b);
      if (!s) return `<td class="none">–</td>`;
      if (s.status === "unsupported") return `<td class="unsupported" title="${esc(s.note ?? "")}">unsupported</td>`;
      const c = report.contracts[op]?.[b];
      const contract = c === undefined || c.kind === "exact" ? "exact" : c.name;
      const err = s.worstUlp > 0 || s.worstAbs > 0 ? `${fmt(s.worstUlp)} ulp, |Δ| ${fmt(s.worstAbs)}` : "bit-exact";
      const mark = s.status === "pass" ? "✓" : "✗";
      return `<td class="${s.status}" title="${esc(s.note ?? "")}"><span class="mark">${mark}</span> ${s.executed} cases${s.failed > 0 ? `, ${s.failed} failed` : ""}<br><small>${esc(err)} · ${esc(contract)}</small></td>`;
    });
    return `<tr data-op="${esc(op)}"><th scope="row">${esc(op)}</th>${cells.join("")}</tr>`;
  });
  return `<table id="matrix"><thead>${head}</thead><tbody>${rows.join("\n")}</tbody></table>`;
}

function failuresHtml(report: ConformReport): string {
  if (report.failures.length === 0) return `<p class="ok">No failures.</p>`;
  return `<ul class="failures">${report.failures
    .slice(0, 200)
    .map((f) => `<li><b>${esc(f.id || f.op)}</b> on ${esc(f.backend)}: ${esc(f.message)}${f.replay ? `<br><code>${esc(f.replay)}</code>` : ""}</li>`)
    .join("\n")}</ul>`;
}

const CLIENT = String.raw`
(function () {
  const report = JSON.parse(document.getElementById("qoq-data").textContent);
  const buckets = JSON.parse(document.getElementById("qoq-buckets").textContent);
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  Chart.defaults.font.size = 11;
  const palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666", "#1f78b4"];
  const bucketColors = ["#2ca25f", "#99d8c9", "#c7e9b4", "#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026", "#54278f"];
  const ops = [...new Set(report.summaries.map((s) => s.op))];
  let rendered = 0;
  function canvas(parent, id, title, w, h) {
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = title;
    const c = document.createElement("canvas");
    c.id = id; c.width = w; c.height = h; c.dataset.chart = id;
    fig.appendChild(cap); fig.appendChild(c); parent.appendChild(fig);
    return c;
  }
  function draw(c, config) { new Chart(c, config); rendered++; }
  const opsEl = document.getElementById("op-charts");
  report.backends.forEach((b, bi) => {
    const sums = ops.map((op) => report.summaries.find((s) => s.op === op && s.backend === b));
    const sec = document.createElement("section");
    sec.innerHTML = "<h3></h3>";
    sec.querySelector("h3").textContent = "Backend " + b;
    opsEl.appendChild(sec);
    // Per-op error: every executed value case's largest |Δ| as a point, per op, on a log scale;
    // exact cases (|Δ| = 0) sit on a floor line labelled 0.
    const exact = [], inexact = [];
    let minPos = Infinity;
    sums.forEach((s) => { if (s) s.caseMaxAbs.forEach((a) => { if (a > 0 && a < minPos) minPos = a; }); });
    const floor = Number.isFinite(minPos) ? Math.pow(10, Math.floor(Math.log10(minPos)) - 1) : 1e-6;
    sums.forEach((s, i) => { if (s) s.caseMaxAbs.forEach((a, j) => (a > 0 ? inexact : exact).push({ x: i + ((j * 37) % 11 - 5) * 0.05, y: a > 0 ? a : floor })); });
    draw(canvas(sec, "err-" + bi, b + ": largest |Δ| of each case, per op (" + (exact.length + inexact.length) + " cases, " + exact.length + " bit-exact)", 1100, 320), {
      type: "scatter",
      data: { datasets: [
        { label: "|Δ| = 0 (bit-exact)", data: exact, pointRadius: 3, backgroundColor: "#2ca25f" },
        { label: "|Δ| > 0", data: inexact, pointRadius: 3, backgroundColor: palette[(bi + 1) % palette.length] },
      ] },
      options: { scales: {
        x: { type: "linear", min: -0.5, max: ops.length - 0.5, afterBuildTicks: (axis) => { axis.ticks = ops.map((_, i) => ({ value: i })); }, ticks: { autoSkip: false, maxRotation: 60, minRotation: 60, callback: (v) => ops[v] ?? "" } },
        y: { type: "logarithmic", min: floor, afterBuildTicks: (axis) => { axis.ticks = axis.ticks.filter((t) => Math.abs(Math.log10(t.value) - Math.round(Math.log10(t.value))) < 1e-9); }, ticks: { callback: (v) => (v <= floor ? "0" : Number(v).toExponential(0)) }, title: { display: true, text: "|reference − backend| (log)" } },
      } },
    });
    // ULP distribution: cases per op stacked by the bucket of their largest ULP distance.
    draw(canvas(sec, "ulp-" + bi, b + ": cases per op by largest ULP distance", 1100, 340), {
      type: "bar",
      data: { labels: ops, datasets: buckets.map((bk, k) => ({ label: bk.label + " ulp", data: sums.map((s) => (s ? s.ulpHistogram[k] : 0)), backgroundColor: bucketColors[k % bucketColors.length], stack: "u" })) },
      options: { scales: { x: { stacked: true, ticks: { autoSkip: false, maxRotation: 60, minRotation: 60 } }, y: { stacked: true, title: { display: true, text: "value cases" } } }, plugins: { legend: { position: "right" } } },
    });
  });
  const models = report.models || [];
  const mEl = document.getElementById("model-charts");
  if (models.length > 0) {
    const layered = models.filter((m) => Array.isArray(m.perLayerError) && m.perLayerError.length > 0);
    if (layered.length > 0) {
      const n = Math.max(...layered.map((m) => m.perLayerError.length));
      draw(canvas(mEl, "layers", "Error through the model, per layer (" + (layered[0].perLayerMetric || "error") + ")", 1100, 320), {
        type: "line",
        data: { labels: Array.from({ length: n }, (_, i) => "layer " + i), datasets: layered.map((m, i) => ({ label: m.name + " · " + m.backend + " · " + m.precision, data: m.perLayerError, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length] })) },
        options: { scales: { y: { type: "logarithmic", title: { display: true, text: layered[0].perLayerMetric || "error" } } } },
      });
    }
    const withPpl = models.filter((m) => typeof m.ppl === "number");
    if (withPpl.length > 0) {
      draw(canvas(mEl, "ppl", "Perplexity (lower is better)", 1100, 300), {
        type: "bar",
        data: { labels: withPpl.map((m) => m.name + " · " + m.backend + " · " + m.precision), datasets: [
          { label: "this run", data: withPpl.map((m) => m.ppl), backgroundColor: "#d95f02" },
          { label: "comparison (e.g. FP16 ONNX)", data: withPpl.map((m) => (typeof m.pplReference === "number" ? m.pplReference : null)), backgroundColor: "#7570b3" },
        ] },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: "perplexity" } } } },
      });
    }
  }
  document.body.dataset.chartsRendered = String(rendered);
})();
`;

function modelsHtml(report: ConformReport): string {
  if (report.models.length === 0) return `<p class="muted">No model-level results in this run (the <code>models</code> array of the JSON is empty).</p>`;
  const num = (x: number | undefined, d = 4) => (x === undefined ? "–" : String(Number(x.toPrecision(d))));
  const rows = report.models.map(
    (m) =>
      `<tr><td>${esc(m.name)}</td><td>${esc(m.backend)}</td><td>${esc(m.precision)}</td><td>${num(m.ppl)}</td><td>${num(m.pplReference)}</td><td>${num(m.logitCosine, 6)}</td><td>${num(m.kl)}</td><td>${m.top1 === undefined ? "–" : `${(m.top1 * 100).toFixed(1)}%`}</td></tr>`,
  );
  return `<table id="models"><thead><tr><th>model</th><th>backend</th><th>precision</th><th>ppl</th><th>ppl (comparison)</th><th>logit cosine</th><th>KL</th><th>top-1</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** Render the self-contained HTML report of a conformance run. */
export function renderHtmlReport(report: ConformReport): string {
  const pass = report.summaries.filter((s) => s.status === "pass").length;
  const fail = report.summaries.filter((s) => s.status === "fail").length;
  const unsup = report.summaries.filter((s) => s.status === "unsupported").length;
  const cases = report.summaries.reduce((a, s) => a + s.executed, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>qoq conform — ${esc(report.date)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 4px} h2{margin-top:32px;border-bottom:1px solid #ddd} .muted{color:#777}
table{border-collapse:collapse;margin:8px 0} th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.pass{background:#eafaf0} td.fail{background:#fdecea} td.unsupported{background:#f3f3f3;color:#777} .mark{font-weight:bold}
td.pass .mark{color:#1a7f37} td.fail .mark{color:#c62828} small{color:#555}
.summary span{margin-right:16px} figure{margin:12px 0} figcaption{font-weight:600;margin-bottom:4px}
code{background:#f5f5f5;padding:1px 4px} ul.failures li{margin-bottom:6px}
</style></head>
<body>
<h1>qoq conform</h1>
<div class="muted">${esc(report.version)} · ${esc(report.numerics)} · commit ${esc(report.commit.slice(0, 12))} · ${esc(report.date)} · seed ${report.seed} · ${report.runs} random case(s) per op</div>
<p class="summary"><span>backends: <b>${esc(report.backends.join(", "))}</b></span><span>${cases} cases</span><span>✓ ${pass}</span><span>✗ ${fail}</span><span>unsupported ${unsup}</span><span>goldens: ${report.goldens.checked} checked, ${report.goldens.problems} problem(s)</span></p>
${report.unavailable.length > 0 ? `<p>Could not start: ${report.unavailable.map((u) => `<b>${esc(u.name)}</b> (${esc(u.reason)})`).join(", ")}</p>` : ""}
<h2>Ops × backends</h2>
${tableHtml(report)}
<h2>Failures</h2>
${failuresHtml(report)}
<h2>Error distributions per op</h2>
<p class="muted">Each point is one executed value case: the largest absolute difference from the reference over its outputs. The bars count cases by their largest distance in ULPs of each output's own format (binary16 ULPs for binary16 outputs, binary32 ULPs for binary32 outputs); integer outputs count as 0 ULP.</p>
<div id="op-charts"></div>
<h2>Model-level results</h2>
${modelsHtml(report)}
<div id="model-charts"></div>
<script type="application/json" id="qoq-data">${scriptJson(report)}</script>
<script type="application/json" id="qoq-buckets">${scriptJson(ULP_BUCKETS.map((b) => ({ label: b.label })))}</script>
<script>${chartJsSource()}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

/** Write `DIR/index.html`; returns its path. */
export function writeHtmlReport(dir: string, report: ConformReport): string {
  const path = join(dir, "index.html");
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, renderHtmlReport(report));
  } catch (e) {
    if (e instanceof QoqError) throw e;
    throw new ReportError(`cannot write the HTML report to ${path}: ${(e as Error).message}`);
  }
  return path;
}
