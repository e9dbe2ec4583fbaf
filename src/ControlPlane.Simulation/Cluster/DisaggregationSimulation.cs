using ControlPlane.Engines;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Simulation.Engine;
using ControlPlane.Transfer;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// Prefill/decode disaggregation in virtual time, with the production pieces: the dispatch view asks the
/// <see cref="DisaggregationDecider"/>, the <see cref="PoolBalancer"/> changes roles on a period, and the engines' own
/// probe, suspend, export and import move each split request as the runner does. Copies take time on one link per
/// prefill instance: the blocks each prefill step fills go out after it (overlapping the next steps); the last ones
/// and the commit follow the first token, while the request takes no step.
/// </summary>
internal sealed class DisaggregationSimulation
{
    private readonly DisaggregationSimulationConfig _config;
    private readonly SimulatedEngine[] _engines;
    private readonly InstanceRole[] _roles;
    private readonly bool[] _draining;
    private readonly double[] _linkFreeAt;
    private readonly Dictionary<int, Handoff> _handoffs = [];
    private readonly Dictionary<int, RoleChange> _changes = [];
    private readonly PoolBalancer? _balancer;
    private readonly List<double> _handoffMs = [];
    private int _split, _handedOff, _fellBack, _roleChanges, _redirected;
    private long _bytes;

    public DisaggregationSimulation(DisaggregationSimulationConfig config, SimulatedEngine[] engines)
    {
        if (config.PrefillInstances < 0 || config.PrefillInstances >= engines.Length)
            throw new ArgumentException($"{config.PrefillInstances} prefill instances leave no decode instance among {engines.Length}", nameof(config));
        _config = config;
        _engines = engines;
        _roles = [.. Enumerable.Range(0, engines.Length).Select(i => i < config.PrefillInstances ? InstanceRole.Prefill : InstanceRole.Decode)];
        _draining = new bool[engines.Length];
        _linkFreeAt = new double[engines.Length];
        _balancer = config.Decider.Pools.Enabled ? new PoolBalancer(config.Decider.Pools) : null;
        Decider = new DisaggregationDecider(config.Decider);
    }

    public DisaggregationDecider Decider { get; }

    public bool Balancing => _balancer is not null;

    public double PeriodMs => _config.Decider.Pools.Period.TotalMilliseconds;

    public InstanceRole Role(int instance) => _roles[instance];

    public bool Draining(int instance) => _draining[instance];

    /// <summary>Where a dispatched request goes first: its prefill instance when the view split it (the handoff is then planned), else where it decodes.</summary>
    public int Place(int decode, int prefill, int index, RequestSpec spec)
    {
        if (prefill < 0)
            return decode;
        var size = _engines[decode].Descriptor.KvBlockSize;
        _handoffs[index] = new Handoff(spec, prefill, decode, (spec.PromptTokenIds.Count + size) / size + 1);
        _split++;
        return prefill;
    }

    /// <summary>
    /// After a step of <paramref name="instance"/> ended at <paramref name="now"/>: its split requests send the blocks the
    /// step filled, and those that sampled their first token stop; returns when each of those commits (request index).
    /// </summary>
    public List<(double At, int Index)> AfterStep(int instance, double now)
    {
        var commits = new List<(double, int)>();
        foreach (var (index, h) in _handoffs)
        {
            if (h.Prefill != instance || h.Committing)
                continue;
            var engine = _engines[instance];
            if (engine.Probe(h.Spec.RequestId) is not { } probe)
            {
                _handoffs.Remove(index); // finished at its first token
                continue;
            }
            if (!h.Begun)
            {
                if (!probe.Running && probe.FullBlocks == 0)
                    continue;
                if (!Begin(h, now))
                {
                    _handoffs.Remove(index);
                    _fellBack++;
                    continue;
                }
            }
            var fresh = probe.FullBlocks - h.Exported;
            if (fresh > 0)
            {
                _linkFreeAt[instance] = Math.Max(now, _linkFreeAt[instance]) + _config.PartLatencyMs + CopyMs(fresh);
                h.Exported = probe.FullBlocks;
            }
            if (!probe.Decoding || !engine.Suspend(h.Spec.RequestId))
                continue;
            h.Committing = true;
            h.SuspendedAt = now;
            var last = probe.HeldBlocks - h.Exported;
            var at = Math.Max(now, _linkFreeAt[instance]) + CopyMs(last) + _config.CommitOverheadMs;
            _linkFreeAt[instance] = at;
            commits.Add((at, index));
        }
        return commits;
    }

    /// <summary>A handoff's last part arrived: the decode instance takes the request in, or it goes on where it prefilled. Returns the instances to step.</summary>
    public int[] Commit(int index, double now)
    {
        if (!_handoffs.Remove(index, out var h))
            return [];
        var source = _engines[h.Prefill];
        var id = h.Spec.RequestId;
        if (source.Probe(id) is not { } probe)
            return [h.Prefill];
        var part = source.ExportKv(id, new KvBlockRange(0, -1));
        try
        {
            _engines[h.Decode].ImportKv(h.Spec, part);
        }
        catch (Exception ex) when (ex is EngineRejectedException or InvalidDataException)
        {
            _engines[h.Decode].Abort(id);
            source.Unsuspend(id);
            _fellBack++;
            return [h.Prefill];
        }
        _bytes += (long)(probe.HeldBlocks * (double)source.Descriptor.KvBlockSize * _config.KvBytesPerToken);
        source.Abort(id);
        _handedOff++;
        _handoffMs.Add(now - h.SuspendedAt);
        return [h.Decode, h.Prefill];
    }

    /// <summary>A balancing round: role changes whose instance has emptied take effect; the balancer may start the next one.</summary>
    public void Balance(InstanceLoad[] reported, double now, DateTimeOffset epoch)
    {
        foreach (var (instance, change) in _changes)
        {
            var s = _engines[instance].Snapshot();
            if (s.RunningRequests + s.WaitingRequests > 0 || _handoffs.Values.Any(h => h.Prefill == instance))
                continue;
            _roles[instance] = change.To;
            _draining[instance] = false;
            _changes.Remove(instance);
            _roleChanges++;
        }
        if (_balancer?.Plan(reported, [.. _changes.Values.Select(c => c.InstanceId)], epoch.AddMilliseconds(now)) is not { } next)
            return;
        var i = int.Parse(next.InstanceId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
        _draining[i] = true;
        _changes[i] = next;
    }

    public DisaggregationReport Report() => new(_split, _handedOff, _fellBack, [.. _handoffMs], _roleChanges, _bytes, _redirected);

    /// <summary>
    /// Another decode instance for a split request, skipping the engines given (those tried and its prefill instance), at
    /// a time: the dispatch view's pick, as the prefill instance asks its dispatcher; -1 when none will do.
    /// </summary>
    public Func<RequestSpec, IReadOnlyList<int>, double, int>? Redirect { get; set; }

    /// <summary>
    /// The decode instance's yes or no, as BeginIncomingAsync answers it; after a no, another the dispatch view picks, up to
    /// <see cref="DisaggregationConfig.HandoffAttempts"/> in all, as the runner asks (false: it decodes where it prefilled).
    /// </summary>
    private bool Begin(Handoff h, double now)
    {
        var tried = new List<int> { h.Prefill };
        while (true)
        {
            var d = _engines[h.Decode].Snapshot();
            var reserved = _handoffs.Values.Where(o => o.Begun && o.Decode == h.Decode).Sum(o => o.Blocks);
            if (d.TotalKvBlocks - d.UsedKvBlocks - d.WaitingKvBlocks - reserved >= h.Blocks && !_draining[h.Decode] && _roles[h.Decode] != InstanceRole.Prefill)
            {
                h.Begun = true;
                return true;
            }
            tried.Add(h.Decode);
            if (tried.Count - 1 >= _config.Decider.HandoffAttempts || Redirect?.Invoke(h.Spec, tried, now) is not (>= 0 and var next))
                return false;
            h.Decode = next;
            _redirected++;
        }
    }

    private double CopyMs(int blocks) => blocks * (double)_engines[0].Descriptor.KvBlockSize * _config.KvBytesPerToken / (_config.BandwidthGBps * 1e6);

    private sealed class Handoff(RequestSpec spec, int prefill, int decode, int blocks)
    {
        public RequestSpec Spec { get; } = spec;
        public int Prefill { get; } = prefill;
        /// <summary>The decode instance asked (another after a refusal).</summary>
        public int Decode { get; set; } = decode;

        /// <summary>Blocks the decode instance reserves: the prompt's and one more, as the runner asks.</summary>
        public int Blocks { get; } = blocks;
        public bool Begun { get; set; }
        public bool Committing { get; set; }
        public int Exported { get; set; }
        public double SuspendedAt { get; set; }
    }
}
