#!/usr/bin/env python3
"""Sets step logs side by side (CONTROLPLANE_STEP_LOG lines from the TorchSharp runner or the simulated runner).

usage: compare_steps.py NAME=STEPS.jsonl [NAME=STEPS.jsonl ...]

For each: steps, busy time, steps with prefill (count, mean ms, prefill tokens and chunks per step, offsets), decode-only
steps (count, mean ms), and decoding sequences per step: where a served run and the simulator's schedule part ways.
"""
import json, sys

def summary(path):
    steps = [json.loads(l) for l in open(path) if l.strip()]
    mixed = [s for s in steps if s['prefill']]
    decode = [s for s in steps if not s['prefill']]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0
    return {
        'steps': len(steps),
        'busy s': sum(s['ms'] for s in steps) / 1000,
        'with prefill': len(mixed),
        'with prefill, ms': mean([s['ms'] for s in mixed]),
        'prefill tokens / step': mean([sum(n for n, _ in s['prefill']) for s in mixed]),
        'chunks / step': mean([len(s['prefill']) for s in mixed]),
        'continued chunks': sum(1 for s in mixed for n, o in s['prefill'] if o > 0),
        'decodes beside prefill': mean([len(s['decodes']) for s in mixed]),
        'decode-only': len(decode),
        'decode-only, ms': mean([s['ms'] for s in decode]),
        'decodes / decode-only step': mean([len(s['decodes']) for s in decode]),
        'decode context / step': mean([sum(s['decodes']) for s in decode]),
    }

runs = [(a.split('=', 1)[0], summary(a.split('=', 1)[1])) for a in sys.argv[1:]]
print('| figure | ' + ' | '.join(n for n, _ in runs) + ' |')
print('|---|' + '---|' * len(runs))
for key in runs[0][1]:
    print(f'| {key} | ' + ' | '.join(f'{r[key]:,.1f}' if isinstance(r[key], float) else f'{r[key]:,}' for _, r in runs) + ' |')
