#!/usr/bin/env bash
# System packages the WebGPU and browser tests need, from Debian's archive:
#   - Mesa's lavapipe Vulkan driver from bookworm-backports (Dawn finds no adapter with Debian 12's Mesa 22),
#   - Debian's Chromium (driven headless by playwright-core) for the browser path and the HTML report test.
# Runs only as root; otherwise it says what is missing and the affected tests report why they cannot run.
# Idempotent: does nothing when everything is present.
set -euo pipefail

have_vulkan() { ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && dpkg -s libvulkan1 >/dev/null 2>&1 && \
  dpkg --compare-versions "$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)" ge 24; }
have_chromium() { command -v chromium >/dev/null 2>&1; }

if have_vulkan && have_chromium; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "qoq: not root, so not installing the Vulkan driver (mesa-vulkan-drivers from bookworm-backports) or chromium; WebGPU and browser tests will say they cannot start" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
if [ "$codename" = bookworm ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/qoq-backports.list
fi
apt-get update -qq >&2
if ! have_vulkan; then
  if [ "$codename" = bookworm ]; then
    apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >&2
  else
    apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >&2
  fi
fi
if ! have_chromium; then apt-get install -y -qq chromium >&2; fi
