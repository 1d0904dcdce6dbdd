// Builds the browser conformance page of @qoq/backend-webgpu with esbuild:
//   node browser/build.mjs [outdir]        (default: browser/dist, ignored by git)
// writes <outdir>/index.html and <outdir>/page.js. The page (browser/page.ts) starts the backend
// on navigator.gpu and runs @qoq/oracle's conformance suite against the reference, in the page.
// The WGSL sources of kernels/wgsl/ are embedded in the bundle through the virtual module
// `qoq:wgsl` (a map from file name to text), read from QOQ_WGSL_DIR when set. Node built-ins have
// no place in a page: the one the workspace packages import on paths the page never calls (core's
// safetensors file helpers import node:fs) is replaced by a stub that throws; any other Node
// import fails the build.
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
// As in Node (src/kernels.ts): QOQ_WGSL_DIR if set, else kernels/wgsl of this repository.
const wgslDir = process.env.QOQ_WGSL_DIR ? resolve(process.env.QOQ_WGSL_DIR) : resolve(here, "../../../kernels/wgsl");

/** Named exports of the stubbed Node modules (an import of any other name fails the build). */
const NODE_STUBS = { "node:fs": ["readFileSync", "writeFileSync"] };

const plugin = {
  name: "qoq-browser",
  setup(b) {
    b.onResolve({ filter: /^qoq:wgsl$/ }, (a) => ({ path: a.path, namespace: "qoq-wgsl" }));
    b.onLoad({ filter: /.*/, namespace: "qoq-wgsl" }, () => {
      const files = Object.fromEntries(
        readdirSync(wgslDir)
          .filter((f) => f.endsWith(".wgsl"))
          .sort()
          .map((f) => [f, readFileSync(join(wgslDir, f), "utf8")]),
      );
      return { contents: `export default ${JSON.stringify(files)};`, loader: "js", watchDirs: [wgslDir] };
    });
    b.onResolve({ filter: /^node:/ }, (a) => {
      if (!(a.path in NODE_STUBS)) return { errors: [{ text: `${a.path} is imported by ${a.importer}: Node modules cannot run in the page (import a browser-safe entry instead)` }] };
      return { path: a.path, namespace: "node-stub" };
    });
    b.onLoad({ filter: /.*/, namespace: "node-stub" }, (a) => ({
      contents: NODE_STUBS[a.path].map((n) => `export function ${n}() { throw new Error(${JSON.stringify(`${a.path} ${n}() is not available in the browser`)}); }`).join("\n"),
      loader: "js",
    }));
  },
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>qoq: WebGPU conformance in the browser</title></head>
<body>
<h1>qoq: WebGPU backend vs the reference, in this browser</h1>
<p>Query parameters: <code>runs</code> (random cases per op), <code>seed</code>, <code>ops</code> (comma-separated op names), <code>planted=0</code> to skip the planted-bug checks.</p>
<pre id="log">running…</pre>
<script type="module" src="page.js"></script>
</body>
</html>
`;

/** Build the page into `outdir`; returns the paths written. */
export async function buildBrowserPage(outdir = join(here, "dist")) {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(here, "page.ts")],
    outfile: join(outdir, "page.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    sourcemap: "inline",
    legalComments: "none",
    logLevel: "warning",
    plugins: [plugin],
  });
  writeFileSync(join(outdir, "index.html"), PAGE);
  return { html: join(outdir, "index.html"), js: join(outdir, "page.js") };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildBrowserPage(process.argv[2] !== undefined ? resolve(process.argv[2]) : undefined);
  console.log(`wrote ${out.html} and ${out.js}`);
}
