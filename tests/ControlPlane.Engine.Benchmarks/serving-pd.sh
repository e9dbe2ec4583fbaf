#!/usr/bin/env bash
# Issue 18: the Azure conversation trace served by two GPUs of one host through the gateway, disaggregated (worker-0
# prefills on GPU 0, worker-1 decodes on GPU 1, each request's KV blocks handed over device to device by CUDA IPC,
# over NVLink) against colocated (two mixed workers, one a GPU), goodput side by side. One control silo and two worker
# silos, Redis clustering (the redis-server pack-serving.sh packs), the published worker host, a Llama-3-8B-shaped
# random model. On this machine first: tests/ControlPlane.Engine.Benchmarks/pack-serving.sh; then on the device, with
# carry [".gpu"]: bash tests/ControlPlane.Engine.Benchmarks/serving-pd.sh
# MODES (default "pd colocated"), N requests (400), S speedup (4), DEVICE_PATH (true; false sends the blocks as bytes).
# On one GPU both workers share it (less KV cache each): that checks the path, it is not the figure. A dry run of the
# script on a machine without a GPU (the packed apps have no CPU libtorch, so the build's own outputs):
# DEVICE=cpu MODEL_PATH=builtin:tiny-random TOKENIZER= N=20 WARM=4 SERVER=src/ControlPlane.Worker/bin/Release/net10.0
# LG="dotnet loadgen/ControlPlane.LoadGen/bin/Release/net10.0/controlplane-loadgen.dll" OUT=/tmp/out bash .../serving-pd.sh
[ -f .gpu/env.sh ] && source .gpu/env.sh
DEVICE=${DEVICE:-cuda}; MODEL_PATH=${MODEL_PATH:-/tmp/l8b}; TOKENIZER=${TOKENIZER-/tmp/l8b}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
B=tests/ControlPlane.Engine.Benchmarks
SERVER=$(realpath ${SERVER:-/tmp/pub-server}); REDIS_DIR=${REDIS_DIR:-/tmp/pub-redis}
[ -d /tmp/pub-server ] || [ ! -f .gpu/both.tar.xz ] || tar -C /tmp -xJf .gpu/both.tar.xz
if [ $DEVICE = cuda ]; then
  [ -d /tmp/l8b ] || python3 $B/hf_reference.py make-8b /tmp/l8b > /dev/null 2>&1
  python3 $B/make_tokenizer.py /tmp/l8b loadgen/ControlPlane.LoadGen/Prompts/PromptBuilder.cs > /dev/null
  nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader | tee $OUT/gpus.txt
  nvidia-smi topo -m 2>&1 | head -5 > $OUT/topology.txt
fi
GPUS=$(cat $OUT/gpus.txt 2>/dev/null | wc -l); SECOND=1; KV=40000
if [ $DEVICE = cpu ]; then KV=64; elif [ "$GPUS" -lt 2 ]; then SECOND=0; KV=16000; echo "one GPU: both workers share it, $KV MiB of KV cache each (a check of the path, not the figure)"; fi
LD_LIBRARY_PATH=$REDIS_DIR $REDIS_DIR/redis-server --port 6399 --save '' --appendonly no --daemonize yes --logfile $OUT/redis.log
LG=${LG:-dotnet /tmp/pub-loadgen/controlplane-loadgen.dll}
T=loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv
mkdir -p /tmp/pd
for MODE in ${MODES:-pd colocated}; do
  cat > /tmp/pd/settings.json <<JSON
{ "Logging": { "LogLevel": { "Default": "Warning", "Orleans": "Error", "ControlPlane": "Information" } },
  "ControlPlane": { "Cluster": { "Mode": "Redis", "Redis": "127.0.0.1:6399", "ClusterId": "pd-$MODE", "ServiceId": "pd-$MODE" },
    "Dispatch": { "Policy": "least-kv-usage" }, "Migration": { "Enabled": false },
    "Worker": { "KvPort": 0, "KvDevicePath": ${DEVICE_PATH:-true} },
    "Models": [ { "Name": "llama-3-8b", "Engine": "torchsharp", "Instances": 1, "Path": "$MODEL_PATH", "Device": "$DEVICE",
                  "KvCacheMiB": $KV, "MaxContextTokens": $([ $DEVICE = cpu ] && echo 4096 || echo 8192) } ] } }
JSON
  silo() { # name, http port, silo port, extra settings...
    local name=$1 http=$2 port=$3; shift 3
    local args=(--Urls=http://127.0.0.1:$http --ControlPlane:Cluster:PodName=$name --ControlPlane:Cluster:SiloPort=$port --ControlPlane:Cluster:GatewayPort=0 "$@")
    (cd $SERVER && CONTROLPLANE_SETTINGS=/tmp/pd/settings.json CONTROLPLANE_STEP_LOG=$OUT/steps-$MODE-$name.jsonl exec dotnet ControlPlane.Worker.dll "${args[@]}") > $OUT/$MODE-$name.log 2>&1 < /dev/null &
    echo $!
  }
  ROLE0=mixed; ROLE1=mixed; [ $MODE = pd ] && ROLE0=prefill && ROLE1=decode
  rm -f $OUT/steps-$MODE-*.jsonl
  P0=$(silo control-0 8080 11111 --ControlPlane:Cluster:Roles=control)
  P1=$(silo worker-0 8081 11112 --ControlPlane:Cluster:Roles=worker --ControlPlane:Worker:Gpu=0 --ControlPlane:Models:0:Role=$ROLE0)
  P2=$(silo worker-1 8082 11113 --ControlPlane:Cluster:Roles=worker --ControlPlane:Worker:Gpu=$SECOND --ControlPlane:Models:0:Role=$ROLE1)
  for port in 8080 8081 8082; do
    for i in $(seq 400); do curl -sf http://127.0.0.1:$port/readyz > /dev/null && break; sleep 0.5; done
  done
  echo "$MODE: ready $(date +%s)"; grep -hiE "gpu|kv endpoint|registered" $OUT/$MODE-worker-*.log | head -6
  timeout 150 $LG replay --endpoint http://127.0.0.1:8080/ --model llama-3-8b ${TOKENIZER:+--tokenizer $TOKENIZER} --synthetic poisson --rate 10 --count ${WARM:-60} --input-tokens 600-3000 --output-tokens 10-100 --out /tmp/pd/warm-$MODE > /dev/null
  timeout 240 $LG replay --endpoint http://127.0.0.1:8080/ --model llama-3-8b ${TOKENIZER:+--tokenizer $TOKENIZER} --trace $T --max-requests ${N:-400} --speedup ${S:-4} --slo-ttft-ms 1000 --slo-tpot-ms 50 --out $OUT/$MODE > /dev/null
  head -24 $OUT/$MODE/report.md
  curl -s http://127.0.0.1:8080/metrics > $OUT/$MODE-metrics.txt
  # The handoffs (worker-0's migrations with reason handoff) and the transport their parts took.
  curl -s http://127.0.0.1:8081/metrics | grep -E '^controlplane_(migration|kv_transfer)' > $OUT/$MODE-worker-0-transfer.txt; head -16 $OUT/$MODE-worker-0-transfer.txt
  kill $P0 $P1 $P2; sleep 3; kill -9 $P0 $P1 $P2 2>/dev/null
done
redis-cli -p 6399 shutdown nosave > /dev/null 2>&1 || kill $(pgrep -f 'redis-server.*6399') 2>/dev/null
[ -f $OUT/pd/report.json ] && [ -f $OUT/colocated/report.json ] && echo "colocated (first column) against disaggregated (second):" && $LG compare $OUT/colocated/report.json $OUT/pd/report.json | tee $OUT/compare.md
