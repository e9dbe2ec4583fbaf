#!/usr/bin/env python3
"""Sets step logs side by side (CONTROLPLANE_STEP_LOG lines from the TorchSharp runner or the simulated runner).

usage: compare_steps.py NAME=STEPS.jsonl [NAME=STEPS.jsonl ...]

For each: steps, busy time, steps with prefill (count, mean ms, prefill tokens and chunks per step, offsets), decode-only
steps (count, mean ms), and decoding sequences per step: where a served run and the simulator's schedule part ways.
A log with step start times (the TorchSharp runner's "t") also gives the host's time between steps: the gap from one
step's end to the next one's start, counted when under 20 ms (longer ones are the engine idle, waiting for work).
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
        **gaps(steps),
    }

def gaps(steps):
    if not steps or 't' not in steps[0]:
        return {'gap between steps, ms': float('nan'), 'gap p90, ms': float('nan'), 'idle s': float('nan'), 'span s': float('nan')}
    g = sorted(b['t'] - (a['t'] + a['ms']) for a, b in zip(steps, steps[1:]))
    busy = [x for x in g if x < 20]
    return {'gap between steps, ms': sum(busy) / len(busy) if busy else 0.0,
            'gap p90, ms': busy[int(0.9 * (len(busy) - 1))] if busy else 0.0,
            'idle s': sum(x for x in g if x >= 20) / 1000,
            'span s': (steps[-1]['t'] + steps[-1]['ms'] - steps[0]['t']) / 1000}

runs = [(a.split('=', 1)[0], summary(a.split('=', 1)[1])) for a in sys.argv[1:]]
print('| figure | ' + ' | '.join(n for n, _ in runs) + ' |')
print('|---|' + '---|' * len(runs))
for key in runs[0][1]:
    print(f'| {key} | ' + ' | '.join(f'{r[key]:,.1f}' if isinstance(r[key], float) else f'{r[key]:,}' for _, r in runs) + ' |')
