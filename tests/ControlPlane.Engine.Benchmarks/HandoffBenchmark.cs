using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ControlPlane.Engine.Loading;
using ControlPlane.Grains.Engines;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Tokens;
using ControlPlane.Transfer;
using TorchSharp;
using static TorchSharp.torch;
using static ControlPlane.Engine.Benchmarks.MigrationBenchmark;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// Prefill/decode disaggregation's handoff on the GPU (Splitwise's figure), with the production runner: a prompt of 1k
/// to 16k tokens prefills on one instance in chunks of <c>--max-batched</c> tokens while the blocks each chunk fills
/// go to a decode instance in another process (the KV stream); after its first token it stops, its last blocks follow,
/// and the other process decodes. Against the same request run on the prefill instance alone: the time to first token
/// (the staging's cost to the prefill), and the gap from the first to the second token (the stop: what the handoff adds
/// to the request's latency), each as a share of the time to first token.
/// Paths: <c>peer</c> (another process, parts as bytes over the KV stream), <c>peer-device</c> (another process, parts as
/// CUDA IPC handles copied device to device; with <c>--peer-gpu N</c> the decode process runs on the host's GPU N, over
/// NVLink), <c>local</c> (two engines in this process).
/// <c>handoff --model DIR [--prompts 1024,4096,16384] [--max-batched 2048] [--repeats 3] [--stage-blocks 64] [--path peer|peer-device|local] [--peer-gpu N] [--device cuda]</c>
/// </summary>
internal static class HandoffBenchmark
{
    private static int _runs;

    public static async Task RunAsync(Dictionary<string, string> options)
    {
        var folder = options["--model"];
        var onCuda = options.GetValueOrDefault("--device", "cuda") == "cuda";
        if (onCuda)
            torch.InitializeDeviceType(DeviceType.CUDA);
        var prompts = options.GetValueOrDefault("--prompts", "1024,4096,16384").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var maxBatched = int.Parse(options.GetValueOrDefault("--max-batched", "2048"), CultureInfo.InvariantCulture);
        var repeats = int.Parse(options.GetValueOrDefault("--repeats", "3"), CultureInfo.InvariantCulture);
        var stageBlocks = int.Parse(options.GetValueOrDefault("--stage-blocks", "64"), CultureInfo.InvariantCulture);
        var kvBlocks = int.Parse(options.GetValueOrDefault("--kv-blocks", "4096"), CultureInfo.InvariantCulture);
        var maxContext = prompts.Max() + 4096;

        var path = options.GetValueOrDefault("--path", "peer");
        var local = path == "local";
        int? peerGpu = options.TryGetValue("--peer-gpu", out var g) ? int.Parse(g, CultureInfo.InvariantCulture) : null;
        using var weights = ModelFolder.Load(folder, onCuda ? CUDA : CPU, ScalarType.BFloat16);
        Vocabulary = weights.Config.VocabularySize;
        var sink = new TimingSink();
        // The decode instance: another process (host memory and the KV stream), or another engine in this one (device to device).
        var decode = local ? Runner("decode", weights, kvBlocks, maxContext, onCuda, new MigrationConfig { StageBlocks = stageBlocks }) : null;
        await using var peer = local ? null : await PeerTarget.StartAsync(folder, onCuda, kvBlocks, maxContext, stageBlocks, devicePath: path == "peer-device", peerGpu);
        var target = new CountingTarget(local ? new LocalMigrationTarget(decode!, "local") : peer!);
        var prefill = Runner("prefill", weights, kvBlocks, maxContext, onCuda, new MigrationConfig { StageBlocks = stageBlocks }, maxBatched);
        prefill.Targets = _ => target;
        var rows = new List<Row>();
        var described = local ? "between two engines in one process (device to device)"
            : path == "peer-device" ? $"between two processes{(peerGpu is { } gpu ? $", decode on GPU {gpu}" : "")} (CUDA IPC handles, device to device)"
            : $"between two processes{(peerGpu is { } gpu2 ? $", decode on GPU {gpu2}" : "")} (host memory + KV stream)";
        Console.WriteLine($"## Prefill/decode handoff {described}, {folder}, {(onCuda ? "cuda" : "cpu")}, prefill chunks of {maxBatched} tokens, parts of at most {stageBlocks} blocks, median of {repeats}");
        Console.WriteLine();
        Console.WriteLine("| prompt | prefill chunks | TTFT alone ms | TTFT split ms | staging's cost to TTFT | 1st→2nd token alone ms | split ms | handoff adds ms | as share of TTFT | parts before the stop | last part's commit ms |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        try
        {
            await ColocatedAsync(prefill, sink, 1024); // warm-up: what runs once (JIT, allocations, the connection)
            await SplitAsync(prefill, sink, peer, target, 1024);
            foreach (var prompt in prompts)
            {
                var colocated = new List<(double Ttft, double Gap)>();
                var split = new List<(double Ttft, double Gap, int Parts, double CommitMs)>();
                for (var i = 0; i < repeats; i++)
                {
                    colocated.Add(await ColocatedAsync(prefill, sink, prompt));
                    split.Add(await SplitAsync(prefill, sink, peer, target, prompt));
                }
                var r = new Row(prompt, (prompt + maxBatched - 1) / maxBatched,
                    Median(colocated.Select(c => c.Ttft)), Median(split.Select(s => s.Ttft)),
                    Median(colocated.Select(c => c.Gap)), Median(split.Select(s => s.Gap)),
                    (int)Median(split.Select(s => (double)s.Parts)), Median(split.Select(s => s.CommitMs)));
                rows.Add(r);
                if (peer?.DevicePathRefusal is { } refused)
                    Console.WriteLine($"(the decode process could not open a device handle, so parts went as bytes: {refused})");
                // Each row as soon as it is measured: a run cut short keeps what it measured.
                Console.WriteLine(FormattableString.Invariant(
                    $"| {r.Prompt} | {r.Chunks} | {r.TtftAlone:0.0} | {r.TtftSplit:0.0} | {(r.TtftSplit / r.TtftAlone - 1):P1} | {r.GapAlone:0.0} | {r.GapSplit:0.0} | {r.GapSplit - r.GapAlone:0.0} | {(r.GapSplit - r.GapAlone) / r.TtftAlone:P1} | {r.Parts} | {r.CommitMs:0.0} |"));
            }
        }
        finally
        {
            await prefill.DisposeAsync();
            if (decode is not null)
                await decode.DisposeAsync();
        }

        if (options.TryGetValue("--out", out var output))
            await File.WriteAllTextAsync(output, JsonSerializer.Serialize(rows));
    }

    private sealed record Row(int Prompt, int Chunks, double TtftAlone, double TtftSplit, double GapAlone, double GapSplit, int Parts, double CommitMs);

    /// <summary>The request on the prefill instance alone: its time to first token and the gap to its second token.</summary>
    private static async Task<(double Ttft, double Gap)> ColocatedAsync(EngineRunner prefill, TimingSink sink, int prompt)
    {
        var spec = Spec($"h{Interlocked.Increment(ref _runs)}-alone-{prompt}", prompt, 4, _runs);
        var admitted = Stopwatch.GetTimestamp();
        prefill.Admit(spec, sink);
        await sink.WaitForTokensAsync(spec.RequestId, 2, TimeSpan.FromMinutes(2));
        var chunks = sink.Of(spec.RequestId);
        await prefill.AbortAsync(spec.RequestId);
        return (Ms(chunks[0].At - admitted), Ms(chunks[1].At - chunks[0].At));
    }

    /// <summary>The request split: prefilled here, handed to the other process, which sends its second token.</summary>
    private static async Task<(double Ttft, double Gap, int Parts, double CommitMs)> SplitAsync(EngineRunner prefill, TimingSink sink, PeerTarget? peer, CountingTarget target, int prompt)
    {
        var spec = Spec($"h{Interlocked.Increment(ref _runs)}-split-{prompt}", prompt, 4, _runs) with { HandoffTo = "peer" };
        target.Reset();
        var admitted = Stopwatch.GetTimestamp();
        prefill.Admit(spec, sink);
        await sink.WaitForTokensAsync(spec.RequestId, 1, TimeSpan.FromMinutes(2));
        var first = sink.Of(spec.RequestId)[0].At;
        var watch = Stopwatch.StartNew();
        long second;
        while ((second = peer is null ? sink.Of(spec.RequestId).Where(c => c.Instance != "prefill").Select(c => c.At).DefaultIfEmpty(0).Min()
            : await peer.FirstTokenAsync(spec.RequestId)) == 0)
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(30))
                throw new TimeoutException($"the decode process sent no token for {spec.RequestId}: the handoff did not commit (prefill holds it: {await prefill.HoldsAsync(spec.RequestId)})");
            await Task.Delay(5);
        }
        await target.AbortAsync(spec.RequestId);
        await prefill.AbortAsync(spec.RequestId);
        if (sink.Of(spec.RequestId).Count(c => c.Instance == "prefill") > 1)
            throw new InvalidOperationException($"{spec.RequestId} decoded on the prefill instance: the handoff failed");
        return (Ms(first - admitted), Ms(second - first), target.Parts, target.CommitMs);
    }

    /// <summary>The peer, counted: parts staged before the stop and the commit's duration. Outlives each handoff (the runner disposes its target).</summary>
    private sealed class CountingTarget(IMigrationTarget inner) : IMigrationTarget
    {
        public int Parts { get; private set; }
        public double CommitMs { get; private set; }
        public string InstanceId => inner.InstanceId;

        public string Silo => inner.Silo;
        public bool DeviceParts => inner.DeviceParts;
        public bool CopiesDeviceParts => inner.CopiesDeviceParts;

        public void Reset()
        {
            Parts = 0;
            CommitMs = double.NaN;
        }

        public Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken) => inner.BeginAsync(request, sink, blocks, cancellationToken);

        public async Task SendAsync(KvPart part, CancellationToken cancellationToken)
        {
            await inner.SendAsync(part, cancellationToken);
            Parts++;
        }

        public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var silo = await inner.CommitAsync(last, cancellationToken);
            CommitMs = Ms(Stopwatch.GetTimestamp() - started);
            return silo;
        }

        public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => inner.HoldsAsync(requestId, cancellationToken);
        public Task CancelAsync(string requestId) => inner.CancelAsync(requestId);
        public Task AbortAsync(string requestId) => inner.AbortAsync(requestId);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
