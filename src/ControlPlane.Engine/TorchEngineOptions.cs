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

    /// <summary>On a CUDA device with the kernels, run decode steps as CUDA graphs captured per batch size.</summary>
    public bool CudaGraphs { get; init; } = true;

    /// <summary>Capture every decode graph when the engine starts (for serving: no stall on a new batch shape).</summary>
    public bool CaptureGraphsAtStart { get; init; }
}
