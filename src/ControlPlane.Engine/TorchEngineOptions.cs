namespace ControlPlane.Engine;

/// <summary>How big the TorchSharp engine's cache and batches are.</summary>
public sealed record TorchEngineOptions
{
    public int KvBlockSize { get; init; } = 16;

    /// <summary>KV blocks to allocate; when null, <see cref="KvCacheBytes"/> decides.</summary>
    public int? KvBlocks { get; init; }
    public long KvCacheBytes { get; init; } = 256L << 20;
    public int MaxBatchedTokens { get; init; } = 2048;
    public int MaxRunningRequests { get; init; } = 256;
    public int MaxContextTokens { get; init; } = 4096;

    /// <summary>On a CUDA device, use the engine's own kernels (compiled by NVRTC) for norm, RoPE and decode attention.</summary>
    public bool CudaKernels { get; init; } = true;

    /// <summary>
    /// With the kernels, bf16/fp16 weights and tensor cores (sm_80+), prefill chunks attend through the paged prefill
    /// kernel (in place over the block tables, all chunks of a step in one launch a layer) instead of a gather and
    /// scaled_dot_product_attention per chunk. Off only to compare the two.
    /// </summary>
    public bool PrefillKernel { get; init; } = true;

    /// <summary>
    /// With the kernels, bf16/fp16 weights and tensor cores (sm_80+), decode attention computes its dot products with
    /// mma.sync, the query heads that share a KV head as one tile's rows; otherwise (or off, to compare) the scalar
    /// paged decode kernel. Both read keys and values in place through the block tables.
    /// </summary>
    public bool TensorCoreDecode { get; init; } = true;

    /// <summary>
    /// With the kernels and decode graphs, bf16/fp16 weights: each batch bucket's decode products take the cuBLASLt
    /// configuration measured fastest on this GPU at capture, where one beats libtorch's own by 2 % (DecodeProducts);
    /// false keeps libtorch's products (a shorter start).
    /// </summary>
    public bool MeasureDecodeProducts { get; init; } = true;

    /// <summary>
    /// A JSON file that keeps the measured products' choices across starts, per GPU kind and cuBLASLt version
    /// (DecodeProductsCache): a start that finds its shapes there checks them instead of searching. Null: none.
    /// </summary>
    public string? DecodeProductsCache { get; init; }

    /// <summary>
    /// Kernel constants for benchmarks and experiments (for instance DSTAGES, the tensor-core decode kernel's pipeline
    /// depth): compile-time defines passed to NVRTC over the defaults. Null in production.
    /// </summary>
    public IReadOnlyDictionary<string, int>? KernelTuning { get; init; }

    /// <summary>On a CUDA device with the kernels, run decode steps as CUDA graphs captured per batch size.</summary>
    public bool CudaGraphs { get; init; } = true;

    /// <summary>
    /// A file to append one JSON line per step to: its time, whether it ran as a graph, the decodes' context lengths and
    /// the prefill chunks (length, offset), for `ControlPlane.Engine.Benchmarks steps`, which runs the same compositions
    /// as fixed shapes. Null: the CONTROLPLANE_STEP_LOG environment variable, or none.
    /// </summary>
    public string? StepLogPath { get; init; }

    /// <summary>Capture every decode graph when the engine starts (for serving: no stall on a new batch shape).</summary>
    public bool CaptureGraphsAtStart { get; init; }
}
