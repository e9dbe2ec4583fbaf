#!/usr/bin/env bash
# Does the load generator keep to schedule? 10,000 requests at 1,000 requests/s (Poisson) against a
# separate control-plane process with 64 simulated instances; prints the replay report (send lag row).
set -euo pipefail
cd "$(dirname "$0")/.."
port=18080
for p in src/ControlPlane.Server loadgen/ControlPlane.LoadGen; do
  dotnet build $p -c Release -v quiet -nologo > /tmp/controlplane-build.log || { cat /tmp/controlplane-build.log; exit 1; }
done
dotnet src/ControlPlane.Server/bin/Release/net10.0/ControlPlane.Server.dll --urls http://127.0.0.1:$port \
  --ControlPlane:Models:0:Instances=64 --ControlPlane:Cluster:SiloPort=21111 --ControlPlane:Cluster:GatewayPort=0 \
  --Logging:LogLevel:Default=Warning >/tmp/controlplane-bench-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 0.2; done
echo "## Load generator schedule: 10,000 requests at 1,000 requests/s, 64 simulated instances in a separate process"
echo
# warm-up, then the measured run
dotnet loadgen/ControlPlane.LoadGen/bin/Release/net10.0/controlplane-loadgen.dll replay --endpoint http://127.0.0.1:$port/ \
  --model llama-3-8b-sim --synthetic poisson --rate 500 --count 2000 --input-tokens 60 --output-tokens 8 --out artifacts/send-lag-warmup >/dev/null
dotnet loadgen/ControlPlane.LoadGen/bin/Release/net10.0/controlplane-loadgen.dll replay --endpoint http://127.0.0.1:$port/ \
  --model llama-3-8b-sim --synthetic poisson --rate 1000 --count 10000 --input-tokens 60 --output-tokens 8 --out artifacts/send-lag \
  | sed -n '/^# Replay/,$p'
