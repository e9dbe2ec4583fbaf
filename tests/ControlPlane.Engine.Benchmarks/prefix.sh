#!/usr/bin/env bash
# On the GPU machine (carry [".gpu"] after `../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj`):
# the distributed KV cache's data paths for a 32k-token prompt: computed, reloaded from the engine's host-memory tier
# (a filler prompt of the same length pushed it there), and fetched from a second process on the same GPU over the KV
# stream (exported, streamed, imported, then admitted there), median of 3 after a 2k warm-up.
# A Llama-3-8B-shaped model with random bf16 weights (transformers), its position limit raised to 40,960. Writes to $OUT.
set -uo pipefail
source .gpu/env.sh
source tests/ControlPlane.Engine.Benchmarks/l8b.sh
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee $OUT/gpu.csv
timeout ${PREFIX_TIMEOUT:-500} dotnet ${APP:-.gpu/app/ControlPlane.Engine.Benchmarks.dll} prefix --model /tmp/l8b --device cuda ${PREFIX_ARGS:-} 2>&1 | tee $OUT/prefix.md | grep -v '^\s*at '
