#!/usr/bin/env bash
# Prefill/decode disaggregation in the simulator (issue 13): colocated, static split and adaptive roles side by side on
# the Azure 2023 code and conversation traces, 16 instances of the fitted H200 TorchSharp profile, at the measured KV
# data path (1.52 GB/s) and at 25 GB/s (an RDMA link), with the default prefill queue limit and with every long prompt split.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-docs/sim-runs/2026-12-06-disaggregation}  # the folder for the tables (a later re-run passes its own)
for trace in code conv; do
  for bw in 1.52 25; do
    for q in 65536 1000000000; do
      dotnet run --project loadgen/ControlPlane.LoadGen -c Release --no-build -- disaggregation \
        --trace loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_$trace.csv --instances 16 --prefill-instances 4 \
        --profile llama-3-8b-h200-torchsharp --loads 0.5,0.8,0.95 --max-requests 3000 --slo-ttft-ms 2000 --slo-tpot-ms 100 \
        --bandwidth-gbps $bw --prefill-queue-limit $q > $out/$trace-bw$bw-queue$q.md
    done
  done
done
