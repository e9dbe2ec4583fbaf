using System.Diagnostics;
using ControlPlane.Engine.Cuda;
using ControlPlane.Models.Configuration;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// The decode attention kernels alone, on a cache of the model's shape (random keys and values, shuffled blocks, lengths
/// that differ per sequence): µs a call and KV bytes read a second for each kernel and partition size, each output against
/// the first kernel's and against the same attention in fp32; then rms_norm's cost a call.
/// </summary>
internal static class DecodeAttentionBenchmark
{
    /// <param name="config">The model's shape.</param>
    /// <param name="device">A CUDA device.</param>
    /// <param name="twoKernels">Only the scalar kernel and the tensor-core one (with and without its direct output), not the deeper pipelines.</param>
    public static List<string> Run(LlamaConfig config, Device device, bool twoKernels)
    {
        var shuffle = new Random(1);
        var lines = new List<string>();
        // The scalar kernel (WARPS, UNROLL) and the tensor-core kernel; each output is checked against the first's.
        var variants = new (string Name, Dictionary<string, int> Tuning)[]
        {
            ("scalar w4 u2", new() { ["WARPS"] = 4, ["UNROLL"] = 2, ["DECODE_TC"] = 0 }),
            ("tensor cores", new() { ["DECODE_TC"] = 1, ["PARTITION_TUNE"] = 0 }), // partials and the reduce at every size
            ("tc measured", new() { ["DECODE_TC"] = 1, ["PARTITION_TUNE"] = 1 }), // one partition writes the output itself
            ("tc 3 stages", new() { ["DECODE_TC"] = 1, ["DSTAGES"] = 3, ["PARTITION_TUNE"] = 0 }),
            ("tc 4 stages", new() { ["DECODE_TC"] = 1, ["DSTAGES"] = 4, ["PARTITION_TUNE"] = 0 }),
        };
        if (twoKernels)
            variants = variants[..3]; // the scalar kernel and the tensor-core one at its default depth, with and without the direct output
        var compiled = variants.Select(v => (v.Name, Kernels: CudaKernels.TryCreate(config, 16, ScalarType.BFloat16, device, out var why,
            new Dictionary<string, int>(v.Tuning) { ["PTXAS_VERBOSE"] = 1 }) ?? throw new InvalidOperationException(why))).ToArray();
        foreach (var (name, kernels) in compiled)
            lines.Add($"{name} (tensor cores: {kernels.HasTensorCoreDecode}): {string.Join(" | ", kernels.CompileLog.Split('\n').Where(l => l.Contains("paged_decode", StringComparison.Ordinal) || l.Contains("registers", StringComparison.Ordinal)).Take(8))}");
        foreach (var (batch, context) in new[] { (1, 512), (1, 2048), (8, 512), (32, 512), (64, 512), (32, 2048), (64, 2048), (16, 8000) })
        {
            var blocksPer = (context + 15) / 16;
            var width = 1 << (int)Math.Ceiling(Math.Log2(blocksPer + 2));
            using var keys = randn([batch * blocksPer * 16L + 16, config.KvHeads, config.HeadDim], ScalarType.BFloat16, device);
            using var values = randn([batch * blocksPer * 16L + 16, config.KvHeads, config.HeadDim], ScalarType.BFloat16, device);
            using var q = randn([batch, config.Heads, config.HeadDim], ScalarType.BFloat16, device);
            var permutation = Enumerable.Range(0, batch * blocksPer).OrderBy(_ => shuffle.Next()).ToArray();
            var table = new long[batch * width];
            for (var b = 0; b < batch; b++)
                for (var j = 0; j < blocksPer; j++)
                    table[b * width + j] = permutation[b * blocksPer + j];
            using var tables = tensor(table, device: device).view(batch, width);
            // Lengths that differ per sequence (down to a third of the context), so partial partitions and chunks are exercised.
            using var lengths = tensor(Enumerable.Range(0, batch).Select(b => (long)Math.Max(1, context - b * context / (3 * Math.Max(1, batch)))).ToArray(), device: device);
            Tensor? reference = null;
            // The same attention in fp32 over the gathered context: each kernel's error against it.
            Tensor exact;
            using (NewDisposeScope())
            {
                var longest = lengths.max().item<long>();
                var slotIds = new long[batch * longest];
                for (var b = 0; b < batch; b++)
                    for (var p = 0; p < longest; p++)
                        slotIds[b * longest + p] = table[b * width + p / 16] * 16 + p % 16;
                var slotsT = tensor(slotIds, device: device);
                var kf = keys.index_select(0, slotsT).view(batch, longest, config.KvHeads, config.HeadDim).to(ScalarType.Float32).permute(0, 2, 1, 3);
                var vf = values.index_select(0, slotsT).view(batch, longest, config.KvHeads, config.HeadDim).to(ScalarType.Float32).permute(0, 2, 1, 3);
                var qf = q.to(ScalarType.Float32).view(batch, config.KvHeads, config.Heads / config.KvHeads, config.HeadDim);
                var scores = matmul(qf, kf.transpose(-1, -2)) / Math.Sqrt(config.HeadDim);
                var masked = Model.TorchOps.Arange(longest, ScalarType.Int64, device).view(1, 1, 1, -1) >= lengths.view(-1, 1, 1, 1);
                exact = matmul(scores.masked_fill(masked, double.NegativeInfinity).softmax(-1), vf).reshape(batch, -1).MoveToOuterDisposeScope();
            }
            foreach (var (name, kernels) in compiled)
            {
                foreach (var partition in new[] { 0, 64, 128, 256, 512, 1024, 2048 })
                {
                    var tokens = partition == 0 ? kernels.PartitionTokens(batch, width * 16) : partition;
                    var parts = (width * 16 + tokens - 1) / tokens;
                    using var result = kernels.PagedDecode(q, keys, values, tables, lengths, tokens, parts);
                    reference ??= result.to(ScalarType.Float32).clone();
                    var error = (result.to(ScalarType.Float32) - reference).abs().max().item<float>();
                    var exactError = (result.to(ScalarType.Float32) - exact).abs().max().item<float>();
                    for (var i = 0; i < 3; i++)
                        kernels.PagedDecode(q, keys, values, tables, lengths, tokens, parts).Dispose();
                    cuda.synchronize();
                    const int calls = 50;
                    var t0 = Stopwatch.GetTimestamp();
                    for (var i = 0; i < calls; i++)
                        kernels.PagedDecode(q, keys, values, tables, lengths, tokens, parts).Dispose();
                    cuda.synchronize();
                    var micros = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / calls;
                    var read = lengths.data<long>().ToArray().Sum();
                    var bytes = 2.0 * read * config.KvHeads * config.HeadDim * 2;
                    var line = $"{name} batch {batch,3} context {context,5} partition {tokens,4}{(partition == 0 ? "*" : " ")} {micros,8:F1} us {bytes / micros / 1e3,7:F0} GB/s  max |diff| vs first {error:G3}, vs fp32 {exactError:G3}";
                    Console.WriteLine(line);
                    lines.Add(line);
                }
            }
            reference?.Dispose();
            exact.Dispose();
        }
        var rmsKernels = CudaKernels.TryCreate(config, 16, ScalarType.BFloat16, device, out _)!;
        foreach (var rows in new[] { 1, 64 })
        {
            using var x = randn([rows, config.HiddenSize], ScalarType.BFloat16, device);
            using var w = randn([config.HiddenSize], ScalarType.BFloat16, device);
            rmsKernels.RmsNorm(x, w, 1e-5).Dispose();
            cuda.synchronize();
            var t0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < 200; i++)
                rmsKernels.RmsNorm(x, w, 1e-5).Dispose();
            cuda.synchronize();
            lines.Add($"rms_norm rows {rows}: {Stopwatch.GetElapsedTime(t0).TotalMicroseconds / 200:F1} us a call (launch included)");
        }
        foreach (var line in lines)
            Console.WriteLine(line);
        return lines;
    }
}
