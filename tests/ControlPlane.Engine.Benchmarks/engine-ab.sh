#!/usr/bin/env bash
# On the GPU machine, with carry [".gpu"] after pack-ab.sh: the engine at the base commit and at the working
# tree, side by side on one machine. `modes` (eager = kernels = graphs, alone = batched) on the working tree,
# then `bench` (decode at batch 1/8/32/64 × context 512/2048, prefill) alternating before/after ROUNDS times.
# Usage: bash tests/ControlPlane.Engine.Benchmarks/engine-ab.sh   (ROUNDS=2 by default)
set -uo pipefail
source .gpu/env.sh
B=tests/ControlPlane.Engine.Benchmarks
tar -C /tmp -xJf .gpu/ab.tar.xz
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
python3 $B/hf_reference.py make-small /tmp/small2 > /dev/null 2>&1
timeout 120 dotnet /tmp/pub-after/ControlPlane.Engine.Benchmarks.dll modes --model /tmp/small2 --device cuda --out $OUT/modes-after.json
python3 $B/hf_reference.py make-8b /tmp/l8b > /dev/null 2>&1
for r in $(seq ${ROUNDS:-2}); do
  for v in before after; do
    timeout 200 dotnet /tmp/pub-$v/ControlPlane.Engine.Benchmarks.dll bench --model /tmp/l8b --device cuda --out $OUT/bench-$v-$r.json \
      | grep -E '"kind"' | python3 -c "import sys,json
for l in sys.stdin:
    r=json.loads(l); print('$v', '$r', r['kind'], r.get('batch'), r.get('context', r.get('length')), round(r['tokensPerSecond']))"
  done
done
