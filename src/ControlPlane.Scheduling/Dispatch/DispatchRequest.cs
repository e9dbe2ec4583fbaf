using ControlPlane.Requests;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>
/// What dispatch policies know of a request; <paramref name="Resumed"/>: it goes on from tokens it produced elsewhere.
/// <see cref="BlockHashes"/> name the prompt's full blocks (the engines' chained hash, computed once per request);
/// <see cref="Prefix"/> is where the cluster holds them, filled in by the view from its prefix index.
/// </summary>
public readonly record struct DispatchRequest(int PromptTokens, int MaxTokens, ServiceClass ServiceClass, int Priority, bool Resumed = false)
{
    public ReadOnlyMemory<ulong> BlockHashes { get; init; }
    public KvCache.PrefixMatch? Prefix { get; init; }

    public static DispatchRequest From(RequestSpec spec) =>
        new(spec.PromptTokenIds.Count, spec.Sampling.MaxTokens, spec.ServiceClass, spec.Priority, spec.Progress is not null);

    /// <summary>KV blocks the prompt needs on an instance with the given block size.</summary>
    public int PromptBlocks(int blockSize) => blockSize <= 0 ? 0 : (PromptTokens + blockSize - 1) / blockSize;
}
