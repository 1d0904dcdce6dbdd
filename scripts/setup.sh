#!/usr/bin/env bash
# Sourced by the README's commands: makes sure Node, pnpm, the packages and the build are in place.
# Idempotent and quick when everything is already there.
set -euo pipefail
QOQ_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="12.4.2"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
# onnxruntime-node's install script would try to download GPU providers from a host we cannot reach.
export ONNXRUNTIME_NODE_INSTALL=skip

if ! command -v node >/dev/null 2>&1; then
  echo "qoq: Node.js 20 or newer is required and was not found on PATH" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "qoq: Node.js 20 or newer is required, found $(node --version)" >&2
  exit 1
fi

# pnpm: the pinned version from the npm registry (global install when we may, npx otherwise).
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
  PNPM=(pnpm)
elif npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
  PNPM=(pnpm)
else
  PNPM=(npx -y "pnpm@$PNPM_VERSION")
fi

cd "$QOQ_ROOT"
# The Vulkan driver for WebGPU (Dawn) and Chromium for the browser tests; a no-op when present or not root.
bash "$QOQ_ROOT/scripts/install-system-deps.sh"
"${PNPM[@]}" install --frozen-lockfile --reporter=append-only >&2
"${PNPM[@]}" run build >&2
