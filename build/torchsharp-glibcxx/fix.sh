#!/usr/bin/env bash
# Makes TorchSharp-cpu 0.107's native shim load on systems whose libstdc++ predates GLIBCXX_3.4.32 (Debian 12).
# Applied to a build output folder; does nothing where the system libstdc++ has that version, or where the
# folder holds no libLibTorchSharp.so, or where it is already patched. See ../../../shared notes / docs.
set -euo pipefail
out=${1:?usage: fix.sh OUTPUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
lib=$(find "$out" -name libLibTorchSharp.so -print -quit 2>/dev/null || true)
[ -n "$lib" ] || exit 0
stdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$stdcxx" ] && grep -qa 'GLIBCXX_3\.4\.32' "$stdcxx"; then exit 0; fi
dir=$(dirname "$lib")
shim=libcontrolplane_glibcxx_shim.so
if command -v patchelf >/dev/null && patchelf --print-needed "$lib" | grep -qx "$shim" && [ -f "$dir/$shim" ]; then exit 0; fi
for tool in gcc patchelf; do
  command -v $tool >/dev/null || { echo "fix.sh: $tool is needed to make TorchSharp load on this system (apt-get install $tool)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -shared -fPIC -O2 -o "$tmp/$shim" "$here/shim.c" -Wl,--version-script="$here/shim.map"
gcc -O2 -o "$tmp/weaken-verneed" "$here/weaken-verneed.c"
"$tmp/weaken-verneed" "$lib" GLIBCXX_3.4.32
cp "$tmp/$shim" "$dir/$shim"
patchelf --add-needed "$shim" "$lib"
echo "fix.sh: patched $lib for GLIBCXX_3.4.32 (shim $shim)"
