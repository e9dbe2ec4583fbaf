using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>
/// A profile's choice: an index into the instances it was given (where the request decodes), or a refusal; and where
/// disaggregation splits it, the prefill instance that runs its prompt first (-1: the prompt runs where it decodes).
/// </summary>
public readonly record struct DispatchOutcome(int Index, DispatchRefusal Refusal, int PrefillIndex = -1)
{
    public bool Succeeded => Index >= 0;

    /// <summary>Where the cluster holds the prompt's prefix (null without block names or an index).</summary>
    public KvCache.PrefixMatch? Prefix { get; init; }

    /// <summary>The prefix blocks the chosen instance should fetch from a peer before it prefills; null: none.</summary>
    public KvCache.PrefixFetch? Fetch { get; init; }

    public static DispatchOutcome Chose(int index) => new(index, DispatchRefusal.None);

    public static DispatchOutcome Refused(DispatchRefusal refusal) => new(-1, refusal);
}
