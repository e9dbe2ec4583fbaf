using System.Diagnostics;
using System.Globalization;
using ControlPlane.Engine.Cuda;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// Where a decode step's time goes (issue 16, build item 4): each part of the decode forward (the four matrix products,
/// attention, norms, RoPE with the cache write, SiLU·up, the LM head) run alone over every layer, so its weights and KV come
/// from memory as in a step, timed over repeats, with the bytes it must move and the share of the measured copy bandwidth
/// that makes. The parts' sum beside the bound says what each costs against the ideal. Each part is timed on the GPU
/// (CUDA events, the part's 32 layers queued behind milliseconds of other work, so the host's launches are hidden and the
/// kernels run back to back as in a graph); its host-timed figure (launched one by one and waited for, which for the
/// small kernels is mostly the host's launch cost) is shown beside it.
/// </summary>
internal static class DecodePartsBenchmark
{
    public static List<string> Run(LlamaWeights model, Device device, IEnumerable<(int Batch, int Context)> shapes, IReadOnlyDictionary<string, int>? tuning = null)
    {
        var c = model.Config;
        var lines = new List<string>();
        var kernels = CudaKernels.TryCreate(c, 16, model.DType, device, out var why, tuning) ?? throw new InvalidOperationException(why);
        var copyBytesPerSecond = CopyBandwidth(device);
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"copy bandwidth {copyBytesPerSecond / 1e12:F2} TB/s (read + write of a 2 GiB copy); tuning {(tuning is null ? "default" : string.Join(",", tuning.Select(p => $"{p.Key}={p.Value}")))}"));
        using var rope = new RotaryEmbedding(c, 8192, device, model.DType);
        var element = (long)model.Embeddings.ElementSize;
        var kvBytesPerToken = 2L * c.KvHeads * c.HeadDim * element; // one layer's K and V
        foreach (var (batch, context) in shapes)
        {
            using var scope = NewDisposeScope();
            var blocksPer = (context + 15) / 16 + 1;
            var width = 1 << (int)Math.Ceiling(Math.Log2(blocksPer + 1));
            var slotsTotal = batch * blocksPer * 16L;
            // A cache of this shape per layer (as in a step, every layer reads its own KV), tables in shuffled block order.
            var keys = Enumerable.Range(0, c.Layers).Select(_ => randn([slotsTotal, c.KvHeads, c.HeadDim], model.DType, device)).ToArray();
            var values = Enumerable.Range(0, c.Layers).Select(_ => randn([slotsTotal, c.KvHeads, c.HeadDim], model.DType, device)).ToArray();
            var shuffle = new Random(1);
            var permutation = Enumerable.Range(0, batch * blocksPer).OrderBy(_ => shuffle.Next()).ToArray();
            var table = new long[batch * width];
            for (var b = 0; b < batch; b++)
                for (var j = 0; j < blocksPer; j++)
                    table[b * width + j] = permutation[b * blocksPer + j];
            var tables = tensor(table, device: device).view(batch, width);
            var lengths = tensor(Enumerable.Repeat((long)context, batch).ToArray(), device: device);
            var positions = tensor(Enumerable.Repeat((long)context - 1, batch).ToArray(), device: device);
            var slots = tensor(Enumerable.Range(0, batch).Select(b => table[b * width + (context - 1) / 16] * 16 + (context - 1) % 16).ToArray(), device: device);
            var partitionTokens = kernels.PartitionTokens(batch, width * 16);
            var partitions = (width * 16 + partitionTokens - 1) / partitionTokens;

            var x = randn([batch, c.HiddenSize], model.DType, device) * 0.1;
            var normed = kernels.RmsNorm(x, model.Layers[0].InputNorm, c.RmsNormEps);
            var qkv = F.linear(normed, model.Layers[0].Qkv, model.Layers[0].QkvBias);
            var q = kernels.RopeQkv(qkv, rope.Cos, rope.Sin, positions, slots, keys[0], values[0]);
            var attention = kernels.PagedDecode(q, keys[0], values[0], tables, lengths, partitionTokens, partitions);
            var gateUp = F.linear(normed, model.Layers[0].GateUp);
            var act = kernels.SiluMul(gateUp);

            long W(Tensor t) => t.numel() * element;
            var act2 = (long)batch * c.HiddenSize * element;
            // Beside: timed and shown beside the sum, not in it (the same product once more, another way).
            var parts = new (string Name, long Bytes, Action<int> Op, bool Beside)[]
            {
                ("rms_norm x2", 2 * (2 * act2 + c.HiddenSize * element), l => { kernels.RmsNorm(x, model.Layers[l].InputNorm, c.RmsNormEps).Dispose(); kernels.RmsNorm(x, model.Layers[l].PostNorm, c.RmsNormEps).Dispose(); }, false),
                ("qkv product", W(model.Layers[0].Qkv), l => F.linear(normed, model.Layers[l].Qkv, model.Layers[l].QkvBias).Dispose(), false),
                ("rope + cache write", 2 * qkv.numel() * element, l => kernels.RopeQkv(qkv, rope.Cos, rope.Sin, positions, slots, keys[l], values[l]).Dispose(), false),
                ("attention", (long)batch * context * kvBytesPerToken, l => kernels.PagedDecode(q, keys[l], values[l], tables, lengths, partitionTokens, partitions).Dispose(), false),
                ("o product (+residual)", W(model.Layers[0].Output), l => x.addmm_(attention, model.Layers[l].Output.t()), false),
                ("gate-up product", W(model.Layers[0].GateUp), l => F.linear(normed, model.Layers[l].GateUp).Dispose(), false),
                ("silu * up", 3 * act.numel() * element, l => kernels.SiluMul(gateUp).Dispose(), false),
                ("down product (+residual)", W(model.Layers[0].Down), l => x.addmm_(act, model.Layers[l].Down.t()), false),
            };
            // With tuning GEMM_TUNE=1: the four products again with the cuBLASLt algorithm measured fastest for this batch.
            DecodeProducts? products = null;
            if (kernels.TunesProducts)
            {
                products = DecodeProducts.TryCreate(model.DType, device, out var reason) ?? throw new InvalidOperationException(reason);
                products.Prepare(batch, model);
                kernels.Products = products;
                parts =
                [
                    .. parts,
                    ("qkv product, measured algo", W(model.Layers[0].Qkv), l => kernels.Linear(normed, model.Layers[l].Qkv, model.Layers[l].QkvBias).Dispose(), true),
                    ("o product, measured algo", W(model.Layers[0].Output), l => kernels.AddLinear(x, attention, model.Layers[l].Output), true),
                    ("gate-up, measured algo", W(model.Layers[0].GateUp), l => kernels.Linear(normed, model.Layers[l].GateUp).Dispose(), true),
                    ("down, measured algo", W(model.Layers[0].Down), l => kernels.AddLinear(x, act, model.Layers[l].Down), true),
                ];
                lines.AddRange(products.Choices.Select(choice => $"  measured: {choice}"));
            }
            double total = 0, totalBound = 0;
            var header = string.Create(CultureInfo.InvariantCulture, $"batch {batch} context {context} (partition {partitionTokens} tokens, {partitions} partitions)");
            lines.Add(header);
            foreach (var (name, bytes, op, beside) in parts)
            {
                void Layers() { for (var l = 0; l < c.Layers; l++) op(l); }
                var ms = GpuTime(Layers, model.DType, device);
                var hostMs = Time(Layers);
                var bound = c.Layers * bytes / copyBytesPerSecond * 1e3;
                if (!beside)
                {
                    total += ms;
                    totalBound += bound;
                }
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"  {name,-26} {ms,7:F3} ms  {c.Layers * bytes / (ms / 1e3) / 1e12,5:F2} TB/s  {bound / ms,6:P0} of bound ({bound:F3} ms; host-timed {hostMs:F3} ms)"));
            }
            var lmBytes = W(model.LmHead);
            var lm = GpuTime(() => F.linear(normed, model.LmHead).Dispose(), model.DType, device);
            var lmBound = lmBytes / copyBytesPerSecond * 1e3;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"  {"lm head",-26} {lm,7:F3} ms  {lmBytes / (lm / 1e3) / 1e12,5:F2} TB/s  {lmBound / lm,6:P0} of bound ({lmBound:F3} ms)"));
            total += lm;
            totalBound += lmBound;
            // The whole layer sequence eagerly (what the parts add up to when launched back to back), on the GPU's clock
            // with enough work queued ahead to hide its few hundred launches, and on the host's.
            void Whole()
            {
                using var s = NewDisposeScope();
                for (var l = 0; l < c.Layers; l++)
                {
                    var layer = model.Layers[l];
                    var h = F.linear(kernels.RmsNorm(x, layer.InputNorm, c.RmsNormEps), layer.Qkv, layer.QkvBias);
                    var qq = kernels.RopeQkv(h, rope.Cos, rope.Sin, positions, slots, keys[l], values[l]);
                    x.addmm_(kernels.PagedDecode(qq, keys[l], values[l], tables, lengths, partitionTokens, partitions), layer.Output.t());
                    x.addmm_(kernels.SiluMul(F.linear(kernels.RmsNorm(x, layer.PostNorm, c.RmsNormEps), layer.GateUp)), layer.Down.t());
                }
                F.linear(kernels.RmsNorm(x, model.Norm, c.RmsNormEps), model.LmHead).Dispose();
            }
            var whole = GpuTime(Whole, model.DType, device, ahead: 128);
            var wholeHost = Time(Whole);
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"  sum of parts {total:F3} ms, bound {totalBound:F3} ms ({totalBound / total:P0}); the layers back to back {whole:F3} ms ({totalBound / whole:P0} of bound; host-timed {wholeHost:F3} ms)"));
            kernels.Products = null;
            products?.Dispose();
            x.zero_(); // the residual adds above grow x: keep later shapes' inputs finite
            foreach (var t in keys.Concat(values))
                t.Dispose();
        }
        return lines;
    }

    /// <summary>
    /// GPU milliseconds a call of <paramref name="action"/>, the best of three, each queued behind <paramref name="ahead"/>
    /// 4096² products (32 are about 7 ms on an H100: longer than the host takes to launch a part's 32 layers).
    /// </summary>
    private static double GpuTime(Action action, ScalarType dtype, Device device, int ahead = 32) =>
        GpuTimer.Microseconds(_ => action(), dtype, device, calls: 1, rounds: 3, ahead: ahead) / 1e3;

    /// <summary>Milliseconds a call of <paramref name="action"/>, after two warm-up calls, over ten timed calls.</summary>
    private static double Time(Action action)
    {
        for (var i = 0; i < 2; i++)
            action();
        cuda.synchronize();
        const int repeats = 10;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < repeats; i++)
            action();
        cuda.synchronize();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds / repeats;
    }

    /// <summary>Bytes read and written per second by a 2 GiB device-to-device copy.</summary>
    internal static double CopyBandwidth(Device device)
    {
        using var source = empty([1L << 30], ScalarType.BFloat16, device);
        using var target = empty_like(source);
        source.fill_(1);
        var ms = Time(() => target.copy_(source));
        return 2.0 * (2L << 30) / (ms / 1e3);
    }
}
