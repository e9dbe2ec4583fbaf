#!/usr/bin/env bash
# On the GPU machine (carry [".gpu"] after `../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj`):
# the paged prefill attention kernel (issue 16): its error and time beside gather + SDPA per batch of chunks
# (`prefill-attention`), greedy equality (`modes`: fp32 eager = kernels = graphs; bf16 with the kernel = without), and
# serving-like mixed steps (48 decodes at ~1,000 tokens beside 1,500-token prompts) with the kernel and without it.
# Writes to $OUT.
set -uo pipefail
source .gpu/env.sh
B=tests/ControlPlane.Engine.Benchmarks
APP=${APP:-.gpu/app/ControlPlane.Engine.Benchmarks.dll}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
source $B/l8b.sh
python3 $B/hf_reference.py make-small /tmp/small2 > /dev/null 2>&1
timeout 120 dotnet $APP prefill-attention --model /tmp/l8b --device cuda --out $OUT/prefill-attention.txt 2>&1 | grep -v '^\s*at ' | tail -12
timeout 120 dotnet $APP modes --model /tmp/small2 --device cuda --out $OUT/modes.json 2>&1 | tail -3
for k in on off; do
  timeout 150 dotnet $APP bench --model /tmp/l8b --device cuda --mixed yes --prefill-kernel $k 2>&1 | tee $OUT/mixed-$k.txt | grep -v '^\s*at ' | tail -4
done
