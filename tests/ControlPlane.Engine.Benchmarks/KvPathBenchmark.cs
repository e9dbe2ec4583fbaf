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
/// The KV data path between two worker processes: blocks of a Llama-3-8B-shaped paged cache (32 layers, 8 KV heads
/// of 128, bf16, 16 tokens a block: 2 MiB) gathered, sent and scattered into the other process's cache with the
/// engine's own code (<see cref="KvBlockCopier"/>, <see cref="KvStreamSender"/>, <see cref="KvStreamListener"/>), two ways:
/// as bytes (copied to the host, the KV stream over loopback TCP with its CRC-32 and answers, copied back), and as
/// CUDA IPC handles (the receiver copies each gathered part device to device, within one GPU or over NVLink). Beside
/// them, their bounds in one process: the same gather, host copy and scatter with no socket; the same gather, device
/// copy and scatter; and a plain copy of one contiguous part (the copy engines, or NVLink). The receiver runs on the
/// same GPU, or on the host's GPU <c>peer-gpu</c> (its CUDA_VISIBLE_DEVICES lists that GPU first, then the others).
/// <c>kv-path [blocks-per-part] [parts] [cuda|cpu] [peer-gpu]</c> (cpu only checks the program on a machine without a GPU).
/// </summary>
internal static class KvPathBenchmark
{
    private const int Layers = 32, KvHeads = 8, HeadDim = 128, BlockSize = 16, CacheBlocks = 1024;

    public static async Task RunAsync(string[] args)
    {
        var perPart = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 8;
        var parts = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 64;
        var onCpu = args.Length > 3 && args[3] == "cpu";
        int? peerGpu = args.Length > 4 ? int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : null;
        if (!onCpu)
            torch.InitializeDeviceType(DeviceType.CUDA);
        var device = onCpu ? torch.CPU : torch.CUDA;
        // The in-process bound's destination: the peer's GPU as this process sees it (its index among this process's devices).
        var peerDevice = onCpu || peerGpu is not { } g || g == 0 ? device : torch.device(DeviceType.CUDA, g);
        using var source = new Copy(device);
        using var target = new Copy(peerDevice);
        var start = new ProcessStartInfo("dotnet", [typeof(KvPathBenchmark).Assembly.Location, "kv-path-receive", onCpu ? "cpu" : "cuda"])
        {
            RedirectStandardOutput = true,
        };
        if (peerGpu is { } gpu)
            start.Environment["CUDA_VISIBLE_DEVICES"] = ControlPlane.Engine.Cuda.GpuPinning.VisibleDevices(gpu, Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"));
        using var receiver = Process.Start(start)!;
        // The receiver listens on a port the system picks and says which.
        var ready = await receiver.StandardOutput.ReadLineAsync();
        if (ready?.StartsWith("ready ", StringComparison.Ordinal) != true)
            throw new InvalidOperationException($"the receiving process said '{ready}'");
        var port = int.Parse(ready[6..], System.Globalization.CultureInfo.InvariantCulture);

        var bytesPerPart = (long)perPart * Layers * 2 * BlockSize * KvHeads * HeadDim * 2;
        double streamed = 0, bound = 0, pinned = 0, handles = 0, deviceBound = 0, flatDevice = 0;
        string? refusal = null;
        // The copy engines' own rate: one contiguous part, device -> pinned host -> device, no gather or scatter.
        using var flat = empty([bytesPerPart], ScalarType.Byte, device);
        using var flatBack = empty([bytesPerPart], ScalarType.Byte, device);
        using var flatPeer = empty([bytesPerPart], ScalarType.Byte, peerDevice);
        using var staging = onCpu ? empty([bytesPerPart], ScalarType.Byte) : empty([bytesPerPart], ScalarType.Byte).pin_memory();
        for (var round = 0; round < 4; round++)
        {
            // The bound: device -> host -> device in one process, the same copier, no socket.
            var local = Rate(parts * bytesPerPart, onCpu, () =>
            {
                for (var p = 0; p < parts; p++)
                {
                    var blocks = Blocks(p, perPart);
                    target.Write(blocks, source.Read(blocks));
                }
            });
            var copies = Rate(parts * bytesPerPart, onCpu, () =>
            {
                for (var p = 0; p < parts; p++)
                {
                    staging.copy_(flat);
                    flatBack.copy_(staging);
                }
            });
            // The device path's bound: gather, device copy (to the peer's GPU), scatter, in one process.
            var onDevice = Rate(parts * bytesPerPart, onCpu, () =>
            {
                for (var p = 0; p < parts; p++)
                {
                    var blocks = Blocks(p, perPart);
                    using var gathered = source.Gather(blocks);
                    using var moved = peerGpu is null or 0 ? gathered.Tensor.clone() : gathered.Tensor.to(peerDevice);
                    using var there = new DeviceBlocks(moved.alias(), Layers, BlockSize, IntPtr.Zero);
                    target.Scatter(blocks, there);
                }
            });
            var flatCopies = Rate(parts * bytesPerPart, onCpu, () =>
            {
                for (var p = 0; p < parts; p++)
                    flatPeer.copy_(flat);
            });

            var watch = Stopwatch.StartNew();
            await using (var sender = await KvStreamSender.ConnectAsync("127.0.0.1", port, CancellationToken.None, devicePath: false))
                await sender.SendAsync(Enumerable.Range(0, parts).Select(p => Part(p, perPart, source)), CancellationToken.None);
            var overSocket = parts * bytesPerPart / watch.Elapsed.TotalSeconds / 1e9;
            watch.Restart();
            await using (var sender = await KvStreamSender.ConnectAsync("127.0.0.1", port, CancellationToken.None))
            {
                await sender.SendAsync(Enumerable.Range(0, parts).Select(p => DevicePart(p, perPart, source)), CancellationToken.None);
                refusal ??= sender.DevicePath == KvDevicePath.Yes ? null : sender.DevicePathRefusal ?? "the blocks could not be shared";
            }
            var byHandle = parts * bytesPerPart / watch.Elapsed.TotalSeconds / 1e9;
            if (round > 0) // the first round warms up CUDA, allocators, IPC mappings and the connections
            {
                streamed = Math.Max(streamed, overSocket);
                bound = Math.Max(bound, local);
                pinned = Math.Max(pinned, copies);
                handles = Math.Max(handles, byHandle);
                deviceBound = Math.Max(deviceBound, onDevice);
                flatDevice = Math.Max(flatDevice, flatCopies);
            }
        }
        receiver.Kill();
        var where = peerGpu is { } p2 && p2 != 0 ? $"GPU 0 -> GPU {p2}" : "one GPU";
        Console.WriteLine($"## KV data path between two worker processes, {where}");
        Console.WriteLine();
        Console.WriteLine($"{parts} parts of {perPart} blocks ({bytesPerPart / (1 << 20)} MiB each), best of three after a warm-up round.");
        Console.WriteLine();
        Console.WriteLine("| path | GB/s | of its bound |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| device -> host -> KV stream (loopback TCP) -> host -> device, two processes | {streamed:0.00} | {streamed / bound:0.00} |");
        Console.WriteLine($"| bound: device -> host -> device, one process, the same copier | {bound:0.00} | 1.00 |");
        Console.WriteLine($"| the copy engines: one contiguous part, device -> pinned host -> device | {pinned:0.00} | {pinned / bound:0.00} |");
        Console.WriteLine(refusal is null
            ? $"| device handle (CUDA IPC) -> device to device, two processes | {handles:0.00} | {handles / deviceBound:0.00} |"
            : $"| device handle refused ({refusal}): bytes instead | {handles:0.00} | {handles / deviceBound:0.00} |");
        Console.WriteLine($"| bound: gather, device copy, scatter, one process | {deviceBound:0.00} | 1.00 |");
        Console.WriteLine($"| one contiguous part device to device ({where}) | {flatDevice:0.00} | {flatDevice / deviceBound:0.00} |");
        Console.WriteLine($"| device handle ÷ KV stream | {handles / streamed:0.00}× | |");
        Stages(source, perPart, parts, onCpu);
    }

    /// <summary>
    /// Where the host path's time goes, stage by stage, each run alone over every part with the calls the copier makes
    /// (<see cref="KvBlockCopier.Read"/>, <see cref="KvBlockCopier.Write"/>) and the stream's checksum: profile before optimizing.
    /// </summary>
    private static void Stages(Copy source, int perPart, int parts, bool onCpu)
    {
        var cache = source.Cache;
        var device = cache.Keys[0].device;
        var rows = (long)perPart * BlockSize * 2 * Layers;
        var bytes = rows * KvHeads * HeadDim * 2;
        using var pinned = onCpu ? empty([rows, KvHeads, HeadDim], ScalarType.BFloat16) : empty([rows, KvHeads, HeadDim], ScalarType.BFloat16).pin_memory();
        using var slots = torch.tensor(Enumerable.Range(0, perPart * BlockSize).Select(i => (long)i).ToArray(), device: device);
        using var onDevice = empty([rows, KvHeads, HeadDim], ScalarType.BFloat16, device);
        var array = new byte[bytes];
        var pooled = System.Buffers.ArrayPool<byte>.Shared.Rent((int)bytes);
        var results = new List<(string Stage, double Ms)>();
        void Time(string stage, Action run)
        {
            run(); // warm-up
            if (!onCpu)
                torch.cuda.synchronize();
            var watch = Stopwatch.StartNew();
            for (var p = 0; p < parts; p++)
                run();
            if (!onCpu)
                torch.cuda.synchronize();
            results.Add((stage, watch.Elapsed.TotalMilliseconds / parts));
        }
        Time("gather on the device (index_select a layer, cat)", () =>
        {
            using var scope = NewDisposeScope();
            var parts2 = new List<Tensor>(2 * Layers);
            for (var l = 0; l < Layers; l++)
            {
                parts2.Add(cache.Keys[l].index_select(0, slots));
                parts2.Add(cache.Values[l].index_select(0, slots));
            }
            cat(parts2, 0);
        });
        Time("device -> pinned host (copy_)", () => pinned.copy_(onDevice));
        Time("pinned host -> new managed array (bytes.ToArray)", () => array = pinned.bytes.ToArray());
        Time("pinned host -> new uninitialized managed array", () =>
        {
            array = GC.AllocateUninitializedArray<byte>((int)bytes);
            pinned.bytes.CopyTo(array);
        });
        Time("pinned host -> pooled managed array", () => pinned.bytes.CopyTo(pooled));
        Time("device -> new managed array in one copy (copy_ into frombuffer)", () =>
        {
            array = GC.AllocateUninitializedArray<byte>((int)bytes);
            using var view = torch.frombuffer(array, ScalarType.BFloat16, count: bytes / 2);
            view.copy_(onDevice.flatten());
        });
        Time("CRC-32 of the part (each end)", () => System.IO.Hashing.Crc32.HashToUInt32(array));
        Time("managed array -> pinned host (CopyTo)", () => array.AsSpan().CopyTo(pinned.bytes));
        Time("pinned host -> device (to)", () =>
        {
            using var moved = pinned.to(device);
        });
        Time("scatter on the device (index_copy_ a layer)", () =>
        {
            var perLayer = (long)perPart * BlockSize;
            for (var l = 0; l < Layers; l++)
            {
                cache.Keys[l].index_copy_(0, slots, onDevice.narrow(0, 2L * l * perLayer, perLayer));
                cache.Values[l].index_copy_(0, slots, onDevice.narrow(0, (2L * l + 1) * perLayer, perLayer));
            }
        });
        System.Buffers.ArrayPool<byte>.Shared.Return(pooled);
        Console.WriteLine();
        Console.WriteLine($"### The host path's stages, one part of {bytes / (1 << 20)} MiB (mean of {parts})");
        Console.WriteLine();
        Console.WriteLine("| stage | ms a part | GB/s |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (stage, ms) in results)
            Console.WriteLine($"| {stage} | {ms:0.000} | {bytes / (ms / 1000) / 1e9:0.00} |");
    }

    private static double Rate(long bytes, bool onCpu, Action run)
    {
        var watch = Stopwatch.StartNew();
        run();
        if (!onCpu)
            torch.cuda.synchronize();
        return bytes / watch.Elapsed.TotalSeconds / 1e9;
    }

    /// <summary>The receiving worker: scatters each part it is sent into its own cache, opening device handles as an engine does.</summary>
    public static async Task ReceiveAsync(string[] args)
    {
        var onCpu = args.Length > 1 && args[1] == "cpu";
        if (!onCpu)
            torch.InitializeDeviceType(DeviceType.CUDA);
        using var cache = new Copy(onCpu ? torch.CPU : torch.CUDA);
        await using var listener = new KvStreamListener((part, _) =>
        {
            IReadOnlyList<int> blocks = [.. Enumerable.Range(part.Header.FirstBlock, part.Header.BlockCount)];
            if (part.DeviceHandle is { } handle)
            {
                using var opened = cache.Open(handle, part.Header.BlockCount);
                cache.Scatter(blocks, opened);
            }
            else
            {
                cache.Write(blocks, part.Payload.Span);
            }
            if (!onCpu)
                torch.cuda.synchronize();
            return ValueTask.CompletedTask;
        }, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        Console.WriteLine($"ready {listener.Port}");
        await Task.Delay(Timeout.Infinite);
    }

    /// <summary>A part whose blocks stay gathered on the device: the sender shares them, or copies them to the host.</summary>
    private static KvPart DevicePart(int p, int perPart, Copy source)
    {
        var blocks = Blocks(p, perPart);
        var gathered = source.Gather(blocks);
        return new KvPart(Header(blocks, gathered.Bytes), ReadOnlyMemory<byte>.Empty) { DeviceData = gathered };
    }

    private static KvPart Part(int p, int perPart, Copy source)
    {
        var blocks = Blocks(p, perPart);
        var payload = source.Read(blocks);
        return new KvPart(Header(blocks, payload.Length), payload);
    }

    private static KvTransferHeader Header(int[] blocks, long bytes) => new()
    {
        RequestId = "bench", Model = "llama-3-8b-shape", Layout = "bench", DType = "bf16", KvBlockSize = BlockSize,
        FirstBlock = blocks[0], BlockCount = blocks.Length, TokenIds = [], PayloadBytes = bytes,
    };

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

        public PagedKvCache Cache => _cache;

        public DeviceBlocks Gather(IReadOnlyList<int> blocks) => _copier.Gather(blocks);

        public void Scatter(IReadOnlyList<int> blocks, DeviceBlocks data)
        {
            if (!_copier.Scatter(blocks, data))
                throw new InvalidOperationException("the gathered blocks do not fit this cache");
        }

        public DeviceBlocks Open(KvDeviceHandle handle, int blocks) => _copier.Open(handle, blocks);

        public void Write(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data) => _copier.Write(blocks, data);

        public void Dispose()
        {
            _cache.Dispose();
        }
    }
}
