#!/usr/bin/env bash
# On the GPU machine (carry [".gpu"] after ../shared/gpu/prepare.sh tests/ControlPlane.Engine.Benchmarks/ControlPlane.Engine.Benchmarks.csproj):
# the board's draw read through NvmlPowerActuator beside nvidia-smi's, idle and under a matmul load; read only.
set -uo pipefail
source .gpu/env.sh
nvidia-smi --query-gpu=timestamp,power.draw,power.default_limit --format=csv,nounits -lms 200 > $OUT/smi.csv &
SMI=$!
python3 -c "
import torch, time
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
time.sleep(4)
t = time.time()
while time.time() - t < 4:
    b = a @ a
torch.cuda.synchronize()
" &
LOAD=$!
timeout 60 dotnet .gpu/app/ControlPlane.Engine.Benchmarks.dll nvml 10 | tee $OUT/nvml.txt
wait $LOAD
kill $SMI
cat $OUT/smi.csv | head -60
