#!/usr/bin/env bash
# Sourced by the GPU scripts: a Llama-3-8B-shaped model with random bf16 weights (transformers) in /tmp/l8b, made once
# per machine, its position limit raised to 40,960 so that 32k contexts fit (RoPE llama3 scaling as Llama-3.1; the
# weights are random either way).
B=tests/ControlPlane.Engine.Benchmarks
[ -d /tmp/l8b ] || python3 $B/hf_reference.py make-8b /tmp/l8b > /dev/null 2>&1
python3 - <<'PY'
import json
p = '/tmp/l8b/config.json'
c = json.load(open(p))
c['max_position_embeddings'] = 40960
json.dump(c, open(p, 'w'))
PY
