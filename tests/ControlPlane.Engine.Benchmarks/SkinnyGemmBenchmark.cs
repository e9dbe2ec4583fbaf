using System.Globalization;
using ControlPlane.Engine.Cuda;
using ControlPlane.Models.Configuration;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// Our skinny product kernel (<see cref="SkinnyGemm"/>) beside libtorch's for a decode step's four products (qkv; o and
/// down with the residual added, as the engine's addmm_ does; gate-up) at 1–64 rows: each checked against libtorch's
/// output (largest difference against the largest value) and timed on the GPU (<see cref="GpuTimer"/>), every call on
/// another of four copies of the weights so they come from memory as in a step, with 64 and 128 weight rows a block and
/// k split 1–8 ways. The bytes each must move at least are the weights (and x, y): GB/s and the share of the copy
/// bandwidth say how close each comes.
/// </summary>
internal static class SkinnyGemmBenchmark
{
    private const int Copies = 4;

    public static List<string> Run(LlamaConfig c, Device device, IReadOnlyList<int> rowCounts)
    {
        var dtype = ScalarType.BFloat16;
        var lines = new List<string>();
        var copyBandwidth = DecodePartsBenchmark.CopyBandwidth(device);
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"copy bandwidth {copyBandwidth / 1e12:F2} TB/s"));
        var kernels = new List<SkinnyGemm>();
        foreach (var (tile, stages) in new[] { (64, 4), (128, 4), (64, 6) })
        {
            var kernel = SkinnyGemm.TryCreate(dtype, device, tile, stages, out var why);
            lines.Add($"skinny {tile} rows a block, {stages} stages: {why}");
            if (kernel is not null)
                kernels.Add(kernel);
        }
        var shapes = new (string Name, int N, int K, bool Residual)[]
        {
            ("qkv", (c.Heads + 2 * c.KvHeads) * c.HeadDim, c.HiddenSize, false),
            ("o (+residual)", c.HiddenSize, c.Heads * c.HeadDim, true),
            ("gate-up", 2 * c.IntermediateSize, c.HiddenSize, false),
            ("down (+residual)", c.HiddenSize, c.IntermediateSize, true),
        };
        foreach (var (name, n, k, residual) in shapes)
        {
            using var scope = NewDisposeScope();
            var weights = Enumerable.Range(0, Copies).Select(_ => (randn([n, k], ScalarType.Float32, device) * 0.02).to(dtype)).ToArray();
            var bytes = (long)n * k * 2;
            foreach (var m in rowCounts)
            {
                using var inner = NewDisposeScope();
                var x = (randn([m, k], ScalarType.Float32, device) * 0.5).to(dtype);
                var start = (randn([m, n], ScalarType.Float32, device) * 0.5).to(dtype);
                var reference = residual ? start.clone().addmm_(x, weights[0].t()) : F.linear(x, weights[0]);
                var scale = reference.abs().max().to(ScalarType.Float32).item<float>();
                var target = start.clone();
                var torchUs = GpuTimer.Microseconds(i =>
                {
                    if (residual)
                        target.addmm_(x, weights[i % Copies].t());
                    else
                        F.linear(x, weights[i % Copies]).Dispose();
                }, dtype, device);
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-17} m {m,2}  n {n,5} k {k,5}  torch        {torchUs,7:F1} us  {bytes / (torchUs * 1e3),6:F0} GB/s  {bytes / (torchUs * 1e-6) / copyBandwidth,4:P0}"));
                foreach (var kernel in kernels)
                {
                    foreach (var splits in new[] { 1, 2, 4, 8 })
                    {
                        if (splits > k / SkinnyGemm.KStep)
                            continue;
                        var scratch = kernel.Scratch(n, device);
                        var output = residual ? start.clone() : empty([m, n], dtype, device);
                        kernel.Run(x, weights[0], output, residual ? output : null, splits, scratch);
                        var error = (output.to(ScalarType.Float32) - reference.to(ScalarType.Float32)).abs().max().item<float>() / scale;
                        var us = GpuTimer.Microseconds(i =>
                        {
                            if (residual)
                                kernel.Run(x, weights[i % Copies], target, target, splits, scratch);
                            else
                                kernel.Run(x, weights[i % Copies], output, null, splits, scratch);
                        }, dtype, device);
                        lines.Add(string.Create(CultureInfo.InvariantCulture,
                            $"{name,-17} m {m,2}  n {n,5} k {k,5}  bn {kernel.TileRows,3} st {kernel.Stages} s {splits}  {us,7:F1} us  {bytes / (us * 1e3),6:F0} GB/s  {bytes / (us * 1e-6) / copyBandwidth,4:P0}  x torch {torchUs / us,5:F2}  error {error:G3}"));
                    }
                }
                Console.WriteLine(lines[^1]);
            }
        }
        return lines;
    }
}
