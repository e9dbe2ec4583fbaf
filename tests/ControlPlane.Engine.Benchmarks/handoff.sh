#!/usr/bin/env bash
# On the GPU machine (carry [".gpu"] after `../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj`):
# prefill/decode disaggregation's handoff between two processes on the same GPU, prompts of 1k, 4k and 16k tokens
# prefilled in chunks of 2,048 (the engine's default), against the same requests run on the prefill instance alone.
# A Llama-3-8B-shaped model with random bf16 weights (transformers), its position limit raised to 40,960. Writes to $OUT.
set -uo pipefail
source .gpu/env.sh
source tests/ControlPlane.Engine.Benchmarks/l8b.sh
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee $OUT/gpu.csv
timeout 420 dotnet .gpu/app/ControlPlane.Engine.Benchmarks.dll handoff --model /tmp/l8b --device cuda ${HANDOFF_ARGS:-} --out $OUT/handoff.json 2>&1 | tee $OUT/handoff.md | grep -v '^\s*at '
