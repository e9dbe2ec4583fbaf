#!/usr/bin/env bash
# Simulator fidelity: the same trace slice against the real control plane (simulated-engine server, 4
# instances) and through the cluster simulator (4 instances, same profile and policy); compares p50/p99
# TTFT and TPOT. Usage: loadgen/fidelity.sh [requests] [speedup]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}; speedup=${2:-10}; port=18081
trace=loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv
for p in src/ControlPlane.Server loadgen/ControlPlane.LoadGen; do
  dotnet build $p -c Release -v quiet -nologo > /tmp/controlplane-build.log || { cat /tmp/controlplane-build.log; exit 1; }
done
lg="dotnet loadgen/ControlPlane.LoadGen/bin/Release/net10.0/controlplane-loadgen.dll"
dotnet src/ControlPlane.Server/bin/Release/net10.0/ControlPlane.Server.dll --urls http://127.0.0.1:$port \
  --ControlPlane:Cluster:SiloPort=21112 --ControlPlane:Cluster:GatewayPort=0 --Logging:LogLevel:Default=Warning \
  >/tmp/controlplane-fidelity-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 0.2; done
$lg replay --endpoint http://127.0.0.1:$port/ --synthetic poisson --rate 20 --count 200 --input-tokens 100 --output-tokens 20 --out artifacts/fidelity/warmup >/dev/null
$lg replay --endpoint http://127.0.0.1:$port/ --trace $trace --max-requests $n --speedup $speedup --out artifacts/fidelity/real >/dev/null
$lg simulate --trace $trace --max-requests $n --speedup $speedup --instances 4 --policies least-kv-usage --out artifacts/fidelity/sim >/dev/null
echo "## Simulator fidelity: first $n requests of the Azure 2023 conversation trace at ${speedup}x, 4 instances, least-kv-usage"
echo
$lg compare artifacts/fidelity/real/report.json "artifacts/fidelity/sim/as-traced-least-kv-usage/report.json"
