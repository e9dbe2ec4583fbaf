using ControlPlane.Instances;
using ControlPlane.Scheduling.Dispatch;

namespace ControlPlane.Scheduling.Disaggregation;

/// <summary>Why a request was or was not split.</summary>
public enum SplitReason
{
    /// <summary>Its prompt runs on a prefill instance, its tokens where it was dispatched.</summary>
    Split,
    Disabled,
    /// <summary>Too few prompt tokens are left to compute once the decode instance's cached prefix is counted.</summary>
    ShortPrompt,
    /// <summary>No ready prefill instance can hold the prompt.</summary>
    NoPrefillInstance,
    /// <summary>Every prefill instance has more queued prompt tokens than allowed.</summary>
    PrefillBusy,
    /// <summary>The request resumes from tokens it already produced: its keys and values are recomputed where it decodes.</summary>
    Resumed,
}

/// <summary>A decision: the prefill instance (an index into the loads given), or -1 with the reason the request runs where it decodes.</summary>
public readonly record struct SplitDecision(int PrefillIndex, SplitReason Reason)
{
    public bool Splits => PrefillIndex >= 0;
}

/// <summary>
/// Whether a request's prompt runs on a prefill instance (and which) or where it will decode: llm-d's P/D decider.
/// Splits a prompt whose uncached part is long enough, onto the ready prefill instance with the least queued prompt
/// work, unless every one is past its queue limit. Pure; the dispatcher grain and the simulator both call it.
/// </summary>
public sealed class DisaggregationDecider(DisaggregationConfig config)
{
    public DisaggregationConfig Config { get; } = config;

    /// <param name="request">The request.</param>
    /// <param name="cachedPrefixTokens">Prompt tokens already cached on the decode instance (0 when not known).</param>
    /// <param name="instances">The model's instances (the decode instance among them).</param>
    /// <param name="exclude">Instances not to use (they refused lately).</param>
    public SplitDecision Decide(in DispatchRequest request, int cachedPrefixTokens, IReadOnlyList<InstanceLoad> instances, IReadOnlyCollection<string>? exclude = null)
    {
        if (!Config.Enabled)
            return new(-1, SplitReason.Disabled);
        if (request.PromptTokens - cachedPrefixTokens < Config.MinPromptTokens)
            return new(-1, SplitReason.ShortPrompt);
        var best = -1;
        var bestQueued = long.MaxValue;
        var busy = false;
        for (var i = 0; i < instances.Count; i++)
        {
            var load = instances[i];
            if (load.Role != InstanceRole.Prefill || load.Health != InstanceHealth.Ready || load.TotalKvBlocks < request.PromptBlocks(load.KvBlockSize) + 1
                || (exclude is { Count: > 0 } && exclude.Contains(load.InstanceId)))
                continue;
            var queued = QueuedPromptTokens(load);
            if (queued > Config.MaxQueuedPromptTokens)
            {
                busy = true;
                continue;
            }
            if (queued < bestQueued || (queued == bestQueued && load.RunningRequests < instances[best].RunningRequests))
            {
                best = i;
                bestQueued = queued;
            }
        }
        if (best >= 0)
            return new(best, SplitReason.Split);
        return new(-1, busy ? SplitReason.PrefillBusy : SplitReason.NoPrefillInstance);
    }

    /// <summary>Prompt tokens queued on an instance: the blocks its waiting requests need, in tokens.</summary>
    public static long QueuedPromptTokens(InstanceLoad load) => (long)load.WaitingKvBlocks * load.KvBlockSize;
}
