using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ControlPlane.Grains.Transfer;
using ControlPlane.Transfer;
using Microsoft.Extensions.Logging.Abstractions;

namespace ControlPlane.Benchmarks;

/// <summary>
/// The KV data path on loopback: parts of Llama-3-8B-sized blocks (2 MiB each: 16 tokens x 32 layers x K and V
/// x 8 heads x 128 x bf16) sent worker to worker with framing, CRC-32 per part and per-part answers, beside
/// the bound: the same bytes over a plain TCP socket, no framing, checksum or answers. Best of three each.
/// </summary>
internal static class KvStreamBenchmark
{
    private const int BlockBytes = 2 << 20;

    public static async Task RunAsync(int totalMiB = 2048, int blocksPerPart = 8)
    {
        var parts = (int)((long)totalMiB * (1 << 20) / ((long)BlockBytes * blocksPerPart));
        var payload = new byte[BlockBytes * blocksPerPart];
        new Random(5).NextBytes(payload);
        KvPart Part(int i) => new(new KvTransferHeader
        {
            RequestId = "bench", Model = "llama-3-8b", Layout = "bench", DType = "bf16", KvBlockSize = 16,
            FirstBlock = i * blocksPerPart, BlockCount = blocksPerPart, TokenIds = [], PayloadBytes = payload.Length,
        }, payload);

        double stream = 0, raw = 0;
        for (var round = 0; round < 3; round++)
        {
            stream = Math.Max(stream, await KvStreamAsync(parts, Part));
            raw = Math.Max(raw, await RawAsync((long)parts * payload.Length, payload));
        }
        Console.WriteLine($"## KV data path on loopback, {parts} parts of {blocksPerPart} x 2 MiB blocks ({totalMiB} MiB)");
        Console.WriteLine();
        Console.WriteLine("| path | GB/s | of the bound |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| KV stream (framing, CRC-32, answers, window 4) | {stream:0.00} | {stream / raw:0.00} |");
        Console.WriteLine($"| bound: plain TCP socket, same bytes | {raw:0.00} | 1.00 |");
        Console.WriteLine();
    }

    private static async Task<double> KvStreamAsync(int parts, Func<int, KvPart> part)
    {
        await using var listener = new KvStreamListener((_, _) => ValueTask.CompletedTask, NullLogger<KvStreamListener>.Instance);
        listener.Start(IPAddress.Loopback, 0);
        await using var sender = await KvStreamSender.ConnectAsync("127.0.0.1", listener.Port, CancellationToken.None);
        var watch = Stopwatch.StartNew();
        var bytes = await sender.SendAsync(Enumerable.Range(0, parts).Select(part), CancellationToken.None);
        return bytes / watch.Elapsed.TotalSeconds / 1e9;
    }

    private static async Task<double> RawAsync(long total, byte[] chunk)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var receive = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            client.ReceiveBufferSize = 4 << 20;
            var stream = client.GetStream();
            var buffer = new byte[chunk.Length];
            var left = total;
            while (left > 0)
                left -= await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)));
            stream.WriteByte(1);
        });
        using var sender = new TcpClient { NoDelay = true, SendBufferSize = 4 << 20 };
        await sender.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        var output = sender.GetStream();
        var watch = Stopwatch.StartNew();
        for (var sent = 0L; sent < total; sent += chunk.Length)
            await output.WriteAsync(chunk);
        await receive;
        return total / watch.Elapsed.TotalSeconds / 1e9;
    }
}
