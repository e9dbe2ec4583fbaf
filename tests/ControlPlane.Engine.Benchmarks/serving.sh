#!/usr/bin/env bash
# Serving on the GPU machine, end to end: the published worker host (TorchSharp engine, CUDA, a Llama-3-8B-shaped
# random model) behind its gateway, the load generator replaying the Azure conversation trace against it,
# and the simulator on the same trace with the engine's fitted profile; then `compare`.
# On this machine first: tests/ControlPlane.Engine.Benchmarks/pack-serving.sh (writes .gpu/both.tar.xz);
# then on the device, with carry [".gpu"]: bash tests/ControlPlane.Engine.Benchmarks/serving.sh
# N (requests, default 400) and S (speedup, default 2) may be set in the environment; MEASURE_PRODUCTS=false serves with
# libtorch's decode products (the worker's Models:N:MeasureDecodeProducts; default true: measured at start); SERVED_ONLY=1
# stops after the served run and its comparison with the simulator (no fitted profile, no fixed-shape replay).
source .gpu/env.sh
B=tests/ControlPlane.Engine.Benchmarks
[ -d /tmp/pub-server ] || tar -C /tmp -xJf .gpu/both.tar.xz
[ -d /tmp/l8b ] || python3 $B/hf_reference.py make-8b /tmp/l8b > /dev/null 2>&1
python3 $B/make_tokenizer.py /tmp/l8b loadgen/ControlPlane.LoadGen/Prompts/PromptBuilder.cs
nvidia-smi --query-gpu=name --format=csv,noheader | tee $OUT/gpu.txt
# The simulator's profile fitted on the same kind of GPU to an earlier served run's steps (a prediction made before this
# run): llama-3-8b-h100-torchsharp-served on the H100, llama-3-8b-h200-torchsharp-served on the H200.
PROFILE=llama-3-8b-h100-torchsharp-served; grep -q H200 $OUT/gpu.txt && PROFILE=llama-3-8b-h200-torchsharp-served
mkdir -p /tmp/srv && cat > /tmp/srv/appsettings.json <<'JSON'
{ "Urls": "http://127.0.0.1:8080",
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "ControlPlane": { "Cluster": { "Mode": "Embedded" }, "Dispatch": { "Policy": "least-kv-usage" },
    "Models": [ { "Name": "llama-3-8b", "Engine": "torchsharp", "Instances": 1, "Path": "/tmp/l8b", "Device": "cuda",
                  "KvCacheMiB": 40000, "MaxContextTokens": 8192 } ] } }
JSON
[ "${MEASURE_PRODUCTS:-true}" = false ] && sed -i 's/"MaxContextTokens": 8192 }/"MaxContextTokens": 8192, "MeasureDecodeProducts": false }/' /tmp/srv/appsettings.json
grep -o '"MeasureDecodeProducts": [a-z]*' /tmp/srv/appsettings.json || echo "MeasureDecodeProducts: true (the default)"
PROFILE=$PROFILE python3 - <<'PY'
import json, os
p=json.load(open('src/ControlPlane.Simulation/Profiles/'+os.environ['PROFILE']+'.json'))
p.update(name='torchsharp-as-served', totalKvBlocks=40000*1024*1024//(131072*16), maxBatchedTokens=2048, maxContextTokens=8192)
json.dump(p, open('/tmp/srv/profile.json','w'))
PY
cp /tmp/srv/appsettings.json /tmp/pub-server/appsettings.json
rm -f $OUT/steps.jsonl
CONTROLPLANE_STEP_LOG=$OUT/steps.jsonl dotnet /tmp/pub-server/ControlPlane.Worker.dll > $OUT/server.log 2>&1 < /dev/null &
SERVER=$!
STARTED=$(date +%s.%N)
for i in $(seq 500); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.5; done
echo "server ready in $(python3 -c "print(round($(date +%s.%N) - $STARTED, 1))") s (weights loaded, graphs captured, products measured unless turned off)" | tee $OUT/startup.txt
curl -s http://127.0.0.1:8080/v1/models; echo
curl -s -w '\n%{time_total} s\n' http://127.0.0.1:8080/v1/completions -H 'content-type: application/json' -d '{"model":"llama-3-8b","prompt":"the city of light","max_tokens":8}'
curl -s -w '\n%{time_total} s\n' http://127.0.0.1:8080/v1/completions -H 'content-type: application/json' -d '{"model":"llama-3-8b","prompt":"the city of light","max_tokens":64}'
LG="dotnet /tmp/pub-loadgen/controlplane-loadgen.dll"
T=loadgen/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv
timeout 120 $LG replay --endpoint http://127.0.0.1:8080/ --model llama-3-8b --tokenizer /tmp/l8b --synthetic poisson --rate 20 --count 150 --input-tokens 50-3000 --output-tokens 10-100 --out /tmp/warm > /tmp/warm.txt; head -8 /tmp/warm.txt
echo "measured from line $(wc -l < $OUT/steps.jsonl) of steps.jsonl" | tee $OUT/steps-from.txt
timeout 200 $LG replay --endpoint http://127.0.0.1:8080/ --model llama-3-8b --tokenizer /tmp/l8b --trace $T --max-requests ${N:-400} --speedup ${S:-2} --slo-ttft-ms 1000 --slo-tpot-ms 50 --out $OUT/real > /dev/null
rm -f /tmp/sim-steps.jsonl /tmp/simfit-steps.jsonl
CONTROLPLANE_STEP_LOG=/tmp/sim-steps.jsonl $LG simulate --trace $T --max-requests ${N:-400} --speedup ${S:-2} --instances 1 --policies least-kv-usage --profile /tmp/srv/profile.json --slo-ttft-ms 1000 --slo-tpot-ms 50 --out /tmp/sim > /dev/null
cp /tmp/sim/as-traced-least-kv-usage/report.json $OUT/sim-report.json; cp /tmp/sim/as-traced-least-kv-usage/report.md $OUT/sim-report.md
$LG compare $OUT/real/report.json $OUT/sim-report.json | tee $OUT/compare.md
cat $OUT/real/report.md | head -30
tail -5 $OUT/server.log
curl -s http://127.0.0.1:8080/metrics > $OUT/metrics.txt; grep -E 'engine_step_duration_seconds_(sum|count)' $OUT/metrics.txt
kill $SERVER; sleep 2; kill -9 $SERVER 2>/dev/null
# The served run's steps with prefill (after the warm-up) again as fixed shapes of the same composition.
tail -n +$(( $(grep -o '[0-9]*' $OUT/steps-from.txt | head -1) + 1 )) $OUT/steps.jsonl > /tmp/steps-run.jsonl
python3 - <<'PY' | tee $OUT/steps-summary.txt
import json
s=[json.loads(l) for l in open('/tmp/steps-run.jsonl')]
g=[x['ms'] for x in s if x['graph']]; m=[x['ms'] for x in s if not x['graph'] and x['prefill']]; e=[x['ms'] for x in s if not x['graph'] and not x['prefill']]
print(f"served steps: {len(g)} decode graphs at {sum(g)/max(1,len(g)):.1f} ms, {len(m)} with prefill at {sum(m)/max(1,len(m)):.1f} ms, {len(e)} eager decode-only at {sum(e)/max(1,len(e)):.1f} ms")
PY
[ -n "${SERVED_ONLY:-}" ] && { gzip -c $OUT/steps.jsonl > $OUT/steps.jsonl.gz; exit 0; }
# A profile fitted to this run's own steps, and the simulator again with it.
# Named for the GPU it was fitted on (llama-3-8b-h100-torchsharp-served, ...-h200-...), with the run in its provenance: ready
# to become a built-in profile (src/ControlPlane.Simulation/Profiles/) as it comes back.
GPU_TAG=$(grep -oiE 'h100|h200|a100|b200' $OUT/gpu.txt | head -1 | tr 'A-Z' 'a-z'); GPU_TAG=${GPU_TAG:-gpu}
python3 $B/fit_profile.py /tmp/steps-run.jsonl /tmp/srv/profile.json llama-3-8b-$GPU_TAG-torchsharp-served > $OUT/fitted-profile.json 2> $OUT/fit.txt; cat $OUT/fit.txt
GPU_NAME="$(head -1 $OUT/gpu.txt)" RUN_DATE="$(date -u +%F)" python3 - $OUT/fitted-profile.json <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
p['provenance'] = (f"Fitted to a served run, not to fixed shapes: the engine's step log of {os.environ.get('N', '400')} Azure 2023 conversation "
    f"requests at {os.environ.get('S', '2')}x through the gateway on one {os.environ['GPU_NAME']}, {os.environ['RUN_DATE']} "
    "(tests/ControlPlane.Engine.Benchmarks/serving.sh, PART=b of gpu-session.sh), our TorchSharp engine with its CUDA kernels and decode graphs, "
    "Llama-3-8B shape with random bf16 weights, 40 GB of KV cache. " + p['provenance'])
json.dump(p, open(sys.argv[1], 'w'), indent=2)
PY
CONTROLPLANE_STEP_LOG=/tmp/simfit-steps.jsonl $LG simulate --trace $T --max-requests ${N:-400} --speedup ${S:-2} --instances 1 --policies least-kv-usage --profile $OUT/fitted-profile.json --slo-ttft-ms 1000 --slo-tpot-ms 50 --out /tmp/simfit > /dev/null
cp /tmp/simfit/as-traced-least-kv-usage/report.json $OUT/sim-fitted-report.json
$LG compare $OUT/real/report.json $OUT/sim-fitted-report.json | tee $OUT/compare-fitted.md
# The served schedule beside the simulator's, step by step in aggregate.
python3 $B/compare_steps.py served=/tmp/steps-run.jsonl simulated=/tmp/sim-steps.jsonl simulated-fitted=/tmp/simfit-steps.jsonl | tee -a $OUT/compare-fitted.md
timeout 150 dotnet /tmp/pub-bench/ControlPlane.Engine.Benchmarks.dll steps --model /tmp/l8b --device cuda --log /tmp/steps-run.jsonl --out $OUT/steps-replay.txt | tail -3
# A call returns at most 8 files: the rest stay in /tmp/serving-extra.
mkdir -p /tmp/serving-extra; gzip -c $OUT/steps.jsonl > $OUT/steps.jsonl.gz
cat $OUT/real/report.md $OUT/steps-summary.txt $OUT/fit.txt $OUT/steps-replay.txt > $OUT/serving.md 2>/dev/null
for f in $OUT/*; do case $(basename $f) in serving.md|compare.md|compare-fitted.md|fitted-profile.json|steps.jsonl.gz|metrics.txt|server.log|gpu.txt) ;; *) mv $f /tmp/serving-extra/ ;; esac; done
echo done
