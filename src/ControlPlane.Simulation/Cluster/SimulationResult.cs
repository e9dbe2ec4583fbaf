namespace ControlPlane.Simulation.Cluster;

/// <summary>A simulation's outcomes and what it cost to compute.</summary>
public sealed record SimulationResult(IReadOnlyList<SimulatedOutcome> Outcomes, double VirtualMs, TimeSpan WallTime, long Steps, long Preemptions,
    PowerReport? Power = null, MigrationReport? Migration = null, DisaggregationReport? Disaggregation = null, AutoscaleReport? Autoscale = null)
{
    /// <summary>Virtual time over wall time: 100 means an hour of trace in 36 seconds.</summary>
    public double Speed => VirtualMs / Math.Max(WallTime.TotalMilliseconds, 1e-6);

    /// <summary>
    /// <see cref="PrefixHitRate"/> split by where the cached tokens came from: the instance's GPU cache, its host tier, a peer.
    /// </summary>
    public (double Gpu, double Host, double Peer) HitRateByTier
    {
        get
        {
            long prompt = 0, gpu = 0, host = 0, peer = 0;
            foreach (var o in Outcomes)
            {
                if (o.Error is not null)
                    continue;
                prompt += o.InputTokens;
                var fromPeer = Math.Min(o.PeerFetchedTokens, o.CachedTokens - o.HostCachedTokens);
                host += o.HostCachedTokens;
                peer += fromPeer;
                gpu += o.CachedTokens - o.HostCachedTokens - fromPeer;
            }
            return prompt == 0 ? (0, 0, 0) : ((double)gpu / prompt, (double)host / prompt, (double)peer / prompt);
        }
    }

    /// <summary>Prompt tokens served from the prefix cache over prompt tokens, for the requests that finished.</summary>
    public double PrefixHitRate
    {
        get
        {
            long prompt = 0, cached = 0;
            foreach (var o in Outcomes)
            {
                if (o.Error is not null)
                    continue;
                prompt += o.InputTokens;
                cached += o.CachedTokens;
            }
            return prompt == 0 ? 0 : (double)cached / prompt;
        }
    }
}
