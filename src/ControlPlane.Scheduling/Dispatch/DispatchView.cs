using ControlPlane.Instances;
using ControlPlane.Scheduling.Disaggregation;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>
/// A dispatcher's view of a model's instances: the last load snapshot plus the dispatches this view made
/// that no load report includes yet (a dispatch counts as queued demand until a report taken after it
/// arrives; <c>admissionDelay</c> allows for the hop from dispatcher to engine), so a burst spreads out
/// between and across refreshes. Pure: the caller supplies the times.
/// The dispatcher grain and the cluster simulator both decide through this class.
/// </summary>
/// With a <see cref="DisaggregationDecider"/>, the dispatch also says whether the prompt runs on a prefill instance first.
public sealed class DispatchView(DispatchProfile profile, TimeSpan admissionDelay = default, DisaggregationDecider? decider = null)
{
    private readonly Dictionary<string, List<(DateTimeOffset At, int Blocks)>> _sent = new(StringComparer.Ordinal);
    private InstanceLoad[] _loads = [];

    public DispatchProfile Profile { get; } = profile;
    public IReadOnlyList<InstanceLoad> Loads => _loads;
    public bool IsEmpty => _loads.Length == 0;

    /// <summary>Replaces the snapshot; keeps only the dispatches made after each instance's report.</summary>
    public void Refresh(IReadOnlyList<InstanceLoad> snapshot)
    {
        if (_sent.Count > 0)
        {
            var present = snapshot.Select(l => l.InstanceId).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _sent.Keys.Where(id => !present.Contains(id)).ToArray())
                _sent.Remove(gone);
        }
        var loads = new InstanceLoad[snapshot.Count];
        for (var i = 0; i < loads.Length; i++)
            loads[i] = WithUnreported(snapshot[i]);
        _loads = loads;
    }

    public DisaggregationDecider? Decider { get; } = decider;

    /// <summary>The replica of the cluster's prefix index this view matches prompts against; null: no prefix knowledge.</summary>
    public KvCache.KvPrefixIndex? Index { get; init; }

    /// <summary>Decides peer fetches for a chosen instance; null: prefixes are never fetched.</summary>
    public KvCache.KvFetchPlanner? Fetcher { get; init; }

    /// <summary>
    /// Picks the instance the request decodes on and, where the decider splits it, the prefill instance for its prompt;
    /// counts the dispatch, made at <paramref name="now"/>, into the load of each.
    /// </summary>
    public DispatchOutcome Dispatch(in DispatchRequest request, DateTimeOffset now, IReadOnlyCollection<string>? exclude = null)
    {
        var asked = request;
        if (Index is not null && !request.BlockHashes.IsEmpty && request.Prefix is null)
            asked = request with { Prefix = Index.Match(request.BlockHashes.Span) };
        var outcome = Profile.Pick(asked, _loads, exclude) with { Prefix = asked.Prefix };
        if (!outcome.Succeeded)
            return outcome;
        Count(outcome.Index, asked, now);
        if (Fetcher is not null && asked.Prefix is { } match && !asked.Resumed)
            outcome = outcome with { Fetch = Fetcher.Plan(match, _loads[outcome.Index], _loads) };
        if (Decider is null || asked.Resumed)
            return outcome;
        // A prompt mostly cached where it decodes is not worth a split: only its uncached part would be prefilled.
        var decodeOn = _loads[outcome.Index];
        var cached = (asked.Prefix?.For(decodeOn.InstanceId).Blocks ?? 0) * decodeOn.KvBlockSize;
        var split = Decider.Decide(asked, cached, _loads, exclude);
        if (!split.Splits)
            return outcome;
        Count(split.PrefillIndex, asked, now);
        return outcome with { PrefillIndex = split.PrefillIndex };
    }

    /// <summary>
    /// Another decode instance for a split request whose handoff was refused by the one it had (or could not reach it): the
    /// policy's pick among the instances a new request may decode on, skipping <paramref name="exclude"/> (those tried, and
    /// its prefill instance), counted into its load; -1 when none will do. The prompt's blocks go there by the handoff, so
    /// neither a split nor a prefix fetch is planned.
    /// </summary>
    public int PickDecode(in DispatchRequest request, DateTimeOffset now, IReadOnlyCollection<string> exclude)
    {
        var outcome = Profile.Pick(request, _loads, exclude);
        if (!outcome.Succeeded)
            return -1;
        Count(outcome.Index, request, now);
        return outcome.Index;
    }

    /// <summary>
    /// After a refusal because of queues: how long until a retry may be admitted, from the queues as this view sees them
    /// (the least time any ready instance needs to bring the request's predicted first token within its class's target,
    /// or, for a full queue, to work off its waiting prompts). Null while no instance has a measured prefill rate.
    /// </summary>
    public TimeSpan? RetryAfter(in DispatchRequest request, DispatchRefusal refusal, Filters.SloAdmissionConfig targets)
    {
        if (refusal is not (DispatchRefusal.Overloaded or DispatchRefusal.SloMiss))
            return null;
        var target = refusal == DispatchRefusal.SloMiss ? targets.For(request.ServiceClass) ?? TimeSpan.Zero : TimeSpan.Zero;
        TimeSpan? least = null;
        foreach (var load in _loads)
        {
            if (load.Health != InstanceHealth.Ready || load.PredictedTtft(request.PromptTokens) is not { } predicted)
                continue;
            var wait = predicted - target;
            if (least is null || wait < least)
                least = wait;
        }
        return least is { } w ? (w > TimeSpan.Zero ? w : TimeSpan.Zero) : null;
    }

    private void Count(int index, in DispatchRequest request, DateTimeOffset now)
    {
        var chosen = _loads[index];
        var blocks = request.PromptBlocks(chosen.KvBlockSize);
        if (!_sent.TryGetValue(chosen.InstanceId, out var sent))
            _sent[chosen.InstanceId] = sent = [];
        sent.Add((now, blocks));
        _loads[index] = chosen with { WaitingRequests = chosen.WaitingRequests + 1, WaitingKvBlocks = chosen.WaitingKvBlocks + blocks };
    }

    private InstanceLoad WithUnreported(InstanceLoad load)
    {
        if (!_sent.TryGetValue(load.InstanceId, out var sent))
            return load;
        // A load read after a dispatch includes it once the admission has reached the engine: up to
        // admissionDelay later (a hop between processes); a reading at the very instant may not include it.
        var measured = load.MeasuredAt == default ? load.ReportedAt : load.MeasuredAt;
        sent.RemoveAll(s => s.At + admissionDelay < measured);
        if (sent.Count == 0)
        {
            _sent.Remove(load.InstanceId);
            return load;
        }
        var blocks = 0;
        foreach (var s in sent)
            blocks += s.Blocks;
        return load with { WaitingRequests = load.WaitingRequests + sent.Count, WaitingKvBlocks = load.WaitingKvBlocks + blocks };
    }
}
