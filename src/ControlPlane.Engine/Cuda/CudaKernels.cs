using ControlPlane.Models.Configuration;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// The engine's CUDA kernels for one model shape on one device: compiled once by NVRTC, launched through the
/// driver on the stream libtorch is using (the legacy default stream, or the capture stream while a CUDA
/// graph records). Tensors in and out are libtorch tensors; only their device addresses cross.
/// </summary>
public sealed unsafe class CudaKernels
{
    private readonly IntPtr _context;

    /// <summary>The device's primary context (libtorch's), which the kernels launch in.</summary>
    internal IntPtr Context => _context;
    private readonly IntPtr _rmsNorm;
    private readonly IntPtr _siluMul;
    private readonly IntPtr _ropeQkv;
    private readonly IntPtr _pagedDecode;
    private readonly IntPtr _pagedDecodeReduce;
    private readonly IntPtr _pagedPrefill;
    private readonly IntPtr _pagedDecodeTc;
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly int _blockSize;
    private readonly int _warps;

    /// <summary>The kernel's MAX_PART_BLOCKS: block ids of one partition held in shared memory.</summary>
    private const int MaxPartitionBlocks = 128;

    /// <summary>The reduce kernel's MAX_PARTS.</summary>
    private const int MaxPartitions = 1024;

    private CudaKernels(IntPtr context, IntPtr module, LlamaConfig config, int blockSize, int multiprocessors, int warps, bool prefill, bool decodeTc, int decodeTcStages)
    {
        _warps = warps;
        _blockSize = blockSize;
        _context = context;
        _heads = config.Heads;
        _kvHeads = config.KvHeads;
        _headDim = config.HeadDim;
        Multiprocessors = multiprocessors;
        _rmsNorm = Function(module, "rms_norm");
        _siluMul = Function(module, "silu_mul");
        _ropeQkv = Function(module, "rope_qkv");
        _pagedDecode = Function(module, "paged_decode");
        _pagedDecodeReduce = Function(module, "paged_decode_reduce");
        _pagedPrefill = prefill ? Function(module, "paged_prefill") : IntPtr.Zero;
        // One stage: keys and values of 64 tokens, rows padded by 8 elements (the kernels' PBN / DBN and KPAD), 2 bytes each.
        var stageBytes = 2 * PrefillTileRows * (config.HeadDim + 8) * 2;
        _prefillSharedBytes = 2 * stageBytes;
        if (prefill)
            CudaApi.Check(CudaApi.cuFuncSetAttribute(_pagedPrefill, CudaApi.FunctionAttributeMaxDynamicSharedBytes, _prefillSharedBytes), "cuFuncSetAttribute");
        _pagedDecodeTc = decodeTc ? Function(module, "paged_decode_tc") : IntPtr.Zero;
        _decodeTcSharedBytes = decodeTcStages * stageBytes;
        if (decodeTc)
            CudaApi.Check(CudaApi.cuFuncSetAttribute(_pagedDecodeTc, CudaApi.FunctionAttributeMaxDynamicSharedBytes, _decodeTcSharedBytes), "cuFuncSetAttribute");
    }

    // The prefill kernel's two stages, and the tensor-core decode kernel's DSTAGES stages of the same size.
    private readonly int _prefillSharedBytes;
    private readonly int _decodeTcSharedBytes;

    /// <summary>Rows of new tokens one prefill attention tile covers (the kernel's four warps of 16 rows).</summary>
    public const int PrefillTileRows = 64;

    /// <summary>
    /// Whether <see cref="PagedPrefill"/> runs here: bf16 or fp16 weights, a head size of 32, 64 or 128, and tensor
    /// cores with mma.sync (compute capability 8.0 and later).
    /// </summary>
    public bool HasPrefill => _pagedPrefill != IntPtr.Zero;

    /// <summary>
    /// Whether <see cref="PagedDecode(Tensor, Tensor, Tensor, Tensor, Tensor, int, int)"/> runs on tensor cores (the GROUP query heads of a KV head as one tile's rows):
    /// where the prefill kernel runs and GROUP is at most 16, unless tuning DECODE_TC=0 keeps the scalar kernel.
    /// </summary>
    public bool HasTensorCoreDecode => _pagedDecodeTc != IntPtr.Zero;

    public int Multiprocessors { get; }

    /// <summary>
    /// Whether the kernels launch with programmatic dependent launch (tuning PDL=1, sm_90 and later): each may start
    /// while the kernel before it in the stream finishes, and waits in the kernel (griddepcontrol) for what it reads.
    /// </summary>
    public bool ProgrammaticLaunch { get; private init; }

    /// <summary>
    /// Whether decode graphs queue their inputs' copy through the driver (cuMemcpyHtoDAsync on the stream they replay on)
    /// rather than libtorch's copy_: on by default since 2026-12-07 (copy_ of the pinned staging cost 15–60 µs of host time
    /// a step on the H200's host, with the GPU idle; on an H100 the copy's host time fell from 12–28 to 3–10 µs, tokens
    /// unchanged), off with tuning DRIVER_COPY=0.
    /// </summary>
    public bool DriverCopy { get; private init; } = true;

    /// <summary>NVRTC's messages from the compile (ptxas's register report when asked for).</summary>
    public string CompileLog { get; private init; } = "";

    /// <summary>The stream launches go to: 0 (libtorch's default, the legacy stream) unless a graph capture set its own.</summary>
    internal IntPtr Stream { get; set; }

    /// <summary>
    /// Whether decode graphs take each product's implementation by measurement at start (<see cref="DecodeProducts"/>: a
    /// cuBLASLt algorithm found by a search over its configurations, where one beats libtorch's own by 2 % on this GPU):
    /// bf16 or fp16 only; on by default (+1–4 % a decode step at batch 8–64 on three H100s, never slower beyond the run-to-run
    /// spread; about 2.4 s a batch bucket at start, unless DecodeProductsCache holds the choice), off with tuning GEMM_TUNE=0.
    /// </summary>
    public bool TunesProducts { get; private init; }

    /// <summary>Measured products that <see cref="Linear"/> and <see cref="AddLinear"/> use where they hold the shape; null: libtorch's.</summary>
    public DecodeProducts? Products { get; set; }

    /// <summary>input · weightᵀ (+ bias): the measured product where <see cref="Products"/> has the shape, else libtorch's.</summary>
    public Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) =>
        bias is null && Products is { } products && products.TryRun(input, weight, null, Stream, out var output)
            ? output!
            : TorchSharp.torch.nn.functional.linear(input, weight, bias);

    /// <summary>x += input · weightᵀ in place (the residual added by the product itself): measured where held, else addmm_.</summary>
    public void AddLinear(Tensor x, Tensor input, Tensor weight)
    {
        if (Products is { } products && products.TryRun(input, weight, x, Stream, out _))
            return;
        x.addmm_(input, weight.t());
    }

    /// <summary>
    /// Compiles the kernels for this model on <paramref name="device"/>; null, with the reason, where it cannot.
    /// <paramref name="tuning"/> overrides kernel constants (WARPS, UNROLL) for benchmarks; PTXAS_VERBOSE=1 keeps ptxas's report in <see cref="CompileLog"/>.
    /// </summary>
    public static CudaKernels? TryCreate(LlamaConfig config, int blockSize, ScalarType dtype, Device device, out string reason,
        IReadOnlyDictionary<string, int>? tuning = null)
    {
        if (device.type != TorchSharp.DeviceType.CUDA)
        {
            reason = "the model is not on a CUDA device";
            return null;
        }
        if (config.HeadDim is not (32 or 64 or 128 or 256) || config.Heads % config.KvHeads != 0 || config.HiddenSize % 8 != 0 || config.HiddenSize > 16384)
        {
            reason = $"no kernel for head size {config.HeadDim} with {config.Heads} heads over {config.KvHeads} KV heads";
            return null;
        }
        var kind = dtype switch { ScalarType.Float32 => 0, ScalarType.BFloat16 => 1, ScalarType.Float16 => 2, _ => -1 };
        if (kind < 0)
        {
            reason = $"no kernel for {dtype}";
            return null;
        }
        try
        {
            var (context, major, minor, multiprocessors) = CudaApi.OpenDevice(Math.Max(0, (int)device.index));
            // 16-byte loads where a head allows, and never more than 32 lanes a token.
            var elementSize = kind == 0 ? 4 : 2;
            var vec = Math.Max(16 / elementSize, config.HeadDim / 32);
            var module = CudaApi.LoadModule(KernelSource.Text, "controlplane_kernels.cu",
            [
                $"--gpu-architecture=sm_{major}{minor}", "--std=c++17",
                $"-DT_KIND={kind}", $"-DHEAD_DIM={config.HeadDim}", $"-DHEADS={config.Heads}", $"-DKV_HEADS={config.KvHeads}",
                $"-DGROUP={config.Heads / config.KvHeads}", $"-DBLOCK_SIZE={blockSize}", $"-DVEC={vec}", $"-DVEC_ALIGN={Math.Min(16, vec * elementSize)}",
                .. (tuning ?? new Dictionary<string, int>()).Select(t => t.Key == "PTXAS_VERBOSE" ? "--ptxas-options=-v" : $"-D{t.Key}={t.Value}"),
            ], out var log);
            reason = $"kernels compiled for sm_{major}{minor}";
            var tensorCores = kind != 0 && major >= 8 && config.HeadDim is (32 or 64 or 128);
            var prefill = tensorCores && (tuning?.GetValueOrDefault("PREFILL", 1) ?? 1) != 0;
            var decodeTc = tensorCores && config.Heads / config.KvHeads <= 16 && (tuning?.GetValueOrDefault("DECODE_TC", 1) ?? 1) != 0;
            return new CudaKernels(context, module, config, blockSize, multiprocessors, tuning?.GetValueOrDefault("WARPS", 4) ?? 4, prefill, decodeTc,
                tuning?.GetValueOrDefault("DSTAGES", 2) ?? 2)
            {
                CompileLog = log,
                ProgrammaticLaunch = major >= 9 && (tuning?.GetValueOrDefault("PDL", 0) ?? 0) != 0,
                TunePartitions = (tuning?.GetValueOrDefault("PARTITION_TUNE", 1) ?? 1) != 0,
                PartitionProfiles = (tuning?.GetValueOrDefault("PARTITION_PROFILES", 0) ?? 0) != 0,
                DriverCopy = (tuning?.GetValueOrDefault("DRIVER_COPY", 1) ?? 1) != 0,
                TunesProducts = kind != 0 && (tuning?.GetValueOrDefault("GEMM_TUNE", 1) ?? 1) != 0,
            };
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = e.Message;
            return null;
        }
    }

    /// <summary>rms_norm(x) · weight over the last dimension, in one kernel.</summary>
    public Tensor RmsNorm(Tensor x, Tensor weight, double eps)
    {
        var input = x.contiguous();
        var output = empty_like(input);
        var n = (int)input.shape[^1];
        var rows = (uint)(input.numel() / n);
        if (rows > 0)
        {
            // Up to four 16-byte vectors a thread (the kernel's register row), at least one warp.
            var vectors = n / (16 / (int)input.ElementSize);
            var threads = vectors <= 1024 ? vectors : (vectors + 3) / 4;
            Launch(_rmsNorm, rows, 1, 1, (uint)Math.Min(1024, Math.Max(32, (threads + 31) / 32 * 32)),
                [Pointer(input), Pointer(weight), Pointer(output), n, Float((float)eps)]);
        }
        return output;
    }

    /// <summary>silu(gate) · up over the fused projection [rows, 2n]: [rows, n], in one kernel.</summary>
    public Tensor SiluMul(Tensor gateUp)
    {
        var input = gateUp.contiguous();
        var n = (int)(input.shape[^1] / 2);
        var rows = input.numel() / (2L * n);
        var output = empty([rows, n], input.dtype, input.device);
        if (rows > 0)
            Launch(_siluMul, (uint)Math.Min(64, (n + 255) / 256), (uint)rows, 1, 256, [Pointer(input), Pointer(output), n]);
        return output;
    }

    /// <summary>
    /// Rotates q and k of the fused projection <paramref name="qkv"/> [tokens, (heads + 2·kv heads)·head_dim] by
    /// each token's position, writes k and v to their cache <paramref name="slots"/>, and returns q [tokens, heads, head_dim].
    /// </summary>
    public Tensor RopeQkv(Tensor qkv, Tensor cos, Tensor sin, Tensor positions, Tensor slots, Tensor keys, Tensor values)
    {
        var input = qkv.contiguous();
        var tokens = input.shape[0];
        var q = empty([tokens, _heads, _headDim], input.dtype, input.device);
        if (tokens > 0)
            Launch(_ropeQkv, (uint)tokens, (uint)(_heads + 2 * _kvHeads), 1, (uint)(_headDim / 2),
                [Pointer(input), Pointer(cos), Pointer(sin), Pointer(positions), Pointer(slots), Pointer(q), Pointer(keys), Pointer(values)]);
        return q;
    }

    /// <summary>
    /// Decode attention of <paramref name="q"/> [batch, heads, head_dim] over each sequence's cached keys and
    /// values, read through its block table (<paramref name="tables"/> [batch, blocks], int64) up to its length
    /// (<paramref name="lengths"/> [batch], int64); returns [batch, heads·head_dim].
    /// </summary>
    public Tensor PagedDecode(Tensor q, Tensor keys, Tensor values, Tensor tables, Tensor lengths, int partitionTokens, int partitions)
    {
        var batch = q.shape[0];
        var query = q.contiguous();
        var device = q.device;
        var output = empty([batch, _heads * _headDim], q.dtype, device);
        // With one partition the tensor-core kernel may write the output itself: no partial results, no reduce.
        var direct = TunesPartitions && partitions == 1;
        var partial = direct ? null : empty([batch, _heads, partitions, _headDim], ScalarType.Float32, device);
        var max = direct ? null : empty([batch, _heads, partitions], ScalarType.Float32, device);
        var sum = direct ? null : empty([batch, _heads, partitions], ScalarType.Float32, device);
        if (HasTensorCoreDecode)
            Launch(_pagedDecodeTc, (uint)partitions, (uint)_kvHeads, (uint)batch, 128, (uint)_decodeTcSharedBytes,
                [Pointer(query), Pointer(keys), Pointer(values), Pointer(tables), (int)tables.shape[1], Pointer(lengths),
                 Pointer(partial), Pointer(max), Pointer(sum), direct ? Pointer(output) : 0, partitionTokens, Float((float)(1.0 / Math.Sqrt(_headDim) * 1.4426950408889634))]);
        else
            Launch(_pagedDecode, (uint)partitions, (uint)_kvHeads, (uint)batch, (uint)(32 * _warps),
                [Pointer(query), Pointer(keys), Pointer(values), Pointer(tables), (int)tables.shape[1], Pointer(lengths),
                 Pointer(partial), Pointer(max), Pointer(sum), partitionTokens, Float((float)(1.0 / Math.Sqrt(_headDim)))]);
        if (!direct)
            Launch(_pagedDecodeReduce, (uint)_heads, (uint)batch, 1, (uint)_headDim,
                [Pointer(partial), Pointer(max), Pointer(sum), Pointer(lengths), Pointer(output), partitionTokens, partitions]);
        return output;
    }

    /// <summary>
    /// Prefill attention of <paramref name="q"/> [tokens, heads, head_dim] for the new tokens that <paramref name="tiles"/>
    /// (int32 [count, 4]: first row, rows up to <see cref="PrefillTileRows"/>, position of the first row, sequence) cover,
    /// each row over its sequence's cached keys and values up to its own position, read through <paramref name="tables"/>
    /// (int64 [sequences, blocks]); writes those rows of <paramref name="output"/> [tokens, heads·head_dim] and no other.
    /// </summary>
    public void PagedPrefill(Tensor q, Tensor keys, Tensor values, Tensor tiles, int count, Tensor tables, Tensor output)
    {
        if (!HasPrefill)
            throw new InvalidOperationException("no prefill attention kernel on this device or element type");
        if (count == 0)
            return;
        var query = q.contiguous();
        Launch(_pagedPrefill, (uint)count, (uint)_heads, 1, 128, (uint)_prefillSharedBytes,
            [Pointer(query), Pointer(keys), Pointer(values), Pointer(tiles), Pointer(tables), (int)tables.shape[1], Pointer(output),
             Float((float)(1.0 / Math.Sqrt(_headDim) * 1.4426950408889634))]);
    }

    /// <summary>
    /// Tokens per attention partition for <paramref name="batch"/> sequences of up to <paramref name="maxTokens"/>:
    /// enough partitions for about eight blocks of four warps on every multiprocessor (memory needs that many
    /// loads in flight), none shorter than 64 tokens nor longer than the kernel's shared block list.
    /// </summary>
    public int PartitionTokens(int batch, int maxTokens)
    {
        var perBlock = (long)maxTokens * batch * _kvHeads / (8L * Multiprocessors);
        var tokens = 64;
        while ((tokens < perBlock || maxTokens / tokens >= MaxPartitions) && tokens < Math.Min(1024, (MaxPartitionBlocks - 1) * _blockSize))
            tokens *= 2;
        return tokens;
    }

    /// <summary>
    /// Partition sizes the decode kernels take for contexts of up to <paramref name="maxTokens"/>: from the first whole
    /// number of blocks of at least 64 tokens, that times powers of two and, where whole blocks, one and a half times
    /// them (64, 96, 128, 192, 256, 384 … with blocks of 16), at most the kernels' shared block list and their most
    /// partitions; of those that make one partition, only the smallest. What <see cref="DecodePartitionTuner"/> measures:
    /// the sizes between powers of two let it fit a step's blocks to whole waves of the GPU (64 × 512 makes 512 blocks of
    /// one partition, about 1.3 waves of the tensor-core kernel on 132 multiprocessors).
    /// </summary>
    public static IReadOnlyList<int> PartitionCandidates(int blockSize, int maxTokens)
    {
        var candidates = new List<int>();
        var first = blockSize;
        while (first < 64)
            first *= 2;
        var sizes = new List<int>();
        for (var tokens = first; tokens / blockSize <= MaxPartitionBlocks; tokens *= 2)
        {
            sizes.Add(tokens);
            if (tokens * 3 / 2 % blockSize == 0 && tokens * 3 / 2 / blockSize <= MaxPartitionBlocks)
                sizes.Add(tokens * 3 / 2);
        }
        foreach (var tokens in sizes)
        {
            if ((maxTokens + tokens - 1) / tokens > MaxPartitions)
                continue;
            candidates.Add(tokens);
            if (tokens >= maxTokens)
                break;
        }
        return candidates;
    }

    /// <summary>
    /// Whether decode graphs measure each shape's partition size at capture (<see cref="DecodePartitionTuner"/>) rather than
    /// take <see cref="PartitionTokens"/>, and the tensor-core kernel writes a single partition's output itself: on by default
    /// (measured on the H200, 2026-12-07: 32 × 512 6.14 → 5.72 ms a step, the direct output within fp32 rounding as the
    /// partials are); tuning PARTITION_TUNE=0 keeps the rule.
    /// </summary>
    public bool TunesPartitions => HasTensorCoreDecode && TunePartitions;

    private bool TunePartitions { get; init; }

    /// <summary>
    /// Whether the partition measurement also times every row just over half a graph's width and every row at its width,
    /// beside the spread of lengths (<see cref="DecodePartitionTuner.LengthProfiles"/>), and times on the GPU's clock
    /// (<see cref="GpuTimer.MicrosecondsEach"/>) instead of the host's: tuning PARTITION_PROFILES=1, off until measured. On
    /// the H200 (2026-12-07) the spread alone chose 2,048-token partitions for batch 64's 4,096-token graph, which the
    /// attention benchmark times at 153 µs a layer against 131 µs for 512 with every row at 2,048 tokens;
    /// at batch 1 the host-timed choice moved between runs (64, 384, 512 tokens), the calls' launch cost outweighing the kernel.
    /// </summary>
    public bool PartitionProfiles { get; private init; }

    private static IntPtr Function(IntPtr module, string name)
    {
        CudaApi.Check(CudaApi.cuModuleGetFunction(out var function, module, name), $"cuModuleGetFunction({name})");
        return function;
    }

    private static long Pointer(Tensor? t) => t is null ? 0 : TorchCudaApi.DataPointer(t);

    private static long Float(float value) => BitConverter.SingleToInt32Bits(value);

    /// <summary>Launches on <see cref="Stream"/>, with programmatic dependent launch where on (<see cref="CudaApi.Launch"/>).</summary>
    private void Launch(IntPtr function, uint gridX, uint gridY, uint gridZ, uint block, ReadOnlySpan<long> arguments) =>
        Launch(function, gridX, gridY, gridZ, block, 0, arguments);

    private void Launch(IntPtr function, uint gridX, uint gridY, uint gridZ, uint block, uint sharedBytes, ReadOnlySpan<long> arguments) =>
        CudaApi.Launch(_context, function, gridX, gridY, gridZ, block, sharedBytes, Stream, arguments, ProgrammaticLaunch);
}
