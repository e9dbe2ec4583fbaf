#!/usr/bin/env bash
# Packs the worker host (gateway and TorchSharp engine in one process), the load generator, the engine benchmarks and the
# control plane's benchmarks (large-prompt) for serving.sh and gpu-session.sh on the GPU machine:
# .gpu/both.tar.xz (libtorch's CPU libraries dropped; the machine's CUDA libtorch is used), beside the .NET
# runtime that ../shared/gpu/prepare.sh packs. Run from the project root.
set -euo pipefail
../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj > /dev/null
rm -rf .gpu/app /tmp/pub-server /tmp/pub-loadgen /tmp/pub-bench /tmp/pub-cpbench
dotnet publish src/ControlPlane.Worker -c Release -r linux-x64 --self-contained false -o /tmp/pub-server -v quiet
dotnet publish loadgen/ControlPlane.LoadGen -c Release -r linux-x64 --self-contained false -o /tmp/pub-loadgen -v quiet
dotnet publish tests/ControlPlane.Engine.Benchmarks -c Release -r linux-x64 --self-contained false -o /tmp/pub-bench -v quiet
dotnet publish tests/ControlPlane.Benchmarks -c Release -r linux-x64 --self-contained false -o /tmp/pub-cpbench -v quiet
for d in /tmp/pub-server /tmp/pub-loadgen /tmp/pub-bench /tmp/pub-cpbench; do
  find $d \( -name 'libtorch*' -o -name 'libc10*' -o -name 'libgomp*' -o -name 'libshm*' -o -name 'libcaffe2*' \
    -o -name 'libbackend_with_compiler*' -o -name 'libjitbackend_test*' -o -name 'libnnapi_backend*' \
    -o -name 'libaoti_custom_ops*' -o -name 'libtorchbind_test*' \) -delete
  rm -rf $d/runtimes/win* $d/runtimes/osx*
done
# The apps share most of their files: identical ones become hard links, which tar stores once.
python3 - <<'PY'
import hashlib, os
seen = {}
for d in ['/tmp/pub-server', '/tmp/pub-loadgen', '/tmp/pub-bench', '/tmp/pub-cpbench']:
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            key = (os.path.relpath(p, d), hashlib.sha256(open(p, 'rb').read()).hexdigest())
            if key in seen:
                os.remove(p); os.link(seen[key], p)
            else:
                seen[key] = p
PY
tar -C /tmp -cJf .gpu/both.tar.xz pub-server pub-loadgen pub-bench pub-cpbench
du -sh .gpu/*
