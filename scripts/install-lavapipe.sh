#!/usr/bin/env bash
# Installs Mesa 25's lavapipe (a software Vulkan driver) into a private folder of this
# project, for Node + Dawn (`webgpu` package) on machines without a GPU.
#
# Why not `apt-get install mesa-vulkan-drivers`: Debian 12's own Mesa (22.3) is rejected by
# Dawn; the one in bookworm-backports works. We download the .debs from that suite with a
# private apt state (the system's sources and package state stay untouched) and unpack them
# with `dpkg -x` into .lavapipe/, then write an ICD json pointing at libvulkan_lvp.so.
# scripts/with-lavapipe.mjs (tests) and scripts/with-gpu.mjs (CLIs, when the machine has no
# GPU) pick it up from there. Needs network access to Debian's mirror;
# does not need root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${LAVAPIPE_DIR:-$root/.lavapipe}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -f "$dest/lvp_icd.json" ]; then
  echo "lavapipe already installed in $dest"
  exit 0
fi

# Reuse the mirror the machine already uses for bookworm.
mirror="$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -v security | head -n1 | tr -d ' ' || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
mirror="${mirror%/}"

mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d"
echo "deb $mirror bookworm-backports main" > "$work/etc/sources.list"
echo "deb $mirror bookworm main" >> "$work/etc/sources.list"
touch "$work/state/status"

apt_opts=(
  -o "Dir::Etc::SourceList=$work/etc/sources.list"
  -o "Dir::Etc::SourceParts=/nonexistent"
  -o "Dir::Etc::Preferences=$work/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
  -o "Dir::State=$work/state"
  -o "Dir::State::status=$work/state/status"
  -o "Dir::Cache=$work/cache"
  -o "APT::Sandbox::User=root"
)
echo "fetching package lists for bookworm-backports from $mirror ..."
apt-get "${apt_opts[@]}" update -qq
cd "$work"
apt-get "${apt_opts[@]}" download -qq \
  mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports \
  libvulkan1
# Dawn dlopens the Vulkan loader (libvulkan1), which a machine without a GPU may lack.
# lavapipe links against LLVM; backports' Mesa uses an LLVM that bookworm itself lacks.
llvm_pkg="$(dpkg-deb -f mesa-vulkan-drivers_*.deb Depends | tr ',' '\n' | grep -oE 'libllvm[0-9]+' | head -n1 || true)"
if [ -n "$llvm_pkg" ]; then
  apt-get "${apt_opts[@]}" download -qq "$llvm_pkg" || true
fi

mkdir -p "$dest"
for deb in ./*.deb; do dpkg -x "$deb" "$dest/root"; done
lib="$(dirname "$(find "$dest/root" -name libvulkan_lvp.so | head -n1)")"
if [ ! -f "$lib/libvulkan_lvp.so" ]; then
  echo "libvulkan_lvp.so not found in the downloaded packages" >&2
  exit 1
fi
cat > "$dest/lvp_icd.json" <<JSON
{
  "file_format_version": "1.0.1",
  "ICD": { "library_path": "$lib/libvulkan_lvp.so", "api_version": "1.4.0" }
}
JSON
echo "$lib" > "$dest/libdir"
echo "lavapipe installed in $dest"
