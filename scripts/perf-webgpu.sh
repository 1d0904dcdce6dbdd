#!/usr/bin/env bash
# WebGPU performance (docs/perf/webgpu.md), reproduced by one script.
#
#   scripts/perf-webgpu.sh build    # here: bundle packages/backend-webgpu/bench/perf.ts into .perf/
#   scripts/perf-webgpu.sh run      # on the GPU machine (from the repository root): unpack, run
#   scripts/perf-webgpu.sh local    # here: build, then a quick run on the local adapter (lavapipe)
#
# `build` writes the ignored folder .perf/ (about 30 MB): perf.mjs (the bench and the code it
# imports, bundled by esbuild), node_modules/webgpu (Dawn's index.js and its linux-x64 dawn.node,
# xz-compressed) and node.xz (this machine's Node, xz-compressed: the GPU machine has no Node).
# The GPU machine also needs the Vulkan loader: the device notes' `.gl` recipe (libvulkan1 and
# friends downloaded here as .deb files into .gl/, unpacked there). The device call, with the
# repository's root as working directory, carrying .perf and .gl:
#
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; scripts/perf-webgpu.sh run
#
# `build` also fetches the peer, onnxruntime-web (ORT_WEB_VERSION, default 1.30.0; not a workspace
# dependency), with `npm pack` into .perf/ort (its WebGPU bundle and wasm, xz-compressed); `run`
# then passes `--ort .perf/ort`. Without it (no registry at build time) the peer is left out.
#
# Results: a markdown table on stdout and JSON in $OUT/perf-webgpu.json (or ./perf-webgpu.json).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-build}"
shift || true

build() {
  local dawn
  dawn="$(node -e "const p=require('path');console.log(p.dirname(require.resolve('webgpu/package.json',{paths:['packages/backend-webgpu']})))")"
  npx tsc -b packages/backend-webgpu
  mkdir -p .perf/node_modules/webgpu/dist/linux-x64
  grep -qxF '/.perf/' .git/info/exclude 2>/dev/null || echo '/.perf/' >> .git/info/exclude
  packages/backend-webgpu/node_modules/.bin/esbuild packages/backend-webgpu/bench/perf.ts --bundle --platform=node --format=esm \
    --target=node20 --external:webgpu --outfile=.perf/perf.mjs --log-level=warning
  cp "$dawn/package.json" "$dawn/index.js" .perf/node_modules/webgpu/
  if [ ! -f .perf/node_modules/webgpu/dist/linux-x64/dawn.node.xz ] || [ "$dawn/dist/linux-x64/dawn.node" -nt .perf/node_modules/webgpu/dist/linux-x64/dawn.node.xz ]; then
    xz -T0 -6 -c "$dawn/dist/linux-x64/dawn.node" > .perf/node_modules/webgpu/dist/linux-x64/dawn.node.xz
  fi
  if [ ! -f .perf/node.xz ]; then xz -T0 -6 -c "$(command -v node)" > .perf/node.xz; fi
  fetch_ort || echo "onnxruntime-web not fetched: the peer will be left out" >&2
  # What `run` unpacks stays out of the carried folder (64 MiB at most).
  rm -f .perf/node_modules/webgpu/dist/linux-x64/dawn.node .perf/ort/dist/ort-wasm-simd-threaded.asyncify.wasm
  git rev-parse --short HEAD > .perf/commit
  du -sh .perf
}

fetch_ort() {
  local version="${ORT_WEB_VERSION:-1.30.0}" tmp
  [ -f .perf/ort/version ] && [ "$(cat .perf/ort/version)" = "$version" ] && return 0
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "onnxruntime-web@$version" >/dev/null && tar xzf onnxruntime-web-*.tgz) || { rm -rf "$tmp"; return 1; }
  rm -rf .perf/ort && mkdir -p .perf/ort/dist
  cp "$tmp"/package/dist/ort.webgpu.min.mjs "$tmp"/package/dist/ort-wasm-simd-threaded.asyncify.mjs .perf/ort/dist/
  xz -T0 -6 -c "$tmp"/package/dist/ort-wasm-simd-threaded.asyncify.wasm > .perf/ort/dist/ort-wasm-simd-threaded.asyncify.wasm.xz
  echo "$version" > .perf/ort/version
  rm -rf "$tmp"
}

run() {
  local node=node out="${OUT:-.}"
  if ! command -v node >/dev/null; then
    xz -dc .perf/node.xz > /tmp/node && chmod +x /tmp/node && node=/tmp/node
  fi
  local d=.perf/node_modules/webgpu/dist/linux-x64
  [ -f $d/dawn.node ] || xz -dc $d/dawn.node.xz > $d/dawn.node
  local ort=()
  if [ -f .perf/ort/dist/ort-wasm-simd-threaded.asyncify.wasm.xz ]; then
    [ -f .perf/ort/dist/ort-wasm-simd-threaded.asyncify.wasm ] || xz -dc .perf/ort/dist/ort-wasm-simd-threaded.asyncify.wasm.xz > .perf/ort/dist/ort-wasm-simd-threaded.asyncify.wasm
    ort=(--ort .perf/ort)
  fi
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv || true
  echo "commit $(cat .perf/commit 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%Y-%m-%dT%H:%MZ)"
  # --no-opt: with TurboFan, a hot JS loop before a dispatch crashed Dawn on lavapipe (segfault in the
  # driver threads, 2026-11-27); Maglev still compiles the packing and reference loops.
  "$node" --no-opt .perf/perf.mjs --wgsl "$PWD/kernels/wgsl" --json "$out/perf-webgpu.json" "${ort[@]}" "$@"
}

case "$mode" in
  build) build ;;
  run) run "$@" ;;
  local) build; run --quick "$@" ;;
  *) echo "usage: $0 build|run|local [bench options]" >&2; exit 2 ;;
esac
