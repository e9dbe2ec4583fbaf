#!/usr/bin/env bash
# Makes TorchSharp-cpu 0.107's native shim load on systems whose libstdc++ predates GLIBCXX_3.4.32 (Debian 12).
# Applied to a build output folder; does nothing where the system libstdc++ has that version, or where the
# folder holds no libLibTorchSharp.so, or where every copy is already patched; installs gcc and patchelf when
# they are missing and it may (root, or sudo without a password). See ../../../shared notes / docs.
set -euo pipefail
out=${1:?usage: fix.sh OUTPUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
stdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$stdcxx" ] && grep -qa 'GLIBCXX_3\.4\.32' "$stdcxx"; then exit 0; fi
shim=libcontrolplane_glibcxx_shim.so
# Every copy: a runtime-specific build or publish in the same tree leaves several (the output folder, cpu/,
# linux-x64/, runtimes/linux-x64/native/), and the loader may pick any of them.
mapfile -t libs < <(find "$out" -name libLibTorchSharp.so 2>/dev/null | sort)
todo=()
for lib in "${libs[@]}"; do
  if command -v patchelf >/dev/null && patchelf --print-needed "$lib" | grep -qx "$shim" && [ -f "$(dirname "$lib")/$shim" ]; then continue; fi
  todo+=("$lib")
done
[ ${#todo[@]} -gt 0 ] || exit 0
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v patchelf >/dev/null || missing+=(patchelf)
if [ ${#missing[@]} -gt 0 ]; then
  # A fresh Debian 12 machine has neither: install them where we may (root, or sudo without a password).
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
  fi
  if [ "$sudo" != none ] && command -v apt-get >/dev/null; then
    echo "fix.sh: installing ${missing[*]} (needed once to make TorchSharp load on this system)" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >&2
  fi
  for tool in gcc patchelf; do
    command -v $tool >/dev/null || { echo "fix.sh: $tool is needed to make TorchSharp load on this system (apt-get install ${missing[*]})" >&2; exit 1; }
  done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -shared -fPIC -O2 -o "$tmp/$shim" "$here/shim.c" -Wl,--version-script="$here/shim.map"
gcc -O2 -o "$tmp/weaken-verneed" "$here/weaken-verneed.c"
for lib in "${todo[@]}"; do
  dir=$(dirname "$lib")
  "$tmp/weaken-verneed" "$lib" GLIBCXX_3.4.32
  cp "$tmp/$shim" "$dir/$shim"
  patchelf --print-needed "$lib" | grep -qx "$shim" || patchelf --add-needed "$shim" "$lib"
  echo "fix.sh: patched $lib for GLIBCXX_3.4.32 (shim $shim)"
done
