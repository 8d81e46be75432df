#!/usr/bin/env bash
# Installs what the GPU tests need on a fresh Debian 12 machine without a GPU:
#   - Chromium from apt (headless WebGPU on its built-in SwiftShader), for browser tests;
#   - Mesa 25 lavapipe, unpacked privately into .lavapipe/, for Node + Dawn tests.
# Run as root (apt-get). Safe to run again: it skips what is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v "${CHROMIUM_PATH:-/usr/bin/chromium}" >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium is missing; installing it needs root: sudo apt-get install -y chromium" >&2
    exit 1
  fi
  echo "installing Chromium from Debian ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
"${CHROMIUM_PATH:-/usr/bin/chromium}" --version 2>/dev/null | head -n1 || true

bash "$root/scripts/install-lavapipe.sh"
