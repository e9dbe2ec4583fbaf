#!/usr/bin/env bash
# On the GPU machine (carry [".gpu"] after pack-ab.sh): the engine's power draw, read only (nothing is capped or
# clocked: nvidia-smi queries, sampled every 100 ms) while it decodes at batch 1, 8, 32 and 64 (context 512 and
# growing, 800 timed steps each) and while it prefills (the four prefill shapes, repeated). Writes the samples
# and the bench rows (with their start and end times) to $OUT; power-fit.py joins them.
# Also runs `bench` once more (after) for the decode figures at the final code.
set -uo pipefail
source .gpu/env.sh
B=tests/ControlPlane.Engine.Benchmarks
[ -d /tmp/pub-after ] || tar -C /tmp -xJf .gpu/ab.tar.xz
[ -d /tmp/l8b ] || python3 $B/hf_reference.py make-8b /tmp/l8b > /dev/null 2>&1
nvidia-smi --query-gpu=name,power.limit,power.default_limit,power.max_limit,clocks.max.sm --format=csv | tee $OUT/gpu.csv
nvidia-smi --query-gpu=timestamp,power.draw,clocks.sm,clocks.mem,utilization.gpu,temperature.gpu --format=csv,nounits -lms 100 > $OUT/power-samples.csv &
SMI=$!
sleep 3   # idle draw
timeout 400 dotnet /tmp/pub-after/ControlPlane.Engine.Benchmarks.dll bench --model /tmp/l8b --device cuda --context 512 --steps 800 --prefill-repeat 30 --out $OUT/power-bench.json | grep '"kind"' | cut -c1-160
sleep 3
kill $SMI
date +%s%3N > $OUT/clock.txt; date -u '+%Y/%m/%d %H:%M:%S.%3N' >> $OUT/clock.txt
timeout 200 dotnet /tmp/pub-after/ControlPlane.Engine.Benchmarks.dll bench --model /tmp/l8b --device cuda --out $OUT/bench-final.json | grep '"kind"' | cut -c1-140
