using ControlPlane.Instances;

namespace ControlPlane.Scheduling.Migration;

/// <summary>
/// Llumnix's migration pairing, one model at a time: sources are instances whose virtual usage is at or above
/// <see cref="MigrationConfig.SourceAbove"/> (or that drain), destinations those at or below
/// <see cref="MigrationConfig.DestinationBelow"/> counting what already moves in; the most loaded source is paired
/// with the least loaded destination, within the limits on concurrent migrations. Pure: the scheduler grain runs it on a
/// timer over the load snapshot, the cluster simulator in virtual time over the same loads. It remembers only which
/// instance took a migration when (the cooldown).
/// </summary>
public sealed class MigrationPlanner(MigrationConfig config)
{
    private readonly Dictionary<string, DateTimeOffset> _receivedAt = new(StringComparer.Ordinal);

    public MigrationConfig Config { get; } = config;

    /// <summary>The orders to start now, given the instances' loads and the migrations still in flight.</summary>
    public IReadOnlyList<MigrationOrder> Plan(IReadOnlyList<InstanceLoad> loads, IReadOnlyCollection<MigrationInFlight> inFlight, DateTimeOffset now)
    {
        if (!Config.Enabled || loads.Count < 2)
            return [];
        var byId = new Dictionary<string, InstanceLoad>(loads.Count, StringComparer.Ordinal);
        foreach (var l in loads)
            byId[l.InstanceId] = l;
        var incoming = new Dictionary<string, int>(StringComparer.Ordinal);
        var outgoing = new Dictionary<string, int>(StringComparer.Ordinal);
        var running = 0;
        foreach (var m in inFlight)
        {
            incoming[m.Destination] = incoming.GetValueOrDefault(m.Destination) + EstimatedBlocks(byId.GetValueOrDefault(m.Source));
            outgoing[m.Source] = outgoing.GetValueOrDefault(m.Source) + 1;
            if (m.Reason != MigrationReason.Drain)
                running++;
        }

        var sources = new List<(InstanceLoad Load, double Usage, MigrationReason Reason)>();
        foreach (var load in loads)
        {
            if (load.RunningRequests == 0 || load.Role == InstanceRole.Prefill)
                continue;
            if (load.Health == InstanceHealth.Draining)
            {
                sources.Add((load, double.PositiveInfinity, MigrationReason.Drain));
                continue;
            }
            if (load.Health != InstanceHealth.Ready || (load.RunningRequests < 2 && !VirtualUsage.Fragmented(load)) || outgoing.ContainsKey(load.InstanceId) || incoming.ContainsKey(load.InstanceId)
                || (_receivedAt.TryGetValue(load.InstanceId, out var received) && now - received < Config.Cooldown))
                continue;
            var usage = VirtualUsage.Of(load, Config.PriorityHeadroomBlocks);
            if (usage < Config.SourceAbove)
                continue;
            var reason = VirtualUsage.Fragmented(load) ? MigrationReason.Defragment
                : VirtualUsage.Of(load, 0) < Config.SourceAbove ? MigrationReason.Priority
                : MigrationReason.Balance;
            sources.Add((load, usage, reason));
        }
        if (sources.Count == 0)
            return [];
        sources.Sort((a, b) => b.Usage.CompareTo(a.Usage));

        var orders = new List<MigrationOrder>();
        foreach (var (source, _, reason) in sources)
        {
            var drain = reason == MigrationReason.Drain;
            var slots = drain ? Config.DrainConcurrency - outgoing.GetValueOrDefault(source.InstanceId) : Math.Min(1, Config.MaxConcurrent - running);
            var moving = Math.Min(slots, source.RunningRequests - outgoing.GetValueOrDefault(source.InstanceId));
            for (var i = 0; i < moving; i++)
            {
                var destination = LeastLoaded(loads, source, incoming, drain ? 1.0 : Config.DestinationBelow, allowBusy: drain);
                if (destination is null)
                    break;
                orders.Add(new MigrationOrder(source.InstanceId, destination.InstanceId, reason));
                incoming[destination.InstanceId] = incoming.GetValueOrDefault(destination.InstanceId) + EstimatedBlocks(source);
                outgoing[source.InstanceId] = outgoing.GetValueOrDefault(source.InstanceId) + 1;
                _receivedAt[destination.InstanceId] = now;
                if (!drain)
                    running++;
            }
        }
        return orders;
    }

    /// <summary>Forgets instances that are gone (keeps the cooldown table as small as the model).</summary>
    public void Retain(IReadOnlyCollection<string> instanceIds)
    {
        foreach (var id in _receivedAt.Keys.Where(id => !instanceIds.Contains(id)).ToArray())
            _receivedAt.Remove(id);
    }

    private InstanceLoad? LeastLoaded(IReadOnlyList<InstanceLoad> loads, InstanceLoad source, Dictionary<string, int> incoming, double below, bool allowBusy)
    {
        InstanceLoad? best = null;
        var bestUsage = double.PositiveInfinity;
        var need = EstimatedBlocks(source);
        foreach (var d in loads)
        {
            if (d.InstanceId == source.InstanceId || d.Health != InstanceHealth.Ready || d.Role == InstanceRole.Prefill || d.TotalKvBlocks <= 0)
                continue;
            // One migration into an instance at a time, except to empty a draining one.
            if (!allowBusy && incoming.ContainsKey(d.InstanceId))
                continue;
            // Below the threshold now (with what already moves in), and room for the request once it arrives.
            var usage = VirtualUsage.Of(d, Config.PriorityHeadroomBlocks, incoming.GetValueOrDefault(d.InstanceId));
            if (usage > below || usage >= bestUsage || VirtualUsage.Of(d, Config.PriorityHeadroomBlocks, incoming.GetValueOrDefault(d.InstanceId) + need) > 1)
                continue;
            best = d;
            bestUsage = usage;
        }
        return best;
    }

    /// <summary>The blocks one of the source's running requests holds, on average: what a migration from it brings.</summary>
    private static int EstimatedBlocks(InstanceLoad? source) =>
        source is null || source.RunningRequests == 0 ? 0 : (int)Math.Ceiling((double)source.UsedKvBlocks / source.RunningRequests);
}
