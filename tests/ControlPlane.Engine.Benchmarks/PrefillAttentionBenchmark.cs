using System.Diagnostics;
using ControlPlane.Engine.Cuda;
using ControlPlane.Models.Configuration;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The paged prefill attention kernel beside what it replaces (a gather of each chunk's context, its KV heads repeated,
/// and scaled_dot_product_attention with the offset mask), on a bf16 cache of the model's shape with shuffled blocks:
/// the error of each against an fp32 reference, and the time of each per call (one layer), per batch of chunks.
/// </summary>
public static class PrefillAttentionBenchmark
{
    private const int BlockSize = 16;

    public static IReadOnlyList<string> Run(LlamaConfig config, Device device)
    {
        var kernels = CudaKernels.TryCreate(config, BlockSize, ScalarType.BFloat16, device, out var why) ?? throw new InvalidOperationException(why);
        if (!kernels.HasPrefill)
            throw new InvalidOperationException("no prefill kernel on this device");
        var lines = new List<string>();
        (int Query, int Offset)[][] batches =
        [
            [(100, 37), (1, 0), (77, 1000), (300, 15), (64, 64)],
            [(2048, 0)],
            [(2048, 4000)],
            [(1931, 0)],
            [(1808, 0)],
            [(512, 0), (512, 0), (512, 0), (512, 0)],
            [(1000, 3000), (500, 0), (548, 6000)],
            [(1024, 7168)],
        ];
        var random = new Random(3);
        foreach (var sequences in batches)
        {
            using var scope = NewDisposeScope();
            var contexts = sequences.Select(s => s.Query + s.Offset).ToArray();
            var blocksPer = contexts.Select(c => (c + BlockSize - 1) / BlockSize).ToArray();
            var totalBlocks = blocksPer.Sum();
            var permutation = Enumerable.Range(0, totalBlocks).OrderBy(_ => random.Next()).ToArray();
            var keys = randn([totalBlocks * (long)BlockSize, config.KvHeads, config.HeadDim], ScalarType.BFloat16, device);
            var values = randn([totalBlocks * (long)BlockSize, config.KvHeads, config.HeadDim], ScalarType.BFloat16, device);
            var rows = sequences.Sum(s => s.Query);
            var q = randn([rows, config.Heads, config.HeadDim], ScalarType.BFloat16, device);
            var width = blocksPer.Max();
            var table = new long[sequences.Length * width];
            var slots = new long[sequences.Length][];
            var used = 0;
            var tiles = new List<int[]>();
            var row = 0;
            for (var i = 0; i < sequences.Length; i++)
            {
                for (var j = 0; j < blocksPer[i]; j++)
                    table[i * width + j] = permutation[used + j];
                used += blocksPer[i];
                slots[i] = [.. Enumerable.Range(0, contexts[i]).Select(p => table[i * width + p / BlockSize] * BlockSize + p % BlockSize)];
                for (var t = 0; t < sequences[i].Query; t += CudaKernels.PrefillTileRows)
                    tiles.Add([row + t, Math.Min(CudaKernels.PrefillTileRows, sequences[i].Query - t), sequences[i].Offset + t, i]);
                row += sequences[i].Query;
            }
            var tileTensor = tensor(tiles.OrderByDescending(t => t[1] + t[2]).SelectMany(t => t).ToArray(), device: device).view(tiles.Count, 4);
            var tableTensor = tensor(table, device: device).view(sequences.Length, width);
            var slotTensors = slots.Select(s => tensor(s, device: device)).ToArray();
            var masks = sequences.Select((s, i) => s.Offset == 0 ? null : Mask(s.Query, contexts[i], device)).ToArray();

            // For the error, the output starts as NaN: a row the kernel failed to write cannot pass for a right one (an empty
            // tensor may reuse the memory of a result computed just before).
            Tensor Kernel(bool poisoned = false)
            {
                var output = poisoned ? full([rows, config.Heads * config.HeadDim], float.NaN, ScalarType.BFloat16, device)
                    : empty([rows, config.Heads * config.HeadDim], ScalarType.BFloat16, device);
                kernels.PagedPrefill(q, keys, values, tileTensor, tiles.Count, tableTensor, output);
                return output;
            }
            Tensor Gathered(ScalarType type)
            {
                var output = empty([rows, config.Heads * config.HeadDim], type, device);
                var start = 0;
                for (var i = 0; i < sequences.Length; i++)
                {
                    var n = sequences[i].Query;
                    var k = Repeat(keys.index_select(0, slotTensors[i]).to(type), config).transpose(0, 1).unsqueeze(0);
                    var v = Repeat(values.index_select(0, slotTensors[i]).to(type), config).transpose(0, 1).unsqueeze(0);
                    var query = q.narrow(0, start, n).to(type).transpose(0, 1).unsqueeze(0);
                    var o = masks[i] is null ? F.scaled_dot_product_attention(query, k, v, is_casual: true) : F.scaled_dot_product_attention(query, k, v, attn_mask: masks[i]);
                    output.narrow(0, start, n).copy_(o.squeeze(0).transpose(0, 1).reshape(n, -1));
                    start += n;
                }
                return output;
            }

            var firstSdpaMs = Time(() => Gathered(ScalarType.BFloat16).Dispose(), calls: 1, warmUp: 0);
            var reference = Gathered(ScalarType.Float32);
            var kernelError = (Kernel(poisoned: true).to(ScalarType.Float32) - reference).abs().max().item<float>();
            var sdpaError = (Gathered(ScalarType.BFloat16).to(ScalarType.Float32) - reference).abs().max().item<float>();
            var kernelMs = Time(() => Kernel().Dispose());
            var sdpaMs = Time(() => Gathered(ScalarType.BFloat16).Dispose());
            // Causal work: each new token attends its position + 1 keys; 4·D FLOPs per key and head (QKᵀ and PV).
            var flops = sequences.Sum(s => Enumerable.Range(0, s.Query).Sum(r => (double)(s.Offset + r + 1))) * 4.0 * config.HeadDim * config.Heads;
            var line = FormattableString.Invariant(
                $"prefill-attention {string.Join('+', sequences.Select(s => $"{s.Query}@{s.Offset}"))}: kernel {kernelMs:F3} ms ({flops / kernelMs / 1e9:F0} TFLOP/s, max error {kernelError:G3}) | gather+sdpa {sdpaMs:F3} ms (first call {firstSdpaMs:F1} ms, max error {sdpaError:G3}) | {sdpaMs / kernelMs:F2}x");
            Console.WriteLine(line);
            lines.Add(line);
        }
        return lines;
    }

    private static Tensor Mask(int query, int context, Device device)
    {
        var offset = context - query;
        var mask = new bool[query * context];
        for (var i = 0; i < query; i++)
            Array.Fill(mask, true, i * context, offset + i + 1);
        return tensor(mask, device: device).view(query, context);
    }

    private static Tensor Repeat(Tensor kv, LlamaConfig config) => kv.repeat_interleave(config.Heads / config.KvHeads, 1);

    private static double Time(Action call, int calls = 20, int warmUp = 3)
    {
        for (var i = 0; i < warmUp; i++)
            call();
        cuda.synchronize();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < calls; i++)
            call();
        cuda.synchronize();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds / calls;
    }
}
