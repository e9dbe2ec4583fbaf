#!/usr/bin/env bash
# One GPU session's figures for issues 16 and 14 in two calls of at most ten minutes each, from the serving pack
# (tests/ControlPlane.Engine.Benchmarks/pack-serving.sh; carry [".gpu"]):
#   PART=a: the prefill kernel's error and time (prefill-attention), then serving.sh (400 Azure conversation requests
#           at 2x through the gateway, the simulator beside it, and the served steps with prefill replayed as fixed shapes)
#   PART=b: prefix.sh (issue 14), modes and the mixed steps with the prefill kernel and without (prefill.sh's rest)
set -uo pipefail
source .gpu/env.sh
B=tests/ControlPlane.Engine.Benchmarks
[ -d /tmp/pub-bench ] || tar -C /tmp -xJf .gpu/both.tar.xz
export APP=/tmp/pub-bench/ControlPlane.Engine.Benchmarks.dll
source $B/l8b.sh
if [ "${PART:-a}" = a ]; then
  timeout 120 dotnet $APP prefill-attention --model /tmp/l8b --device cuda --out $OUT/prefill-attention.txt 2>&1 | grep -v '^\s*at ' | tail -12
  OUT=$OUT bash $B/serving.sh 2>&1 | tail -60
else
  PREFIX_TIMEOUT=250 OUT=$OUT bash $B/prefix.sh 2>&1 | tail -12
  python3 $B/hf_reference.py make-small /tmp/small2 > /dev/null 2>&1
  timeout 100 dotnet $APP modes --model /tmp/small2 --device cuda --out $OUT/modes.json 2>&1 | tail -2
  for k in on off; do
    timeout 100 dotnet $APP bench --model /tmp/l8b --device cuda --mixed yes --prefill-kernel $k 2>&1 | tee $OUT/mixed-$k.txt | grep -v '^\s*at ' | tail -3
  done
fi
