#!/usr/bin/env bash
# Issue 18, the simulator's prediction before the GPU run: the Azure 2023 conversation trace on two GPUs, one prefill
# and one decode instance against two colocated, with the KV data path at the measured socket rate (1.52 GB/s, two
# processes on one GPU) and at rates a faster path could give (5, 10; 25 GB/s: RDMA, as Splitwise assumes; 100; 400: an
# NVLink 4 link's 450 GB/s each way, less copy overhead). The H100 profile fitted to a served run (within 5 % of it).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=docs/sim-runs/2026-12-06-pd-two-gpus
for bw in 1.52 5 10 25 100 400; do
  dotnet run --project loadgen/ControlPlane.LoadGen -c Release --no-build -- disaggregation \
    --trace loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv --instances 2 --prefill-instances 1 \
    --profile llama-3-8b-h100-torchsharp-served --loads 0.5,0.8,0.95 --max-requests 3000 --slo-ttft-ms 1000 --slo-tpot-ms 50 \
    --modes colocated,static --bandwidth-gbps $bw > $out/conv-bw$bw.md
done
