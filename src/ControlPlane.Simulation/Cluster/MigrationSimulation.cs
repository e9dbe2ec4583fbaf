using ControlPlane.Engines;
using ControlPlane.Instances;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Simulation.Engine;
using ControlPlane.Transfer;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// Live migration in virtual time, with the production pieces: the <see cref="MigrationPlanner"/> over the reported
/// loads, <see cref="MigrationCandidates"/> to pick the request, and the engines' own staged export, suspend and
/// import (the simulated runner's blocks hold no bytes; the time to copy them comes from the configured bandwidth).
/// Stages go on while the request decodes; the stop suspends it until the last part is imported on the destination.
/// </summary>
internal sealed class MigrationSimulation(MigrationSimulationConfig config, SimulatedEngine[] engines)
{
    private readonly MigrationPlanner _planner = new(config.Planner);
    private readonly Dictionary<int, Move> _moves = [];
    private readonly Dictionary<string, double> _arrivedAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _outcomes = new(StringComparer.Ordinal);
    private readonly List<double> _stops = [];
    private long _bytes;
    private int _next;

    public double PeriodMs => config.Planner.Period.TotalMilliseconds;

    /// <summary>A planning round: starts each order's first stage; returns when each stage is done.</summary>
    public IEnumerable<(double At, int Id)> Plan(InstanceLoad[] reported, double now, DateTimeOffset epoch)
    {
        var inFlight = _moves.Values.Select(m => new MigrationInFlight($"i{m.Source}", $"i{m.Destination}", m.Reason, epoch)).ToArray();
        var started = new List<(double, int)>();
        foreach (var order in _planner.Plan(reported, inFlight, epoch.AddMilliseconds(now)))
        {
            var source = Index(order.Source);
            var destination = Index(order.Destination);
            var engine = engines[source];
            var candidates = new List<MigrationCandidate>();
            foreach (var id in engine.Scheduler.RequestIds)
            {
                if (_moves.Values.Any(m => m.RequestId == id) || engine.Probe(id) is not { Running: true, Decoding: true } probe || !engine.Scheduler.TryGet(id, out var r))
                    continue;
                var lately = _arrivedAt.TryGetValue(id, out var at) && now - at < config.Planner.Cooldown.TotalMilliseconds;
                candidates.Add(new MigrationCandidate(id, r.Spec.ServiceClass, r.Spec.Priority, probe.HeldBlocks, lately));
            }
            if (MigrationCandidates.Pick(candidates, order.Reason) is not { } pick)
                continue;
            var target = engines[destination].Snapshot();
            var reserved = _moves.Values.Where(m => m.Destination == destination).Sum(m => m.Blocks);
            if (target.TotalKvBlocks - target.UsedKvBlocks - target.WaitingKvBlocks - reserved < pick.Blocks + 1)
            {
                Count(order.Reason, MigrationOutcome.Refused);
                continue;
            }
            engines[source].Scheduler.TryGet(pick.RequestId, out var request);
            var move = new Move(++_next, pick.RequestId, request.Spec, source, destination, order.Reason, pick.Blocks + 1, engine.Probe(pick.RequestId)!.Value.Preemptions);
            _moves[move.Id] = move;
            move.Pending = engine.ExportStable(move.RequestId, 0, int.MaxValue);
            var blocks = move.Pending?.Header.BlockCount ?? 0;
            started.Add((now + RoundMs(blocks), move.Id));
        }
        return started;
    }

    /// <summary>
    /// A stage or the stop is done: its part goes into the destination; then the next stage, the stop, or the commit.
    /// Returns when the next one is done (null when the move ended) and the engines that may have work to step now.
    /// </summary>
    public (double? Next, int[] Moved) Advance(int id, double now)
    {
        var move = _moves[id];
        var source = engines[move.Source];
        var destination = engines[move.Destination];
        if (source.Probe(move.RequestId) is not { } probe || probe.Preemptions != move.Preemptions || !(probe.Running || move.Stopped))
            return End(move, MigrationOutcome.Ended);
        if (move.Pending is { } part)
        {
            try
            {
                destination.ImportKv(move.Spec, part);
            }
            catch (Exception ex) when (ex is EngineRejectedException or InvalidDataException)
            {
                destination.Abort(move.RequestId);
                return End(move, MigrationOutcome.Refused);
            }
            _bytes += (long)(part.Header.BlockCount * (double)source.Descriptor.KvBlockSize * config.KvBytesPerToken);
            move.Sent += part.Header.BlockCount;
            move.Rounds++;
        }
        if (move.Stopped)
        {
            // Committed: the request decodes on the destination from its next step; the source frees it.
            source.Abort(move.RequestId);
            _arrivedAt[move.RequestId] = now;
            _stops.Add(now - move.StoppedAt);
            _moves.Remove(id);
            Count(move.Reason, MigrationOutcome.Committed);
            return (null, [move.Destination, move.Source]);
        }
        if (probe.FullBlocks - move.Sent > config.Planner.StopBlocks && move.Rounds < config.Planner.MaxRounds)
        {
            // The next round: every full block written meanwhile, in parts of StageBlocks.
            move.Pending = source.ExportStable(move.RequestId, move.Sent, int.MaxValue);
            return (now + RoundMs(move.Pending?.Header.BlockCount ?? 0), []);
        }
        source.Suspend(move.RequestId);
        move.Stopped = true;
        move.StoppedAt = now;
        move.Pending = source.ExportKv(move.RequestId, new KvBlockRange(move.Sent, -1));
        return (now + config.StopOverheadMs + CopyMs(move.Pending.Header.BlockCount), []);
    }

    public MigrationReport Report() => new(new Dictionary<string, int>(_outcomes), [.. _stops], _bytes);

    private (double?, int[]) End(Move move, MigrationOutcome outcome)
    {
        engines[move.Destination].Abort(move.RequestId);
        if (move.Stopped)
            engines[move.Source].Unsuspend(move.RequestId);
        _moves.Remove(move.Id);
        Count(move.Reason, outcome);
        return (null, [move.Source]);
    }

    /// <summary>A round of <paramref name="blocks"/> blocks: a stage per <see cref="MigrationConfig.StageBlocks"/>, each with its fixed cost.</summary>
    private double RoundMs(int blocks) =>
        Math.Max(1, (blocks + config.Planner.StageBlocks - 1) / config.Planner.StageBlocks) * config.StageLatencyMs + CopyMs(blocks);

    private double CopyMs(int blocks) => blocks * (double)engines[0].Descriptor.KvBlockSize * config.KvBytesPerToken / (config.BandwidthGBps * 1e6);

    private void Count(MigrationReason reason, MigrationOutcome outcome)
    {
        var key = $"{reason.Name()}/{outcome.ToString().ToLowerInvariant()}";
        _outcomes[key] = _outcomes.GetValueOrDefault(key) + 1;
    }

    private static int Index(string id) => int.Parse(id.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);

    private sealed class Move(int id, string requestId, Requests.RequestSpec spec, int source, int destination, MigrationReason reason, int blocks, int preemptions)
    {
        public int Id { get; } = id;
        public string RequestId { get; } = requestId;
        public Requests.RequestSpec Spec { get; } = spec;
        public int Source { get; } = source;
        public int Destination { get; } = destination;
        public MigrationReason Reason { get; } = reason;
        public int Blocks { get; } = blocks;
        public int Preemptions { get; } = preemptions;
        public KvPart? Pending { get; set; }
        public int Sent { get; set; }
        public int Rounds { get; set; }
        public bool Stopped { get; set; }
        public double StoppedAt { get; set; }
    }
}
