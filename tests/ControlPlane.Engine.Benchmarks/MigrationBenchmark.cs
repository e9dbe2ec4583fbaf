using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ControlPlane.Engine.Loading;
using ControlPlane.Grains.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Tokens;
using ControlPlane.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// Live migration downtime on the GPU (Llumnix's figure): a request decoding at a context of 1k to 32k tokens moves,
/// with the production engine runners and migration code, between two instances in one process (blocks device to
/// device) and between two processes on the same GPU (blocks through host memory and the KV stream). Downtime: the
/// gap between the last token before the suspend and the first after the commit, less one decode step. Beside it,
/// the slowdown of the other requests decoding on the source while the migration runs.
/// Between two processes the parts go as bytes over the KV stream (<c>peer</c>) or as CUDA IPC handles copied device to
/// device by the destination (<c>peer-device</c>); <c>--peer-gpu N</c> runs the destination on the host's GPU N
/// (its CUDA_VISIBLE_DEVICES lists N first, then the others), the source on the first GPU it sees.
/// <c>migration --model DIR [--contexts 1024,4096,16384,32768] [--background 8] [--modes local,peer,peer-device] [--stage-blocks 64] [--device cuda] [--peer-gpu N]</c>
/// </summary>
internal static partial class MigrationBenchmark
{
    private const string Model = "m";
    internal static int Vocabulary { get; set; } = 1000;
    private static int _runs;

    public static async Task RunAsync(Dictionary<string, string> options)
    {
        var folder = options["--model"];
        var onCuda = options.GetValueOrDefault("--device", "cuda") == "cuda";
        if (onCuda)
            torch.InitializeDeviceType(DeviceType.CUDA);
        var contexts = options.GetValueOrDefault("--contexts", "1024,4096,16384,32768").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var background = int.Parse(options.GetValueOrDefault("--background", "8"), CultureInfo.InvariantCulture);
        var modes = options.GetValueOrDefault("--modes", "local,peer").Split(',');
        var stageBlocks = int.Parse(options.GetValueOrDefault("--stage-blocks", "64"), CultureInfo.InvariantCulture);
        var kvBlocks = int.Parse(options.GetValueOrDefault("--kv-blocks", "4096"), CultureInfo.InvariantCulture);
        var migration = new MigrationConfig { StageBlocks = stageBlocks };
        int? peerGpu = options.TryGetValue("--peer-gpu", out var g) ? int.Parse(g, CultureInfo.InvariantCulture) : null;

        using var weights = ModelFolder.Load(folder, onCuda ? CUDA : CPU, ScalarType.BFloat16);
        Vocabulary = weights.Config.VocabularySize;
        var maxContext = contexts.Max() + 4096;
        var sink = new TimingSink();
        var source = Runner("source", weights, kvBlocks, maxContext, onCuda, migration);
        var local = Runner("local", weights, kvBlocks, maxContext, onCuda, migration);
        var rows = new List<Row>();
        try
        {
            // A first migration on each path warms up what runs once (JIT, allocations, the connection); it is not reported.
            if (modes.Contains("local"))
            {
                await MeasureAsync("warm-up", source, new TimedTarget(new LocalMigrationTarget(local, "local")), 1024, background, sink, null);
                foreach (var context in contexts)
                    rows.Add(await MeasureAsync("one process (device to device)", source, new TimedTarget(new LocalMigrationTarget(local, "local")), context, background, sink, null));
            }
            if (modes.Contains("local-host"))
            {
                // The same two engines, but the parts go through host memory as they would to another process: splits
                // what the device-to-device parts cost from what sharing one process and device costs.
                await MeasureAsync("warm-up", source, new TimedTarget(new LocalMigrationTarget(local, "local"), hostParts: true), 1024, background, sink, null);
                foreach (var context in contexts)
                    rows.Add(await MeasureAsync("one process (host memory)", source, new TimedTarget(new LocalMigrationTarget(local, "local"), hostParts: true), context, background, sink, null));
            }
            foreach (var (mode, devicePath) in new[] { ("peer", false), ("peer-device", true) })
            {
                if (!modes.Contains(mode))
                    continue;
                await using var peer = await PeerTarget.StartAsync(folder, onCuda, kvBlocks, maxContext, stageBlocks, devicePath, peerGpu);
                await MeasureAsync("warm-up", source, new TimedTarget(peer), 1024, background, sink, peer);
                var where = peerGpu is { } gpu ? $"two processes, peer on GPU {gpu}" : "two processes";
                foreach (var context in contexts)
                {
                    var row = await MeasureAsync("", source, new TimedTarget(peer), context, background, sink, peer);
                    // The path the parts took, as the sender found it (a receiver that cannot open a handle asks for bytes).
                    rows.Add(row with { Path = devicePath && peer.DevicePathRefusal is null ? $"{where} (device handle, CUDA IPC)" : $"{where} (host + KV stream{(devicePath ? $": {peer.DevicePathRefusal}" : "")})" });
                }
            }
        }
        finally
        {
            await source.DisposeAsync();
            await local.DisposeAsync();
        }

        Console.WriteLine($"## Live migration downtime, {Model} = {folder}, {(onCuda ? "cuda" : "cpu")}, {background} other requests decoding on the source, stages of {stageBlocks} blocks");
        Console.WriteLine();
        Console.WriteLine("| path | context | blocks moved | stages | migration ms | stop ms (source) | of which commit ms | token gap ms | decode step ms | downtime ms | others' TPOT before ms | during ms | slowdown |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            Console.WriteLine(FormattableString.Invariant(
                $"| {r.Path} | {r.Context} | {r.Blocks} | {r.Stages} | {r.MigrationMs:0.0} | {r.StopMs:0.00} | {r.CommitMs:0.00} | {r.GapMs:0.00} | {r.StepMs:0.00} | {r.GapMs - r.StepMs:0.00} | {r.OthersBeforeMs:0.00} | {r.OthersDuringMs:0.00} | {(r.OthersDuringMs / r.OthersBeforeMs - 1):P1} |"));
        }
        if (options.TryGetValue("--out", out var output))
            await File.WriteAllTextAsync(output, JsonSerializer.Serialize(rows));
    }

    private sealed record Row(string Path, int Context, int Blocks, int Stages, double MigrationMs, double StopMs, double CommitMs, double GapMs, double StepMs,
        double OthersBeforeMs, double OthersDuringMs, string Outcome);

    /// <summary>A target that times its commit (the destination taking in the last part), to split the stop.</summary>
    internal sealed class TimedTarget(IMigrationTarget inner, bool hostParts = false) : IMigrationTarget
    {
        public double CommitMs { get; private set; }
        public string InstanceId => inner.InstanceId;

        public string Silo => inner.Silo;
        public bool DeviceParts => inner.DeviceParts && !hostParts;
        public bool CopiesDeviceParts => inner.CopiesDeviceParts && !hostParts;
        public Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken) => inner.BeginAsync(request, sink, blocks, cancellationToken);
        public Task SendAsync(KvPart part, CancellationToken cancellationToken) => inner.SendAsync(part, cancellationToken);

        public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var silo = await inner.CommitAsync(last, cancellationToken);
            CommitMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return silo;
        }

        public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => inner.HoldsAsync(requestId, cancellationToken);
        public Task CancelAsync(string requestId) => inner.CancelAsync(requestId);
        public Task AbortAsync(string requestId) => inner.AbortAsync(requestId);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static async Task<Row> MeasureAsync(string path, EngineRunner source, IMigrationTarget target, int context, int background, TimingSink sink, PeerTarget? peer)
    {
        var tag = $"m{Interlocked.Increment(ref _runs)}-{context}";
        var others = Enumerable.Range(0, background).Select(i => Spec($"{tag}-bg{i}", 1024, 3000, i + 100)).ToArray();
        foreach (var spec in others)
            source.Admit(spec, sink);
        var moving = Spec($"{tag}-target", context - 32, 3000, 7);
        source.Admit(moving, sink);
        await sink.WaitForTokensAsync(moving.RequestId, 48, TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(1)); // the window before
        var started = Stopwatch.GetTimestamp();
        var result = await source.MigrateOutAsync(target, MigrationReason.Balance, moving.RequestId, CancellationToken.None);
        var ended = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(1));
        foreach (var spec in others)
            await source.AbortAsync(spec.RequestId);
        await source.AbortAsync(moving.RequestId);
        await target.AbortAsync(moving.RequestId);
        if (result.Outcome != MigrationOutcome.Committed)
            throw new InvalidOperationException($"{path}, context {context}: the migration ended {result.Outcome}: {result.Error}");

        var chunks = sink.Of(moving.RequestId);
        var lastOnSource = chunks.Where(c => c.Instance == source.Descriptor.InstanceId).Max(c => c.At);
        var firstOnDestination = peer is null
            ? chunks.Where(c => c.Instance != source.Descriptor.InstanceId).Min(c => c.At)
            : await peer.FirstTokenAsync(moving.RequestId);
        var before = chunks.Where(c => c.At < started).Select(c => c.At).Order().ToArray();
        var step = Median(Intervals(before.TakeLast(32).ToArray()));
        double Others(long from, long to) => Mean(others.SelectMany(o => Intervals([.. sink.Of(o.RequestId).Where(c => c.At >= from && c.At <= to).Select(c => c.At).Order()])));
        var window = ended - started;
        var oneSecond = Stopwatch.Frequency;
        return new Row(path, context, result.Blocks, result.Stages, Ms(window), result.Stop.TotalMilliseconds, (target as TimedTarget)?.CommitMs ?? double.NaN,
            Ms(firstOnDestination - lastOnSource), step,
            Others(started - oneSecond, started), Others(started, Math.Max(ended, started + Stopwatch.Frequency / 20)), result.Outcome.ToString());
    }

    internal static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static IEnumerable<double> Intervals(long[] times)
    {
        for (var i = 1; i < times.Length; i++)
            yield return Ms(times[i] - times[i - 1]);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    private static double Mean(IEnumerable<double> values)
    {
        var all = values.ToArray();
        return all.Length == 0 ? double.NaN : all.Average();
    }

    internal static RequestSpec Spec(string id, int promptTokens, int maxTokens, int seed)
    {
        var random = new Random(seed);
        return new RequestSpec
        {
            RequestId = id,
            Model = Model,
            PromptTokenIds = [.. Enumerable.Range(0, promptTokens).Select(_ => random.Next(10, Vocabulary - 10))],
            Sampling = new SamplingParameters { MaxTokens = maxTokens, Temperature = 0, IgnoreEndOfSequence = true },
        };
    }

    internal static EngineRunner Runner(string name, ControlPlane.Engine.Model.LlamaWeights weights, int kvBlocks, int maxContext, bool onCuda, MigrationConfig migration,
        int maxBatchedTokens = 8192, int hostBlocks = 0)
    {
        var engine = new TorchEngine(Model, weights, new IdTokenizer(weights.Config.VocabularySize), new TorchEngineOptions
        {
            KvBlocks = kvBlocks, MaxContextTokens = maxContext, MaxBatchedTokens = maxBatchedTokens, MaxRunningRequests = 64, CaptureGraphsAtStart = onCuda,
        });
        if (hostBlocks > 0)
            engine.AddHostTier(hostBlocks);
        var runner = new EngineRunner(new InstanceDescriptor
        {
            InstanceId = name, Model = Model, TotalKvBlocks = kvBlocks, KvBlockSize = engine.Descriptor.KvBlockSize,
            MaxContextTokens = engine.Descriptor.MaxContextTokens, Engine = TorchEngine.BackendName,
        }, engine, TimeProvider.System, new ConsoleErrorLogger(name)) { Migration = migration };
        runner.Start();
        return runner;
    }
}
