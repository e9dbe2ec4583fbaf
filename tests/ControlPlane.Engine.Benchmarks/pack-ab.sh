#!/usr/bin/env bash
# Packs the engine benchmark twice, at a base commit and at the working tree, for engine-ab.sh on the GPU
# machine: .gpu/ab.tar.xz holds pub-before/ and pub-after/ (libtorch's CPU libraries dropped; the machine's CUDA
# libtorch is used), beside the .NET runtime that ../shared/gpu/prepare.sh packs. Run from the project root.
# Usage: tests/ControlPlane.Engine.Benchmarks/pack-ab.sh [BASE_COMMIT]   (default: main's 0928544)
set -euo pipefail
base=${1:-0928544}
../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj > /dev/null
rm -rf .gpu/app /tmp/pub-before /tmp/pub-after /tmp/ab-base
git worktree add -f /tmp/ab-base "$base" > /dev/null
trap 'git worktree remove --force /tmp/ab-base' EXIT
dotnet publish /tmp/ab-base/tests/ControlPlane.Engine.Benchmarks -c Release -r linux-x64 --self-contained false -o /tmp/pub-before -v quiet
dotnet publish tests/ControlPlane.Engine.Benchmarks -c Release -r linux-x64 --self-contained false -o /tmp/pub-after -v quiet
for d in /tmp/pub-before /tmp/pub-after; do
  find $d \( -name 'libtorch*' -o -name 'libc10*' -o -name 'libgomp*' -o -name 'libshm*' -o -name 'libcaffe2*' \
    -o -name 'libbackend_with_compiler*' -o -name 'libjitbackend_test*' -o -name 'libnnapi_backend*' \
    -o -name 'libaoti_custom_ops*' -o -name 'libtorchbind_test*' \) -delete
  rm -rf $d/runtimes/win* $d/runtimes/osx*
done
tar -C /tmp -cJf .gpu/ab.tar.xz pub-before pub-after
du -sh .gpu/*
