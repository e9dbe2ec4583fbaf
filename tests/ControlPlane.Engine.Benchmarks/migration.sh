#!/usr/bin/env bash
# On the GPU machine (carry [".gpu"] after `../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj`):
# live migration downtime at contexts 1k to 32k between two instances in one process (device to device) and between
# two processes on the same GPU (host memory + KV stream), with 8 other requests decoding on the source.
# A Llama-3-8B-shaped model with random bf16 weights (transformers), its position limit raised to 40,960 so that
# 32k contexts fit (RoPE llama3 scaling as Llama-3.1; the weights are random either way). Writes to $OUT.
set -uo pipefail
source .gpu/env.sh
source tests/ControlPlane.Engine.Benchmarks/l8b.sh
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee $OUT/gpu.csv
timeout 560 dotnet .gpu/app/ControlPlane.Engine.Benchmarks.dll migration --model /tmp/l8b --device cuda ${MIGRATION_ARGS:---modes local,local-host,peer} --out $OUT/migration.json 2>&1 | tee $OUT/migration.md | grep -v '^\s*at '
