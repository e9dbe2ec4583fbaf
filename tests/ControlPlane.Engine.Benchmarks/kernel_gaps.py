"""Where a decode step's time goes inside its CUDA graph, from Nsight Systems' reports (gpu-session.sh PART=j).

kernel_gaps.py KERNEL_SUMMARY.csv GPU_TRACE.csv: the kernels by total time (cuda_gpu_kern_sum), then, from the trace
(cuda_gpu_trace), the span from the first kernel to the last against the kernels' summed time and the idle time between
consecutive kernels (its median and the share of the span it takes).
"""
import csv, statistics, sys

def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if l.strip() and not l.startswith("Generating") and not l.startswith("Processing")]
    return list(csv.DictReader(lines))

summary = rows(sys.argv[1])
print("kernels by total time:")
for r in summary[:14]:
    name = r.get("Name", "?")[:70]
    print(f"  {float(r.get('Time (%)', 0)):5.1f} %  {int(r.get('Instances', 0)):6d} x  avg {float(r.get('Avg (ns)', 0)) / 1e3:8.2f} us  {name}")

trace = [r for r in rows(sys.argv[2]) if r.get("Name") and not r["Name"].startswith("[CUDA")]
events = sorted((int(float(r["Start (ns)"])), int(float(r["Duration (ns)"]))) for r in trace)
if events:
    span = events[-1][0] + events[-1][1] - events[0][0]
    busy = sum(d for _, d in events)
    gaps = [max(0, events[i + 1][0] - (events[i][0] + events[i][1])) for i in range(len(events) - 1)]
    print(f"{len(events)} kernels over {span / 1e6:.2f} ms: kernels {busy / 1e6:.2f} ms ({busy / span:.0%}), "
          f"idle between them {sum(gaps) / 1e6:.2f} ms, median gap {statistics.median(gaps) / 1e3:.2f} us, "
          f"p90 {sorted(gaps)[int(0.9 * len(gaps))] / 1e3:.2f} us")
