#!/usr/bin/env python3
"""Fits a simulator profile's step-time terms to an engine step log (CONTROLPLANE_STEP_LOG, one JSON line a step).

usage: fit_profile.py STEPS.jsonl BASE-PROFILE.json NAME > PROFILE.json

Step time = overhead [+ prefill-step overhead] + a * prefill tokens + b * decoding sequences + c * context tokens
+ d * attention pairs (a chunk of n tokens from position s: n * (s + n / 2) pairs), the simulator's model
(PerformanceProfile.StepTime); the prefill-step overhead is paid by steps with prefill only (no decode graph).
Least squares on relative error (each step weighted by 1 / its time), in two stages: overhead, decode and context
terms from the decode-only steps, then the prefill and attention terms from the rest of the steps with prefill; terms
that come out negative are dropped and the rest refitted. Where the log has step start times (the TorchSharp runner's
"t"), a step's time is the interval to the next step's start when the engine went on at once (a gap under 20 ms):
the host's work between steps (sampling done, outputs delivered, the next step planned) belongs to the step's
overhead, which the simulator, stepping back to back, must then carry. The fit's mean and worst relative error go to stderr and into the profile's provenance.
"""
import json, sys
import numpy as np

steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = json.load(open(sys.argv[2]))
names = ['stepOverheadMs', 'prefillMsPerToken', 'decodeMsPerSequence', 'msPerContextToken', 'prefillMsPerAttentionPair', 'prefillStepOverheadMs']
rows, times = [], []
for i, s in enumerate(steps):
    prefill = sum(n for n, _ in s['prefill'])
    pairs = sum(n * (o + n / 2) for n, o in s['prefill'])
    context = sum(s['decodes']) + sum(n + o for n, o in s['prefill'])
    rows.append([1.0, prefill, len(s['decodes']), context, pairs, 1.0 if prefill > 0 else 0.0])
    gap = steps[i + 1]['t'] - (s['t'] + s['ms']) if 't' in s and i + 1 < len(steps) else 0.0
    times.append(s['ms'] + (gap if 0 <= gap < 20 else 0.0))
X, y = np.array(rows), np.array(times)
mixed = X[:, 1] > 0

def fit(columns, X, y, w):
    """Least squares over the given columns, each row weighted by w (1 / its step time: relative error); a term that
    comes out negative is dropped, the rest refitted."""
    keep = list(columns)
    while True:
        coef, *_ = np.linalg.lstsq(X[:, keep] * w[:, None], y * w, rcond=None)
        if (coef >= 0).all() or len(keep) == 1:
            break
        keep.pop(int(np.argmin(coef)))
    out = np.zeros(X.shape[1])
    out[keep] = np.maximum(coef, 0)
    return out

# Two stages, so that the few steps with prefill are not outweighed by the many decode-only ones: the step's fixed and
# decode terms from decode-only steps, then the prefill terms from what those leave of the steps with prefill.
full = fit([0, 2, 3], X[~mixed], y[~mixed], 1.0 / y[~mixed]) if (~mixed).any() else np.zeros(len(names))
if mixed.any():
    # What the decode terms leave of each step with prefill, weighted by the whole step's time (a step whose rest is
    # small must not outweigh the others).
    rest = y[mixed] - X[mixed] @ full
    prefill = fit([5, 1, 4], X[mixed], rest, 1.0 / y[mixed])
    full[[1, 4, 5]] = prefill[[1, 4, 5]]
error = np.abs(X @ full - y) / y
summary = (f"fitted to {len(steps)} served steps ({mixed.sum()} with prefill): mean relative error {error.mean():.1%}, "
           f"worst {error.max():.1%}; with prefill {error[mixed].mean() if mixed.any() else 0:.1%}, decode-only {error[~mixed].mean() if (~mixed).any() else 0:.1%}")
print(summary, file=sys.stderr)
profile = dict(base)
profile.update({n: float(v) for n, v in zip(names, full)})
profile['name'] = sys.argv[3]
profile['provenance'] = (f"Fitted by tests/ControlPlane.Engine.Benchmarks/fit_profile.py to the engine's step log of a served run "
                         f"(serving.sh), step time = overhead (+ its own on steps with prefill) + prefill tokens + decoding sequences + context tokens + attention pairs, "
                         f"least squares on relative error, decode terms from decode-only steps then prefill terms from the rest; {summary}. Other fields from {base.get('name')}.")
json.dump(profile, sys.stdout, indent=2)
print()
