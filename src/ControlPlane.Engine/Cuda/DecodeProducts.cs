using System.Globalization;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;

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
/// never while serving (build item 1); on by default for bf16 and fp16, off with tuning GEMM_TUNE=0.
/// </summary>
public sealed unsafe partial class DecodeProducts : IDisposable
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

    private const long WorkspaceBytes = 32L << 20;

    private readonly IntPtr _handle;
    private readonly int _dataType;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private readonly Tensor _workspace;
    private readonly Dictionary<(int M, int N, int K, bool Accumulate), Plan?> _plans = [];
    private readonly List<Plan> _owned = [];
    private readonly List<Choice> _choices = [];
    private readonly DecodeProductsCache? _cache;
    private readonly string? _cacheError;
    private int _reused, _searched;
    private bool _disposed;

    private DecodeProducts(IntPtr handle, ScalarType dtype, Device device, DecodeProductsCache? cache, string? cacheError)
    {
        _handle = handle;
        _cache = cache;
        _cacheError = cacheError;
        _dtype = dtype;
        _device = device;
        _dataType = dtype == ScalarType.BFloat16 ? CublasLtApi.DataType16BF : CublasLtApi.DataType16F;
        _workspace = empty([WorkspaceBytes], ScalarType.Byte, device);
    }

    /// <summary>What each tuned shape measured and took, in the order tuned.</summary>
    public IReadOnlyList<Choice> Choices => _choices;

    /// <summary>
    /// The choices' file and how it served (shapes taken from it, shapes searched, its last error); null without one.
    /// </summary>
    public string? CacheNote => _cache is { } cache
        ? $"cache {cache.Path}: {_reused} shapes reused, {_searched} searched" + (cache.Error is { } error ? $" ({error})" : "")
        : _cacheError is { } why ? $"no cache: {why}" : null;

    /// <summary>
    /// Products for <paramref name="dtype"/> (bf16 or fp16) on <paramref name="device"/>; null, with the reason, where
    /// cuBLASLt is not there. With <paramref name="cachePath"/>, choices are read from and written to that file
    /// (<see cref="DecodeProductsCache"/>) under this GPU's and this cuBLASLt's key.
    /// </summary>
    public static DecodeProducts? TryCreate(ScalarType dtype, Device device, out string reason, string? cachePath = null)
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
            reason = "";
            DecodeProductsCache? cache = null;
            string? cacheError = null;
            if (!string.IsNullOrEmpty(cachePath))
            {
                try
                {
                    var key = $"{CudaApi.DeviceDescription(Math.Max(0, (int)device.index))}, cuBLASLt {CublasLtApi.cublasLtGetVersion()}, {dtype}";
                    cache = DecodeProductsCache.Open(cachePath, key);
                }
                catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
                {
                    cacheError = e.Message;
                }
            }
            return new DecodeProducts(handle, dtype, device, cache, cacheError);
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
        if (_searchedSinceSave)
        {
            _cache?.Save();
            _searchedSinceSave = false;
        }
    }

    /// <summary>An algorithm as the base64 of its 64 bytes (cuBLASLt's structure is plain data, reusable with the same library version).</summary>
    internal static string Encode(CublasLtApi.Algo algo)
    {
        var bytes = new byte[sizeof(CublasLtApi.Algo)];
        fixed (byte* b = bytes)
            *(CublasLtApi.Algo*)b = algo;
        return Convert.ToBase64String(bytes);
    }

    /// <summary>The algorithm <see cref="Encode"/> wrote; false where the text is not 64 bytes of base64.</summary>
    internal static bool TryDecode(string text, out CublasLtApi.Algo algo)
    {
        algo = default;
        Span<byte> bytes = stackalloc byte[sizeof(CublasLtApi.Algo)];
        if (!Convert.TryFromBase64String(text, bytes, out var written) || written != bytes.Length)
            return false;
        fixed (byte* b = bytes)
            algo = *(CublasLtApi.Algo*)b;
        return true;
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
