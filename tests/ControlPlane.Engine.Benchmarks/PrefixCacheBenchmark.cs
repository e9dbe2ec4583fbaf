using System.Diagnostics;
using System.Globalization;
using ControlPlane.Engine.Loading;
using ControlPlane.Grains.Engines;
using ControlPlane.Scheduling.Migration;
using TorchSharp;
using static TorchSharp.torch;
using static ControlPlane.Engine.Benchmarks.MigrationBenchmark;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The distributed KV cache on the GPU (Mooncake's question: fetch or recompute?), with the production engine and
/// runners: a long prompt's time to first token when its prefix is computed, when it comes back from the engine's
/// host-memory tier (a filler prompt pushed it there), and when another process fetches it over the KV data path
/// (exported from this engine, streamed, imported, then the request admitted there). Also what pushing blocks to host
/// memory costs the prompt that evicts them.
/// <c>prefix --model DIR [--tokens 32768] [--repeats 3] [--device cuda]</c>
/// </summary>
internal static class PrefixCacheBenchmark
{
    private static int _runs;
    private static long _sendTicks;

    public static async Task RunAsync(Dictionary<string, string> options)
    {
        var folder = options["--model"];
        var onCuda = options.GetValueOrDefault("--device", "cuda") == "cuda";
        if (onCuda)
            torch.InitializeDeviceType(DeviceType.CUDA);
        var tokens = int.Parse(options.GetValueOrDefault("--tokens", "32768"), CultureInfo.InvariantCulture);
        var repeats = int.Parse(options.GetValueOrDefault("--repeats", "3"), CultureInfo.InvariantCulture);
        var promptBlocks = tokens / 16 + 1;
        // Room for one long prompt and a little more: the filler must reclaim nearly all of the prompt's cached blocks.
        var kvBlocks = promptBlocks + 64;
        var maxContext = tokens + 1024;
        using var weights = ModelFolder.Load(folder, onCuda ? CUDA : CPU, ScalarType.BFloat16);
        Vocabulary = weights.Config.VocabularySize;
        var sink = new TimingSink();
        var engine = Runner("a", weights, kvBlocks, maxContext, onCuda, new MigrationConfig(), hostBlocks: 2 * promptBlocks);
        // The peer path: bytes over the KV stream (the default), or CUDA IPC handles copied device to device (--peer-path
        // device), the peer on this GPU or on the host's GPU --peer-gpu N.
        var devicePath = options.GetValueOrDefault("--peer-path", "bytes") == "device";
        int? peerGpu = options.TryGetValue("--peer-gpu", out var g) ? int.Parse(g, CultureInfo.InvariantCulture) : null;
        await using var peer = await PeerTarget.StartAsync(folder, onCuda, kvBlocks, maxContext, 64, devicePath, peerGpu);
        var path = (devicePath ? "device handles" : "KV stream") + (peerGpu is { } gpu ? $", peer on GPU {gpu}" : "");
        Console.WriteLine($"## Prefix of {tokens} tokens: computed, reloaded from host memory, fetched from another process ({path}; {folder}, {(onCuda ? "cuda" : "cpu")}), median of {repeats}");
        Console.WriteLine();
        Console.WriteLine("| prompt tokens | computed TTFT ms | filler TTFT ms (spills to host) | host reload TTFT ms | tokens from host | × faster than computing | peer: export ms | transfer ms | TTFT after import ms | peer total ms | × faster than computing | GB/s over the path |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        try
        {
            await MeasureAsync(engine, peer, sink, 2048); // warm-up: JIT, allocations, the connection, first shapes
            if (peer.DevicePathRefusal is { } refused)
                Console.WriteLine($"(the peer could not open a device handle, so the prefix went as bytes: {refused})");
            var rows = new List<double[]>();
            for (var i = 0; i < repeats; i++)
                rows.Add(await MeasureAsync(engine, peer, sink, tokens));
            double M(int k) => Median(rows.Select(r => r[k]));
            Console.WriteLine(FormattableString.Invariant(
                $"| {tokens} | {M(0):0.0} | {M(1):0.0} | {M(2):0.0} | {M(3):0} | {M(0) / M(2):0.0} | {M(4):0.0} | {M(5):0.0} | {M(6):0.0} | {M(7):0.0} | {M(0) / M(7):0.0} | {M(8):0.00} |"));
        }
        finally
        {
            await engine.DisposeAsync();
        }
    }

    private static async Task<double[]> MeasureAsync(EngineRunner engine, PeerTarget peer, TimingSink sink, int tokens)
    {
        var run = Interlocked.Increment(ref _runs);
        var prompt = Spec($"p{run}", tokens, 1, 1000 + run);
        var computed = await TtftAsync(engine, sink, prompt);
        // A filler as long evicts the prompt's cached blocks into the host tier (its own prefill pays for the copies).
        var filler = await TtftAsync(engine, sink, Spec($"f{run}", tokens, 1, 5000 + run));
        var loadedBefore = engine.HostLoadedBlocks;
        var reloaded = await TtftAsync(engine, sink, prompt with { RequestId = $"p{run}-again" });
        var fromHost = (engine.HostLoadedBlocks - loadedBefore) * 16.0;

        // The peer has never seen the prompt: its prefix goes over the KV stream, then it computes the last block.
        var started = Stopwatch.GetTimestamp();
        long bytes = 0;
        await engine.SendPrefixAsync($"p{run}/prefix", prompt.PromptTokenIds, 0, tokens / 16, async part =>
        {
            bytes += part.Header.PayloadBytes;
            var sending = Stopwatch.GetTimestamp();
            await peer.SendPrefixAsync(part, CancellationToken.None);
            _sendTicks += Stopwatch.GetTimestamp() - sending;
        }, () => peer.DeviceParts);
        var sent = Stopwatch.GetTimestamp();
        var transfer = _sendTicks;
        _sendTicks = 0;
        var exported = sent - transfer; // export (on the engine's loop) is the rest of the time
        var onPeer = prompt with { RequestId = $"p{run}-peer" };
        await peer.AdmitAsync(onPeer);
        long first;
        while ((first = await peer.FirstTokenAsync(onPeer.RequestId)) == 0)
            await Task.Delay(1);
        await peer.AbortAsync(onPeer.RequestId);
        return [computed, filler, reloaded, fromHost, Ms(exported - started), Ms(transfer), Ms(first - sent), Ms(first - started), bytes / (Ms(transfer) / 1000) / 1e9];
    }

    private static async Task<double> TtftAsync(EngineRunner engine, TimingSink sink, ControlPlane.Requests.RequestSpec request)
    {
        var admitted = Stopwatch.GetTimestamp();
        engine.Admit(request, sink);
        await sink.WaitForTokensAsync(request.RequestId, 1, TimeSpan.FromMinutes(5));
        var first = sink.Of(request.RequestId)[0].At;
        await engine.AbortAsync(request.RequestId);
        return Ms(first - admitted);
    }
}
