#!/usr/bin/env bash
# The 2026-12-06 runs again, on the code of 2026-12-08 (see docs/benchmarks.md), into this folder.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec bash docs/sim-runs/2026-12-06-autoscale/run.sh docs/sim-runs/2026-12-08-autoscale
