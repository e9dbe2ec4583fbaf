#!/usr/bin/env bash
# Autoscaling in the simulator (issue 19): a 60-minute "day" of the Azure 2023 conversation trace's requests, the rate
# rising from 10% to 100% of a peak at 80% of 8 instances' measured capacity and back, on 8 instances of the fitted H200
# TorchSharp profile provisioned for the peak, against the autoscaler (instances start in 60 s and drain by migration).
# Each line: target usage, batch capacity, scale-down window (s), lookahead (s).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-docs/sim-runs/2026-12-06-autoscale}  # the folder for the tables (a later re-run passes its own)
for cfg in "0.7 256 300 0" "0.7 64 300 0" "0.7 128 300 0" "0.8 128 300 0" "0.8 128 120 0" "0.8 128 120 60" "0.7 128 120 60" "0.8 128 60 90"; do
  set -- $cfg
  dotnet run --project loadgen/ControlPlane.LoadGen -c Release --no-build -- autoscale \
    --trace loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv --instances 8 --profile llama-3-8b-h200-torchsharp \
    --day-minutes 60 --peak-load 0.8 --trough 0.1 --startup-s 60 --slo-ttft-ms 2000 --slo-tpot-ms 100 \
    --target-usage $1 --batch-capacity $2 --scale-down-window-s $3 --lookahead-s $4 --out $out/replicas-$1-$2-$3-$4.csv > $out/run-$1-$2-$3-$4.md
done
