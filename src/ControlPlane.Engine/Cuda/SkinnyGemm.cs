using static TorchSharp.torch;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// Our own product for a decode step's few rows (up to 64) against a whole weight matrix (<c>skinny_gemm</c> in
/// <see cref="KernelSource.SkinnyText"/>): the weights streamed once through a cp.async pipeline into mma.sync, k split
/// over several blocks where the weight rows alone make too few, and the residual added on the way out. Compiled as its
/// own module only where asked for: the <c>skinny-gemm</c> benchmark measures it beside libtorch's product. Slower than
/// cuBLAS at every shape and row count measured (H100, 0.41–0.92×) and won none of the shapes it was offered among the
/// measured products' candidates, so the engine does not use it (docs/benchmarks.md, issue 16).
/// </summary>
public sealed unsafe class SkinnyGemm
{
    /// <summary>Rows of x one call takes at most.</summary>
    public const int MaxRows = 64;

    /// <summary>k must be a multiple of this (a pipeline stage's depth).</summary>
    public const int KStep = 64;

    /// <summary>Blocks k may be split over, at most (the scratch holds this many partial results).</summary>
    public const int MaxSplits = 8;

    private readonly IntPtr _context;
    private readonly IntPtr _function;
    private readonly uint _sharedBytes;

    private SkinnyGemm(IntPtr context, IntPtr function, int tileRows, int stages, uint sharedBytes)
    {
        _context = context;
        _function = function;
        TileRows = tileRows;
        Stages = stages;
        _sharedBytes = sharedBytes;
    }

    /// <summary>Weight rows a block takes (SG_BN: 64 or 128).</summary>
    public int TileRows { get; }

    /// <summary>The pipeline's depth (SG_STAGES).</summary>
    public int Stages { get; }

    /// <summary>
    /// The kernel for <paramref name="dtype"/> (bf16 or fp16) on <paramref name="device"/> (sm_80 and later); null, with
    /// the reason, where it cannot run.
    /// </summary>
    public static SkinnyGemm? TryCreate(ScalarType dtype, Device device, int tileRows, int stages, out string reason)
    {
        var kind = dtype switch { ScalarType.BFloat16 => 1, ScalarType.Float16 => 2, _ => 0 };
        if (device.type != TorchSharp.DeviceType.CUDA || kind == 0 || tileRows is not (64 or 128) || stages is < 2 or > 8)
        {
            reason = "the skinny product needs bf16 or fp16 on a CUDA device, 64 or 128 weight rows a block and 2 to 8 stages";
            return null;
        }
        try
        {
            var (context, major, minor, _) = CudaApi.OpenDevice(Math.Max(0, (int)device.index));
            if (major < 8)
            {
                reason = $"the skinny product needs mma.sync with bf16 (sm_80 and later), not sm_{major}{minor}";
                return null;
            }
            var module = CudaApi.LoadModule(KernelSource.SkinnyText, "controlplane_skinny.cu",
                [$"--gpu-architecture=sm_{major}{minor}", "--std=c++17", $"-DT_KIND={kind}", $"-DSG_BN={tileRows}", $"-DSG_STAGES={stages}", "-DPDL=0"], out _);
            CudaApi.Check(CudaApi.cuModuleGetFunction(out var function, module, "skinny_gemm"), "cuModuleGetFunction(skinny_gemm)");
            // A stage: SG_BN weight rows and 64 rows of x, each of 64 + 8 elements of 2 bytes.
            var sharedBytes = (uint)(stages * (tileRows + MaxRows) * (KStep + 8) * 2);
            CudaApi.Check(CudaApi.cuFuncSetAttribute(function, CudaApi.FunctionAttributeMaxDynamicSharedBytes, (int)sharedBytes), "cuFuncSetAttribute");
            reason = $"skinny product compiled for sm_{major}{minor}";
            return new SkinnyGemm(context, function, tileRows, stages, sharedBytes);
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = e.Message;
            return null;
        }
    }

    /// <summary>
    /// The scratch a product of <paramref name="outputs"/> columns needs when k is split: fp32 partial sums [splits · 64, n]
    /// and a counter a tile, zero (each call leaves the counters zero again).
    /// </summary>
    public (Tensor Partials, Tensor Counters) Scratch(int outputs, Device device) =>
        (empty([MaxSplits * MaxRows, outputs], ScalarType.Float32, device), zeros([(outputs + TileRows - 1) / TileRows], ScalarType.Int32, device));

    /// <summary>
    /// output[m, n] = input[m, k] · weight[n, k]ᵀ (+ residual, which may be output itself) with k split over
    /// <paramref name="splits"/> blocks a tile, on <paramref name="stream"/> (0: libtorch's default stream).
    /// </summary>
    public void Run(Tensor input, Tensor weight, Tensor output, Tensor? residual, int splits, (Tensor Partials, Tensor Counters) scratch, IntPtr stream = default)
    {
        var m = (int)input.shape[0];
        var k = (int)input.shape[1];
        var n = (int)weight.shape[0];
        if (m > MaxRows || k % KStep != 0 || n % 2 != 0 || weight.shape[1] != k || !input.is_contiguous() || !weight.is_contiguous() || !output.is_contiguous()
            || output.shape[0] != m || output.shape[1] != n || splits < 1 || splits > Math.Min(MaxSplits, k / KStep))
            throw new ArgumentException($"skinny product: {m} x {k} by {n} x {weight.shape[1]} into {string.Join('x', output.shape)}, {splits} splits is not a shape it takes");
        CudaApi.Launch(_context, _function, (uint)((n + TileRows - 1) / TileRows), (uint)splits, 1, (uint)(TileRows / 16 * 32), _sharedBytes, stream,
        [
            Pointer(input), Pointer(weight), Pointer(output), residual is null ? 0 : Pointer(residual),
            Pointer(scratch.Partials), Pointer(scratch.Counters), m, n, k,
        ], false);
    }

    private static long Pointer(Tensor t) => TorchCudaApi.DataPointer(t);
}
