#!/usr/bin/env bash
# Packs the worker host (gateway and TorchSharp engine in one process), the load generator, the engine benchmarks and the
# control plane's benchmarks (large-prompt) for serving.sh, serving-pd.sh and gpu-session.sh on the GPU machine, and
# redis-server for serving-pd.sh:
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
# redis-server for serving-pd.sh (several silos need Redis clustering; the GPU machine has none and cannot fetch one):
# this machine's binary with the libraries it links beyond glibc, run there with LD_LIBRARY_PATH.
rm -rf /tmp/pub-redis && mkdir -p /tmp/pub-redis
if command -v redis-server > /dev/null; then
  cp "$(readlink -f "$(command -v redis-server)")" /tmp/pub-redis/redis-server
  ldd "$(command -v redis-server)" | awk '/=> \// {print $3}' | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' | xargs -r -I{} cp -L {} /tmp/pub-redis/
fi
tar -C /tmp -cJf .gpu/both.tar.xz pub-server pub-loadgen pub-bench pub-cpbench pub-redis
du -sh .gpu/*
