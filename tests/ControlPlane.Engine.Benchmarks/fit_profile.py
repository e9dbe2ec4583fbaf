#!/usr/bin/env python3
"""Fits a simulator profile's step-time terms to an engine step log (CONTROLPLANE_STEP_LOG, one JSON line a step).

usage: fit_profile.py STEPS.jsonl BASE-PROFILE.json NAME > PROFILE.json

Step time = overhead + a * prefill tokens + b * decoding sequences + c * context tokens + d * attention pairs
(a chunk of n tokens from position s: n * (s + n / 2) pairs), the simulator's model (PerformanceProfile.StepTime).
Least squares on relative error (each step weighted by 1 / its time), in two stages: overhead, decode and context
terms from the decode-only steps, then the prefill and attention terms from the rest of the steps with prefill; terms
that come out negative are dropped and the rest refitted. The fit's mean and worst relative error go to stderr and into the profile's provenance.
"""
import json, sys
import numpy as np

steps = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = json.load(open(sys.argv[2]))
names = ['stepOverheadMs', 'prefillMsPerToken', 'decodeMsPerSequence', 'msPerContextToken', 'prefillMsPerAttentionPair']
rows, times = [], []
for s in steps:
    prefill = sum(n for n, _ in s['prefill'])
    pairs = sum(n * (o + n / 2) for n, o in s['prefill'])
    context = sum(s['decodes']) + sum(n + o for n, o in s['prefill'])
    rows.append([1.0, prefill, len(s['decodes']), context, pairs])
    times.append(s['ms'])
X, y = np.array(rows), np.array(times)
mixed = X[:, 1] > 0

def fit(columns, X, y):
    """Least squares on relative error over the given columns; a term that comes out negative is dropped, the rest refitted."""
    w = 1.0 / y
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
full = fit([0, 2, 3], X[~mixed], y[~mixed]) if (~mixed).any() else np.zeros(len(names))
if mixed.any():
    rest = y[mixed] - X[mixed] @ full
    prefill = fit([1, 4], X[mixed], np.maximum(rest, 1e-3))
    full[[1, 4]] = prefill[[1, 4]]
error = np.abs(X @ full - y) / y
summary = (f"fitted to {len(steps)} served steps ({mixed.sum()} with prefill): mean relative error {error.mean():.1%}, "
           f"worst {error.max():.1%}; with prefill {error[mixed].mean() if mixed.any() else 0:.1%}, decode-only {error[~mixed].mean() if (~mixed).any() else 0:.1%}")
print(summary, file=sys.stderr)
profile = dict(base)
profile.update({n: float(v) for n, v in zip(names, full)})
profile['name'] = sys.argv[3]
profile['provenance'] = (f"Fitted by tests/ControlPlane.Engine.Benchmarks/fit_profile.py to the engine's step log of a served run "
                         f"(serving.sh), step time = overhead + prefill tokens + decoding sequences + context tokens + attention pairs, "
                         f"least squares on relative error, decode terms from decode-only steps then prefill terms from the rest; {summary}. Other fields from {base.get('name')}.")
json.dump(profile, sys.stdout, indent=2)
print()
