using System.Diagnostics;
using System.Net;
using ControlPlane.Engine.KvCache;
using ControlPlane.Grains.Transfer;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The KV data path between two worker processes on one GPU: blocks of a Llama-3-8B-shaped paged cache (32
/// layers, 8 KV heads of 128, bf16, 16 tokens a block: 2 MiB) gathered and copied to the host, sent over the
/// KV stream (loopback TCP, CRC-32, answers), and scattered into the other process's cache, with the same
/// engine code as <c>TorchStepRunner.ReadBlocks</c>/<c>WriteBlocks</c> (<see cref="KvBlockCopier"/>). Beside it, the bound: the same
/// gather, host copy and scatter in one process, with no socket. <c>kv-path [blocks-per-part] [parts] [cuda|cpu]</c>
/// (cpu only checks the program on a machine without a GPU).
/// </summary>
internal static class KvPathBenchmark
{
    private const int Layers = 32, KvHeads = 8, HeadDim = 128, BlockSize = 16, CacheBlocks = 1024;

    public static async Task RunAsync(string[] args)
    {
        var perPart = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 8;
        var parts = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 64;
        var onCpu = args.Length > 3 && args[3] == "cpu";
        if (!onCpu)
            torch.InitializeDeviceType(DeviceType.CUDA);
        var device = onCpu ? torch.CPU : torch.CUDA;
        using var source = new Copy(device);
        using var target = new Copy(device);
        using var receiver = Process.Start(new ProcessStartInfo("dotnet", [typeof(KvPathBenchmark).Assembly.Location, "kv-path-receive", onCpu ? "cpu" : "cuda"])
        {
            RedirectStandardOutput = true,
        })!;
        // The receiver listens on a port the system picks and says which.
        var ready = await receiver.StandardOutput.ReadLineAsync();
        if (ready?.StartsWith("ready ", StringComparison.Ordinal) != true)
            throw new InvalidOperationException($"the receiving process said '{ready}'");
        var port = int.Parse(ready[6..], System.Globalization.CultureInfo.InvariantCulture);

        var bytesPerPart = (long)perPart * Layers * 2 * BlockSize * KvHeads * HeadDim * 2;
        double best = 0, bound = 0, pinned = 0;
        // The copy engines' own rate: one contiguous part, device -> pinned host -> device, no gather or scatter.
        using var flat = empty([bytesPerPart], ScalarType.Byte, device);
        using var flatBack = empty([bytesPerPart], ScalarType.Byte, device);
        using var staging = onCpu ? empty([bytesPerPart], ScalarType.Byte) : empty([bytesPerPart], ScalarType.Byte).pin_memory();
        for (var round = 0; round < 4; round++)
        {
            // The bound: device -> host -> device in one process, the same copier, no socket.
            var watch = Stopwatch.StartNew();
            for (var p = 0; p < parts; p++)
            {
                var blocks = Blocks(p, perPart);
                target.Write(blocks, source.Read(blocks));
            }
            if (!onCpu)
                torch.cuda.synchronize();
            var local = parts * bytesPerPart / watch.Elapsed.TotalSeconds / 1e9;
            watch.Restart();
            for (var p = 0; p < parts; p++)
            {
                staging.copy_(flat);
                flatBack.copy_(staging);
            }
            if (!onCpu)
                torch.cuda.synchronize();
            var copies = parts * bytesPerPart / watch.Elapsed.TotalSeconds / 1e9;

            await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", port, CancellationToken.None);
            watch.Restart();
            await sender.SendAsync(Enumerable.Range(0, parts).Select(p => Part(p, perPart, source)), CancellationToken.None);
            var streamed = parts * bytesPerPart / watch.Elapsed.TotalSeconds / 1e9;
            if (round > 0) // the first round warms up CUDA, allocators and the connection
            {
                best = Math.Max(best, streamed);
                bound = Math.Max(bound, local);
                pinned = Math.Max(pinned, copies);
            }
        }
        receiver.Kill();
        Console.WriteLine("## KV data path between two worker processes on one GPU");
        Console.WriteLine();
        Console.WriteLine($"{parts} parts of {perPart} blocks ({bytesPerPart / (1 << 20)} MiB each), best of three after a warm-up round.");
        Console.WriteLine();
        Console.WriteLine("| path | GB/s | of the bound |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| device -> host -> KV stream (loopback TCP) -> host -> device, two processes | {best:0.00} | {best / bound:0.00} |");
        Console.WriteLine($"| bound: device -> host -> device, one process, the same copier | {bound:0.00} | 1.00 |");
        Console.WriteLine($"| the copy engines: one contiguous part, device -> pinned host -> device | {pinned:0.00} | {pinned / bound:0.00} |");
    }

    /// <summary>The receiving worker: scatters each part it is sent into its own cache.</summary>
    public static async Task ReceiveAsync(string[] args)
    {
        var onCpu = args.Length > 1 && args[1] == "cpu";
        if (!onCpu)
            torch.InitializeDeviceType(DeviceType.CUDA);
        using var cache = new Copy(onCpu ? torch.CPU : torch.CUDA);
        await using var listener = new KvStreamListener((part, _) =>
        {
            cache.Write([.. Enumerable.Range(part.Header.FirstBlock, part.Header.BlockCount)], part.Payload.Span);
            if (!onCpu)
                torch.cuda.synchronize();
            return ValueTask.CompletedTask;
        }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        Console.WriteLine($"ready {listener.Port}");
        await Task.Delay(Timeout.Infinite);
    }

    private static KvPart Part(int p, int perPart, Copy source)
    {
        var blocks = Blocks(p, perPart);
        var payload = source.Read(blocks);
        return new KvPart(new KvTransferHeader
        {
            RequestId = "bench", Model = "llama-3-8b-shape", Layout = "bench", DType = "bf16", KvBlockSize = BlockSize,
            FirstBlock = blocks[0], BlockCount = blocks.Length, TokenIds = [], PayloadBytes = payload.Length,
        }, payload);
    }

    private static int[] Blocks(int part, int perPart) => [.. Enumerable.Range(part * perPart % (CacheBlocks - perPart), perPart)];

    /// <summary>A paged cache of the shape above with the engine's own block copier (<see cref="KvBlockCopier"/>).</summary>
    private sealed class Copy : IDisposable
    {
        private readonly PagedKvCache _cache;
        private readonly KvBlockCopier _copier;

        public Copy(Device device)
        {
            _cache = new PagedKvCache(Layers, CacheBlocks, BlockSize, KvHeads, HeadDim, ScalarType.BFloat16, device);
            _copier = new KvBlockCopier(_cache);
        }

        public byte[] Read(IReadOnlyList<int> blocks) => _copier.Read(blocks);

        public void Write(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data) => _copier.Write(blocks, data);

        public void Dispose()
        {
            _copier.Dispose();
            _cache.Dispose();
        }
    }
}
