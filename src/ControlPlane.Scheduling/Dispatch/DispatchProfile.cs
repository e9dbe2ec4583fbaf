using System.Buffers;
using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Dispatch;

/// <summary>
/// One named dispatch profile: filters, then weighted scorers, then a picker. Stateless but for what the
/// picker keeps (a round-robin cursor); not thread-safe: each dispatcher owns its profile.
/// </summary>
public sealed class DispatchProfile(string name, IReadOnlyList<IDispatchFilter> filters, IReadOnlyList<WeightedScorer> scorers, IDispatchPicker picker)
{
    public string Name { get; } = name;
    public IReadOnlyList<IDispatchFilter> Filters { get; } = filters;
    public IReadOnlyList<WeightedScorer> Scorers { get; } = scorers;
    public IDispatchPicker Picker { get; } = picker;

    public DispatchOutcome Pick(in DispatchRequest request, IReadOnlyList<InstanceLoad> instances, IReadOnlyCollection<string>? exclude = null)
    {
        if (instances.Count == 0)
            return DispatchOutcome.Refused(DispatchRefusal.NoInstances);

        var candidates = ArrayPool<InstanceLoad>.Shared.Rent(instances.Count);
        var positions = ArrayPool<int>.Shared.Rent(instances.Count);
        var total = ArrayPool<double>.Shared.Rent(instances.Count);
        var scratch = ArrayPool<double>.Shared.Rent(instances.Count);
        try
        {
            var count = 0;
            for (var i = 0; i < instances.Count; i++)
            {
                if (exclude is { Count: > 0 } && exclude.Contains(instances[i].InstanceId))
                    continue;
                candidates[count] = instances[i];
                positions[count++] = i;
            }
            if (count == 0)
                return DispatchOutcome.Refused(DispatchRefusal.NoInstances);

            foreach (var filter in Filters)
            {
                var kept = 0;
                for (var i = 0; i < count; i++)
                {
                    if (!filter.Admits(request, candidates[i]))
                        continue;
                    candidates[kept] = candidates[i];
                    positions[kept++] = positions[i];
                }
                if (kept == 0)
                    return DispatchOutcome.Refused(filter.RefusalWhenEmpty);
                count = kept;
            }

            var totals = total.AsSpan(0, count);
            totals.Clear();
            foreach (var (scorer, weight) in Scorers)
            {
                var scores = scratch.AsSpan(0, count);
                scorer.Score(request, candidates.AsSpan(0, count), scores);
                for (var i = 0; i < count; i++)
                    totals[i] += weight * Math.Clamp(scores[i], 0, 1);
            }
            return DispatchOutcome.Chose(positions[Picker.Pick(totals)]);
        }
        finally
        {
            ArrayPool<InstanceLoad>.Shared.Return(candidates, clearArray: true);
            ArrayPool<int>.Shared.Return(positions);
            ArrayPool<double>.Shared.Return(total);
            ArrayPool<double>.Shared.Return(scratch);
        }
    }
}
