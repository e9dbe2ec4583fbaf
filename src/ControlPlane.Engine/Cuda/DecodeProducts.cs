using System.Globalization;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// A decode step's matrix products (qkv, o, gate-up, down: a few rows against every weight) with the cuBLASLt algorithm
/// that measured fastest for each shape on this GPU, chosen at start. cuBLAS picks one kernel by its heuristic; for 32–64
/// rows on the H100 that choice moved 70–77 % of the bandwidth on qkv and o (<c>decode-parts</c>). Here the heuristic's
/// candidates, and our own <see cref="SkinnyGemm"/> at two block sizes and four k splits where it compiles, are each
/// checked against libtorch's own product (same values to bf16 rounding, the same bits on a second run) and timed on the GPU, every call on another layer's weights so that they come from memory as in a step; a shape
/// keeps libtorch's product unless a candidate is at least 2 % faster. Work done once per batch bucket before its graphs
/// are captured, never while serving (build item 1); on with tuning GEMM_TUNE=1.
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

    private sealed class Plan(IntPtr desc, IntPtr a, IntPtr b, IntPtr c, CublasLtApi.Algo algo)
    {
        public readonly IntPtr Desc = desc, A = a, B = b, C = c;
        public CublasLtApi.Algo Algo = algo;

        /// <summary>Where set, our skinny kernel with k split <see cref="Splits"/> ways runs instead of cuBLASLt.</summary>
        public SkinnyGemm? Skinny;
        public int Splits;
    }

    /// <summary>A candidate for a shape: what it is called, and how it sets the plan.</summary>
    private sealed record Candidate(string Name, Action<Plan> Apply);

    private const int Requested = 16;
    private static readonly int[] SkinnyTileRows = [64, 128];
    private static readonly int[] SkinnySplits = [1, 2, 4, 8];
    private const int CallsPerRound = 20;
    private const int Rounds = 2;
    private const long WorkspaceBytes = 32L << 20;

    private readonly IntPtr _handle;
    private readonly int _dataType;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private readonly Tensor _workspace;
    private readonly Dictionary<(int M, int N, int K, bool Accumulate), Plan?> _plans = [];
    private readonly List<Plan> _owned = [];
    private readonly List<Choice> _choices = [];
    private readonly IReadOnlyList<SkinnyGemm> _skinny;
    private readonly Dictionary<(SkinnyGemm Kernel, int N), (Tensor Partials, Tensor Counters)> _skinnyScratch = [];
    private bool _disposed;

    private DecodeProducts(IntPtr handle, ScalarType dtype, Device device, IReadOnlyList<SkinnyGemm> skinny)
    {
        _handle = handle;
        _skinny = skinny;
        _dtype = dtype;
        _device = device;
        _dataType = dtype == ScalarType.BFloat16 ? CublasLtApi.DataType16BF : CublasLtApi.DataType16F;
        _workspace = empty([WorkspaceBytes], ScalarType.Byte, device);
    }

    /// <summary>What was loaded and compiled at creation (cuBLASLt, each skinny kernel or why not).</summary>
    public string Note { get; private init; } = "";

    /// <summary>What each tuned shape measured and took, in the order tuned.</summary>
    public IReadOnlyList<Choice> Choices => _choices;

    /// <summary>
    /// Products for <paramref name="dtype"/> (bf16 or fp16) on <paramref name="device"/>, our kernel's with programmatic
    /// dependent launch where <paramref name="programmatic"/>; null, with the reason, where cuBLASLt is not there.
    /// </summary>
    public static DecodeProducts? TryCreate(ScalarType dtype, Device device, bool programmatic, out string reason)
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
            // Our own kernel as further candidates, where it compiles (sm_80 and later): 64 and 128 weight rows a block.
            var reasons = new List<string>();
            var skinny = SkinnyTileRows.Select(rows =>
            {
                var kernel = SkinnyGemm.TryCreate(dtype, device, rows, 4, programmatic, out var why);
                reasons.Add($"skinny {rows} rows a block: {why}");
                return kernel;
            }).OfType<SkinnyGemm>().ToArray();
            reason = $"cuBLASLt loaded; {string.Join("; ", reasons)}";
            return new DecodeProducts(handle, dtype, device, skinny) { Note = reason };
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

    private void Launch(Plan plan, Tensor input, Tensor weight, Tensor target, bool accumulate, IntPtr stream)
    {
        if (plan.Skinny is { } skinny)
        {
            skinny.Run(input, weight, target, accumulate ? target : null, plan.Splits, SkinnyScratch(skinny, (int)weight.shape[0]), stream);
            return;
        }
        float alpha = 1, beta = accumulate ? 1 : 0;
        var d = TorchCudaApi.DataPointer(target);
        fixed (CublasLtApi.Algo* algo = &plan.Algo)
            CublasLtApi.Check(CublasLtApi.cublasLtMatmul(_handle, plan.Desc, &alpha, TorchCudaApi.DataPointer(weight), plan.A,
                TorchCudaApi.DataPointer(input), plan.B, &beta, d, plan.C, d, plan.C, algo, TorchCudaApi.DataPointer(_workspace),
                (nuint)WorkspaceBytes, stream), "cublasLtMatmul");
    }

    // One scratch per kernel and width, shared by every row count: products run one at a time on one stream.
    private (Tensor Partials, Tensor Counters) SkinnyScratch(SkinnyGemm kernel, int n)
    {
        if (!_skinnyScratch.TryGetValue((kernel, n), out var scratch))
        {
            var (partials, counters) = kernel.Scratch(n, _device);
            scratch = (partials.DetachFromDisposeScope(), counters.DetachFromDisposeScope());
            _skinnyScratch[(kernel, n)] = scratch;
        }
        return scratch;
    }

    /// <summary>cuBLASLt's heuristic candidates, then our skinny kernel's block sizes and k splits where the shape suits it.</summary>
    private List<Candidate> Candidates(Plan plan, int m, int n, int k)
    {
        var candidates = Heuristics(plan)
            .Select(r => new Candidate(Describe(r.Algo), p => { p.Skinny = null; p.Algo = r.Algo; }))
            .ToList();
        if (m <= SkinnyGemm.MaxRows && k % SkinnyGemm.KStep == 0 && n % 2 == 0)
        {
            foreach (var kernel in _skinny)
            {
                foreach (var splits in SkinnySplits.Where(s => s <= Math.Min(SkinnyGemm.MaxSplits, k / SkinnyGemm.KStep)))
                    candidates.Add(new Candidate($"skinny {kernel.TileRows} rows a block, k split {splits}", p => { p.Skinny = kernel; p.Splits = splits; }));
            }
        }
        return candidates;
    }

    private void Tune(int m, IReadOnlyList<Tensor> weights, bool accumulate)
    {
        var n = (int)weights[0].shape[0];
        var k = (int)weights[0].shape[1];
        if (_plans.ContainsKey((m, n, k, accumulate)) || weights.Any(w => !w.is_contiguous() || w.dtype != _dtype))
            return;
        using var scope = NewDisposeScope();
        var plan = NewPlan(m, n, k);
        var candidates = Candidates(plan, m, n, k);
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
        var best = (Time: double.MaxValue, Index: -1);
        var rejected = 0;
        for (var c = 0; c < candidates.Count; c++)
        {
            candidates[c].Apply(plan);
            // Same values as libtorch's to bf16 rounding, and the same bits twice: else the candidate is not taken.
            var first = accumulate ? start.clone() : empty([m, n], _dtype, _device);
            var second = accumulate ? start.clone() : empty([m, n], _dtype, _device);
            try
            {
                Launch(plan, x, weights[0], first, accumulate, IntPtr.Zero);
                Launch(plan, x, weights[0], second, accumulate, IntPtr.Zero);
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
            var time = GpuTimer.Microseconds(i => Launch(plan, x, weights[i % weights.Count], target, accumulate, IntPtr.Zero), _dtype, _device, CallsPerRound, Rounds);
            if (time < best.Time)
                best = (time, c);
        }
        Choice choice;
        if (best.Index >= 0 && best.Time < 0.98 * torchTime)
        {
            candidates[best.Index].Apply(plan);
            _plans[(m, n, k, accumulate)] = plan;
            choice = new Choice(m, n, k, accumulate, torchTime, best.Time, candidates[best.Index].Name, candidates.Count, rejected);
        }
        else
        {
            _plans[(m, n, k, accumulate)] = null;
            choice = new Choice(m, n, k, accumulate, torchTime, best.Index >= 0 ? best.Time : double.NaN,
                best.Index >= 0 ? $"torch kept (best {candidates[best.Index].Name})" : "torch kept", candidates.Count, rejected);
        }
        _choices.Add(choice);
    }

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
        var plan = new Plan(desc, a, b, c, default);
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
        $"lt algo {Attribute(algo, CublasLtApi.AlgoConfigId)} tile {Attribute(algo, CublasLtApi.AlgoConfigTileId)} splitK {Attribute(algo, CublasLtApi.AlgoConfigSplitK)} stages {Attribute(algo, CublasLtApi.AlgoConfigStagesId)}";

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
        foreach (var (partials, counters) in _skinnyScratch.Values)
        {
            partials.Dispose();
            counters.Dispose();
        }
    }
}
