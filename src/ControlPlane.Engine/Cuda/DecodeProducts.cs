using System.Globalization;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// A decode step's matrix products (qkv, o, gate-up, down: a few rows against every weight) with the cuBLASLt algorithm
/// that measured fastest for each shape on this GPU, chosen at start. cuBLAS picks one kernel by its heuristic; for 32–64
/// rows the small products (qkv, o) move 62–77 % of the bandwidth with it (<c>decode-parts</c>, H100 and H200). Here a
/// search of our own: the heuristic's candidates and every algorithm cuBLASLt lists for the types at each of its tiles are
/// timed as seeds, then, from the fastest, one configuration attribute at a time (tile, stages, k split with each
/// reduction scheme, CTA swizzling, custom option, cluster shape) is varied over every value cuBLASLt accepts for the
/// shape (<c>cublasLtMatmulAlgoCheck</c>), twice over, each round timed together on the GPU with every call on another
/// layer's weights so that they come from memory as in a step. The fastest few are checked against libtorch's own
/// product (same values to bf16 rounding, the same bits on a second run) and timed again at length; a shape keeps
/// libtorch's product unless one is at least 2 % faster. Work done once per batch bucket before its graphs are captured,
/// never while serving (build item 1); on with tuning GEMM_TUNE=1.
/// </summary>
public sealed unsafe class DecodeProducts : IDisposable
{
    /// <summary>One shape's measurement: rows × outputs × inputs, libtorch's time and the chosen one's, in µs a call.</summary>
    public sealed record Choice(int Rows, int Outputs, int Inputs, bool Accumulate, double TorchMicroseconds, double ChosenMicroseconds,
        string Algorithm, int Candidates, int Rejected)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Rows}x{Outputs}x{Inputs}{(Accumulate ? "+" : "")}: torch {TorchMicroseconds:F1} us, {Algorithm} {ChosenMicroseconds:F1} us ({Candidates} candidates, {Rejected} rejected)");
    }

    private sealed class Plan(IntPtr desc, IntPtr a, IntPtr b, IntPtr c)
    {
        public readonly IntPtr Desc = desc, A = a, B = b, C = c;
        public CublasLtApi.Algo Algo;
    }

    private const int Requested = 16;
    private const int MaxSeeds = 512;
    private const int QuickCalls = 6;
    private const int Sweeps = 2;
    private const int Finalists = 4;
    private const int CallsPerRound = 20;
    private const int Rounds = 2;
    private const long WorkspaceBytes = 32L << 20;
    private static readonly int[] SplitKs = [1, 2, 3, 4, 6, 8, 12, 16];
    private static readonly int[] ReductionSchemes = [1, 2, 4]; // in place, compute type, output type
    private const int MaxClusterShapeId = 47;
    private const int MaxCustomOption = 255;

    private readonly IntPtr _handle;
    private readonly int _dataType;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private readonly Tensor _workspace;
    private readonly Dictionary<(int M, int N, int K, bool Accumulate), Plan?> _plans = [];
    private readonly List<Plan> _owned = [];
    private readonly List<Choice> _choices = [];
    private int[]? _algoIds;
    private bool _disposed;

    private DecodeProducts(IntPtr handle, ScalarType dtype, Device device)
    {
        _handle = handle;
        _dtype = dtype;
        _device = device;
        _dataType = dtype == ScalarType.BFloat16 ? CublasLtApi.DataType16BF : CublasLtApi.DataType16F;
        _workspace = empty([WorkspaceBytes], ScalarType.Byte, device);
    }

    /// <summary>What was loaded at creation.</summary>
    public string Note { get; private init; } = "";

    /// <summary>What each tuned shape measured and took, in the order tuned.</summary>
    public IReadOnlyList<Choice> Choices => _choices;

    /// <summary>
    /// Products for <paramref name="dtype"/> (bf16 or fp16) on <paramref name="device"/>; null, with the reason, where
    /// cuBLASLt is not there.
    /// </summary>
    public static DecodeProducts? TryCreate(ScalarType dtype, Device device, out string reason)
    {
        if (device.type != TorchSharp.DeviceType.CUDA || dtype is not (ScalarType.BFloat16 or ScalarType.Float16))
        {
            reason = "tuned products need bf16 or fp16 weights on a CUDA device";
            return null;
        }
        try
        {
            NativeLibraries.Register();
            CublasLtApi.Check(CublasLtApi.cublasLtCreate(out var handle), "cublasLtCreate");
            reason = "cuBLASLt loaded";
            return new DecodeProducts(handle, dtype, device) { Note = reason };
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = e.Message;
            return null;
        }
    }

    /// <summary>
    /// Measures the products a decode step of <paramref name="rows"/> rows makes with <paramref name="weights"/>' layers
    /// (each shape once, however many buckets share it). Call outside any graph capture: it synchronizes. Its time counts in
    /// <see cref="DecodeGraphs.CaptureTime"/>.
    /// </summary>
    public void Prepare(int rows, LlamaWeights weights)
    {
        var layers = weights.Layers;
        if (layers[0].QkvBias is null)
            Tune(rows, layers.Select(l => l.Qkv).ToArray(), accumulate: false);
        Tune(rows, layers.Select(l => l.Output).ToArray(), accumulate: true);
        Tune(rows, layers.Select(l => l.GateUp).ToArray(), accumulate: false);
        Tune(rows, layers.Select(l => l.Down).ToArray(), accumulate: true);
    }

    /// <summary>
    /// input [rows, k] · weight [n, k]ᵀ, written to a new [rows, n] (or added to <paramref name="accumulateInto"/>) on
    /// <paramref name="stream"/> with the shape's measured algorithm; false (nothing launched) where the shape keeps libtorch's.
    /// </summary>
    public bool TryRun(Tensor input, Tensor weight, Tensor? accumulateInto, IntPtr stream, out Tensor? output)
    {
        output = null;
        if (_disposed || input.dim() != 2 || weight.dim() != 2 || input.dtype != _dtype || weight.dtype != _dtype || !input.is_contiguous() || !weight.is_contiguous())
            return false;
        var m = (int)input.shape[0];
        var k = (int)input.shape[1];
        var n = (int)weight.shape[0];
        if (weight.shape[1] != k || !_plans.TryGetValue((m, n, k, accumulateInto is not null), out var plan) || plan is null)
            return false;
        if (accumulateInto is not null && (!accumulateInto.is_contiguous() || accumulateInto.dtype != _dtype || accumulateInto.shape[0] != m || accumulateInto.shape[1] != n))
            return false;
        var target = accumulateInto ?? empty([m, n], _dtype, input.device);
        Launch(plan, input, weight, target, accumulateInto is not null, stream);
        output = target;
        return true;
    }

    private void Launch(Plan plan, Tensor input, Tensor weight, Tensor target, bool accumulate, IntPtr stream) =>
        Launch(plan, plan.Algo, input, weight, target, accumulate, stream);

    private void Launch(Plan plan, CublasLtApi.Algo algo, Tensor input, Tensor weight, Tensor target, bool accumulate, IntPtr stream)
    {
        float alpha = 1, beta = accumulate ? 1 : 0;
        var d = TorchCudaApi.DataPointer(target);
        CublasLtApi.Check(CublasLtApi.cublasLtMatmul(_handle, plan.Desc, &alpha, TorchCudaApi.DataPointer(weight), plan.A,
            TorchCudaApi.DataPointer(input), plan.B, &beta, d, plan.C, d, plan.C, &algo, TorchCudaApi.DataPointer(_workspace),
            (nuint)WorkspaceBytes, stream), "cublasLtMatmul");
    }

    private void Tune(int m, IReadOnlyList<Tensor> weights, bool accumulate)
    {
        var n = (int)weights[0].shape[0];
        var k = (int)weights[0].shape[1];
        if (_plans.ContainsKey((m, n, k, accumulate)) || weights.Any(w => !w.is_contiguous() || w.dtype != _dtype))
            return;
        using var scope = NewDisposeScope();
        var plan = NewPlan(m, n, k);
        var x = (randn([m, k], ScalarType.Float32, _device) * 0.5).to(_dtype);
        var start = (randn([m, n], ScalarType.Float32, _device) * 0.5).to(_dtype);
        var reference = accumulate ? start.clone().addmm_(x, weights[0].t()) : F.linear(x, weights[0]);
        var tolerance = reference.abs().max().to(ScalarType.Float32).item<float>() / 64 + 1e-3f;
        var target = accumulate ? start.clone() : empty([m, n], _dtype, _device);
        var torchTime = GpuTimer.Microseconds(i =>
        {
            if (accumulate)
                target.addmm_(x, weights[i % weights.Count].t());
            else
                F.linear(x, weights[i % weights.Count]).Dispose();
        }, _dtype, _device, CallsPerRound, Rounds);
        var ranked = Search(plan, x, weights, target, accumulate);
        var best = (Time: double.MaxValue, Algo: default(CublasLtApi.Algo), Found: false);
        var rejected = 0;
        foreach (var (algo, _) in ranked.Take(Finalists))
        {
            // Same values as libtorch's to bf16 rounding, and the same bits twice: else the candidate is not taken.
            var first = accumulate ? start.clone() : empty([m, n], _dtype, _device);
            var second = accumulate ? start.clone() : empty([m, n], _dtype, _device);
            try
            {
                Launch(plan, algo, x, weights[0], first, accumulate, IntPtr.Zero);
                Launch(plan, algo, x, weights[0], second, accumulate, IntPtr.Zero);
            }
            catch (CudaException)
            {
                rejected++;
                continue;
            }
            var error = (first.to(ScalarType.Float32) - reference.to(ScalarType.Float32)).abs().max().item<float>();
            if (!(error <= tolerance) || !first.eq(second).all().item<bool>())
            {
                rejected++;
                continue;
            }
            var time = GpuTimer.Microseconds(i => Launch(plan, algo, x, weights[i % weights.Count], target, accumulate, IntPtr.Zero),
                _dtype, _device, CallsPerRound, Rounds);
            if (time < best.Time)
                best = (time, algo, true);
        }
        Choice choice;
        if (best.Found && best.Time < 0.98 * torchTime)
        {
            plan.Algo = best.Algo;
            _plans[(m, n, k, accumulate)] = plan;
            choice = new Choice(m, n, k, accumulate, torchTime, best.Time, Describe(best.Algo), ranked.Count, rejected);
        }
        else
        {
            _plans[(m, n, k, accumulate)] = null;
            choice = new Choice(m, n, k, accumulate, torchTime, best.Found ? best.Time : double.NaN,
                best.Found ? $"torch kept (best {Describe(best.Algo)})" : "torch kept", ranked.Count, rejected);
        }
        _choices.Add(choice);
    }

    /// <summary>
    /// Every configuration timed for the shape, fastest first by the quick timing: the seeds (the heuristic's candidates,
    /// each listed algorithm at each of its tiles), then from the fastest so far each attribute varied in turn.
    /// </summary>
    private List<(CublasLtApi.Algo Algo, double Microseconds)> Search(Plan plan, Tensor x, IReadOnlyList<Tensor> weights, Tensor target, bool accumulate)
    {
        var timed = new Dictionary<string, (CublasLtApi.Algo Algo, double Microseconds)>();
        // Times, in one queue, the best so far (where given) and every configuration not timed before that cuBLASLt accepts;
        // returns the best so far's time again (NaN where not given) and the new ones' times.
        (double Again, List<(CublasLtApi.Algo Algo, double Microseconds)> Fresh) Time(CublasLtApi.Algo? incumbent, IEnumerable<CublasLtApi.Algo> algos)
        {
            var keys = new HashSet<string>();
            var fresh = new List<CublasLtApi.Algo>();
            foreach (var algo in algos)
            {
                var key = Key(algo);
                if (!timed.ContainsKey(key) && keys.Add(key) && Check(plan, algo))
                    fresh.Add(algo);
            }
            if (fresh.Count == 0)
                return (double.NaN, []);
            var queue = (incumbent is { } i ? fresh.Prepend(i) : fresh).ToArray();
            var times = GpuTimer.MicrosecondsEach(queue.Select(a => (Action<int>)(c =>
                Launch(plan, a, x, weights[c % weights.Count], target, accumulate, IntPtr.Zero))).ToArray(), _dtype, _device, QuickCalls);
            var offset = incumbent is null ? 0 : 1;
            var result = new List<(CublasLtApi.Algo, double)>();
            for (var f = 0; f < fresh.Count; f++)
            {
                if (double.IsNaN(times[f + offset]))
                    continue;
                timed[Key(fresh[f])] = (fresh[f], times[f + offset]);
                result.Add((fresh[f], times[f + offset]));
            }
            return (offset == 1 ? times[0] : double.NaN, result);
        }

        Time(null, Heuristics(plan).Select(r => r.Algo).Concat(Seeds(plan)).Take(MaxSeeds));
        if (timed.Count == 0)
            return [];
        var current = timed.Values.MinBy(t => t.Microseconds);
        for (var sweep = 0; sweep < Sweeps; sweep++)
        {
            foreach (var vary in new Func<CublasLtApi.Algo, IEnumerable<CublasLtApi.Algo>>[] { Tiles, Stages, SplitK, Swizzles, CustomOptions, ClusterShapes })
            {
                // The best so far is timed again in the same queue as its variants: a move must win side by side, by 1 %.
                var (again, round) = Time(current.Algo, vary(current.Algo));
                if (round.Count == 0)
                    continue;
                var challenger = round.MinBy(t => t.Microseconds);
                if (challenger.Microseconds < 0.99 * (double.IsNaN(again) ? current.Microseconds : again))
                    current = challenger;
            }
        }
        return timed.Values.OrderBy(t => t.Microseconds).ToList();
    }

    /// <summary>Every algorithm cuBLASLt lists for the types, at each tile it offers (with its default stages, else the first that checks).</summary>
    private List<CublasLtApi.Algo> Seeds(Plan plan)
    {
        if (_algoIds is null)
        {
            var ids = new int[256];
            int returned;
            fixed (int* p = ids)
                returned = CublasLtApi.cublasLtMatmulAlgoGetIds(_handle, CublasLtApi.ComputeType32F, CublasLtApi.DataType32F, _dataType, _dataType,
                    _dataType, _dataType, ids.Length, p, out var count) == 0 ? count : 0;
            _algoIds = ids.Take(returned).ToArray();
        }
        var seeds = new List<CublasLtApi.Algo>();
        foreach (var id in _algoIds)
        {
            CublasLtApi.Algo algo;
            if (CublasLtApi.cublasLtMatmulAlgoInit(_handle, CublasLtApi.ComputeType32F, CublasLtApi.DataType32F, _dataType, _dataType,
                    _dataType, _dataType, id, &algo) != 0)
                continue;
            var tiles = CapArray(algo, CublasLtApi.AlgoCapTileIds);
            foreach (var tile in tiles.Length == 0 ? new uint[] { 0 } : tiles)
            {
                var withTile = With(algo, CublasLtApi.AlgoConfigTileId, tile);
                if (Check(plan, withTile))
                {
                    seeds.Add(withTile);
                    continue;
                }
                foreach (var stages in CapArray(algo, CublasLtApi.AlgoCapStagesIds))
                {
                    var withStages = With(withTile, CublasLtApi.AlgoConfigStagesId, stages);
                    if (Check(plan, withStages))
                    {
                        seeds.Add(withStages);
                        break;
                    }
                }
            }
        }
        return seeds;
    }

    private static IEnumerable<CublasLtApi.Algo> Tiles(CublasLtApi.Algo algo) =>
        CapArray(algo, CublasLtApi.AlgoCapTileIds).Select(t => With(algo, CublasLtApi.AlgoConfigTileId, t));

    private static IEnumerable<CublasLtApi.Algo> Stages(CublasLtApi.Algo algo) =>
        CapArray(algo, CublasLtApi.AlgoCapStagesIds).Select(t => With(algo, CublasLtApi.AlgoConfigStagesId, t));

    private static IEnumerable<CublasLtApi.Algo> SplitK(CublasLtApi.Algo algo)
    {
        if (CapInt(algo, CublasLtApi.AlgoCapSplitKSupport) == 0)
            yield break;
        var mask = (uint)CapInt(algo, CublasLtApi.AlgoCapReductionSchemeMask);
        foreach (var splits in SplitKs)
        {
            var split = With(algo, CublasLtApi.AlgoConfigSplitK, (uint)splits);
            if (splits == 1)
            {
                yield return With(split, CublasLtApi.AlgoConfigReductionScheme, 0u);
                continue;
            }
            foreach (var scheme in ReductionSchemes.Where(r => (mask & r) != 0))
                yield return With(split, CublasLtApi.AlgoConfigReductionScheme, (uint)scheme);
        }
    }

    private static IEnumerable<CublasLtApi.Algo> Swizzles(CublasLtApi.Algo algo) =>
        CapInt(algo, CublasLtApi.AlgoCapCtaSwizzlingSupport) == 0 ? [] : [With(algo, CublasLtApi.AlgoConfigCtaSwizzling, 0u), With(algo, CublasLtApi.AlgoConfigCtaSwizzling, 1u)];

    private static IEnumerable<CublasLtApi.Algo> CustomOptions(CublasLtApi.Algo algo) =>
        Enumerable.Range(0, Math.Min(MaxCustomOption, Math.Max(0, CapInt(algo, CublasLtApi.AlgoCapCustomOptionMax))) + 1)
            .Select(o => With(algo, CublasLtApi.AlgoConfigCustomOption, (uint)o));

    private static IEnumerable<CublasLtApi.Algo> ClusterShapes(CublasLtApi.Algo algo) =>
        Enumerable.Range(0, MaxClusterShapeId + 1).Select(c => With16(algo, CublasLtApi.AlgoConfigClusterShapeId, (ushort)c));

    /// <summary>Whether cuBLASLt accepts the configuration for the plan's shapes, within the workspace.</summary>
    private bool Check(Plan plan, CublasLtApi.Algo algo)
    {
        CublasLtApi.HeuristicResult result;
        return CublasLtApi.cublasLtMatmulAlgoCheck(_handle, plan.Desc, plan.A, plan.B, plan.C, plan.C, &algo, &result) == 0
            && result.State == 0 && result.WorkspaceSize <= (nuint)WorkspaceBytes;
    }

    private static CublasLtApi.Algo With(CublasLtApi.Algo algo, int attribute, uint value)
    {
        _ = CublasLtApi.cublasLtMatmulAlgoConfigSetAttribute(&algo, attribute, &value, sizeof(uint));
        return algo;
    }

    private static CublasLtApi.Algo With16(CublasLtApi.Algo algo, int attribute, ushort value)
    {
        _ = CublasLtApi.cublasLtMatmulAlgoConfigSetAttribute(&algo, attribute, &value, sizeof(ushort));
        return algo;
    }

    private static uint[] CapArray(CublasLtApi.Algo algo, int attribute)
    {
        if (CublasLtApi.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, null, 0, out var bytes) != 0 || bytes == 0)
            return [];
        var values = new uint[(int)bytes / sizeof(uint)];
        fixed (uint* p = values)
            return CublasLtApi.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, p, bytes, out _) == 0 ? values : [];
    }

    private static int CapInt(CublasLtApi.Algo algo, int attribute)
    {
        var value = 0;
        return CublasLtApi.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, &value, sizeof(int), out _) == 0 ? value : 0;
    }

    private static string Key(CublasLtApi.Algo algo) =>
        $"{algo.Data[0]:x}.{algo.Data[1]:x}.{algo.Data[2]:x}.{algo.Data[3]:x}.{algo.Data[4]:x}.{algo.Data[5]:x}.{algo.Data[6]:x}.{algo.Data[7]:x}";

    /// <summary>Descriptors of y[m, n] = x[m, k] · w[n, k]ᵀ in cuBLAS's column-major terms: yᵀ (n × m) = w (k × n)ᵀ · xᵀ (k × m).</summary>
    private Plan NewPlan(int m, int n, int k)
    {
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulDescCreate(out var desc, CublasLtApi.ComputeType32F, CublasLtApi.DataType32F), "cublasLtMatmulDescCreate");
        int transA = CublasLtApi.OpT, transB = CublasLtApi.OpN;
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulDescSetAttribute(desc, CublasLtApi.DescTransA, &transA, sizeof(int)), "cublasLtMatmulDescSetAttribute");
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulDescSetAttribute(desc, CublasLtApi.DescTransB, &transB, sizeof(int)), "cublasLtMatmulDescSetAttribute");
        CublasLtApi.Check(CublasLtApi.cublasLtMatrixLayoutCreate(out var a, _dataType, (ulong)k, (ulong)n, k), "cublasLtMatrixLayoutCreate");
        CublasLtApi.Check(CublasLtApi.cublasLtMatrixLayoutCreate(out var b, _dataType, (ulong)k, (ulong)m, k), "cublasLtMatrixLayoutCreate");
        CublasLtApi.Check(CublasLtApi.cublasLtMatrixLayoutCreate(out var c, _dataType, (ulong)n, (ulong)m, n), "cublasLtMatrixLayoutCreate");
        var plan = new Plan(desc, a, b, c);
        _owned.Add(plan);
        return plan;
    }

    private CublasLtApi.HeuristicResult[] Heuristics(Plan plan)
    {
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceCreate(out var preference), "cublasLtMatmulPreferenceCreate");
        try
        {
            var bytes = (ulong)WorkspaceBytes;
            CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceSetAttribute(preference, CublasLtApi.PreferenceMaxWorkspaceBytes, &bytes, sizeof(ulong)),
                "cublasLtMatmulPreferenceSetAttribute");
            var results = new CublasLtApi.HeuristicResult[Requested];
            int returned;
            fixed (CublasLtApi.HeuristicResult* r = results)
                CublasLtApi.Check(CublasLtApi.cublasLtMatmulAlgoGetHeuristic(_handle, plan.Desc, plan.A, plan.B, plan.C, plan.C, preference, Requested, r, out returned),
                    "cublasLtMatmulAlgoGetHeuristic");
            return results.Take(returned).Where(r => r.State == 0 && r.WorkspaceSize <= (nuint)WorkspaceBytes).ToArray();
        }
        finally
        {
            _ = CublasLtApi.cublasLtMatmulPreferenceDestroy(preference);
        }
    }

    private static string Describe(CublasLtApi.Algo algo) =>
        $"lt algo {Attribute(algo, CublasLtApi.AlgoConfigId)} tile {Attribute(algo, CublasLtApi.AlgoConfigTileId)} splitK {Attribute(algo, CublasLtApi.AlgoConfigSplitK)}" +
        $" reduction {Attribute(algo, CublasLtApi.AlgoConfigReductionScheme)} stages {Attribute(algo, CublasLtApi.AlgoConfigStagesId)}" +
        $" swizzle {Attribute(algo, CublasLtApi.AlgoConfigCtaSwizzling)} custom {Attribute(algo, CublasLtApi.AlgoConfigCustomOption)}" +
        $" cluster {Attribute16(algo, CublasLtApi.AlgoConfigClusterShapeId)}";

    private static int Attribute16(CublasLtApi.Algo algo, int attribute)
    {
        ushort value = 0;
        return CublasLtApi.cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof(ushort), out _) == 0 ? value : -1;
    }

    private static int Attribute(CublasLtApi.Algo algo, int attribute)
    {
        var value = 0;
        return CublasLtApi.cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof(int), out _) == 0 ? value : -1;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var plan in _owned)
        {
            _ = CublasLtApi.cublasLtMatrixLayoutDestroy(plan.A);
            _ = CublasLtApi.cublasLtMatrixLayoutDestroy(plan.B);
            _ = CublasLtApi.cublasLtMatrixLayoutDestroy(plan.C);
            _ = CublasLtApi.cublasLtMatmulDescDestroy(plan.Desc);
        }
        _ = CublasLtApi.cublasLtDestroy(_handle);
        _workspace.Dispose();
    }
}
