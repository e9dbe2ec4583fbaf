using System.Diagnostics;
using ControlPlane.Instances;
using ControlPlane.KvCache;
using ControlPlane.Scheduling.KvCache;
using ControlPlane.Transfer;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Simulation.Engine;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// A discrete-event simulation of one model's instances in virtual time. It runs the production classes:
/// each instance is a <see cref="SimulatedEngine"/> stepped by <see cref="ControlPlane.Engine.Core.EngineCore.ComputeStep"/>
/// (continuous batching, chunked prefill, prefix sharing, KV admission, preemption), and every request is dispatched by a
/// <see cref="DispatchView"/> over the configured <see cref="DispatchProfile"/>, refreshed from instance
/// loads every <see cref="ClusterSimulationConfig.LoadReportPeriodMs"/>, as the dispatcher grain does.
/// What the control plane adds between them (well under a millisecond) is not modelled.
/// </summary>
public sealed class ClusterSimulator(ClusterSimulationConfig config)
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public SimulationResult Run(IReadOnlyList<SimulatedRequest> requests)
    {
        var wall = Stopwatch.StartNew();
        var random = new Random(config.Seed);
        var engines = new SimulatedEngine[config.Instances];
        var stepping = new bool[config.Instances];
        for (var i = 0; i < engines.Length; i++)
        {
            engines[i] = new SimulatedEngine("sim", config.Profile, random: new Random(random.Next()));
            if (config.KvCache is { HostTierBlocks: > 0 } tiers)
                engines[i].AddHostTier(tiers.HostTierBlocks);
        }
        var ids = Enumerable.Range(0, engines.Length).Select(i => $"i{i}").ToArray();
        // The cluster's prefix index, fed with every step's KV events: the replica a dispatcher would hold.
        var prefixIndex = config.KvCache is { GlobalIndex: true } ? new KvPrefixIndex() : null;
        var hasher = new KvBlockHasher("sim", config.Profile.KvBlockSize);
        var fetcher = config.KvCache?.PeerFetch is { } fc && prefixIndex is not null ? new KvFetchPlanner(fc, config.Profile.KvBytesPerBlock) : null;
        var fetches = new Dictionary<int, (int Instance, KvPart Part, RequestSpec Spec)>();
        var fetched = new int[requests.Count];
        var pd = config.Disaggregation is { } dc ? new DisaggregationSimulation(dc, engines) : null;
        var scaling = config.Autoscale is { } ac ? new AutoscaleSimulation(ac, engines) : null;
        var view = new DispatchView(DispatchPolicies.Create(config.Dispatch, new Random(random.Next())), decider: pd?.Decider) { Index = prefixIndex, Fetcher = fetcher };
        if (pd is not null)
        {
            // A refused handoff's next decode instance: the view's pick among those not tried, as the dispatcher answers the runner.
            pd.Redirect = (spec, tried, now) =>
            {
                var pick = view.PickDecode(DispatchRequest.From(spec), Epoch.AddMilliseconds(now), [.. tried.Select(t => ids[t])]);
                return pick < 0 ? -1 : EngineOf(view.Loads[pick].InstanceId);
            };
        }
        var refreshedAt = double.NegativeInfinity;
        // Instances report on a period and the dispatcher refreshes on its own: what it sees is the last
        // report, as in the control plane (engine host reports, dispatcher grain copies the snapshot).
        InstanceLoad[] reported = Loads(engines, ids, Epoch, pd, scaling);
        var nextReport = config.LoadReportPeriodMs;

        var outcomes = new SimulatedOutcome?[requests.Count];
        var firstToken = new double?[requests.Count];
        var placed = new int[requests.Count];
        var events = new PriorityQueue<(int Kind, int Index, Engines.EngineStepResult? Step), (double At, long Order)>();
        long order = 0, steps = 0;
        for (var i = 0; i < requests.Count; i++)
            events.Enqueue((0, i, null), (requests[i].ArrivalMs, order++));
        var power = config.Power is { } p ? new PowerDomainSimulation(p, engines, ids) : null;
        if (power is not null)
            events.Enqueue((2, 0, null), (power.PeriodMs, order++));
        var migration = config.Migration is { Planner.Enabled: true } m ? new MigrationSimulation(m, engines) : null;
        if (migration is not null)
            events.Enqueue((3, 0, null), (migration.PeriodMs, order++));

        if (pd is { Balancing: true })
            events.Enqueue((6, 0, null), (pd.PeriodMs, order++));

        if (scaling is not null)
            events.Enqueue((7, 0, null), (scaling.PeriodMs, order++));

        var tickers = (power is null ? 0 : 1) + (migration is null ? 0 : 1) + (pd is { Balancing: true } ? 1 : 0) + (scaling is null ? 0 : 1);
        var now = 0.0;
        while (events.TryDequeue(out var e, out var key))
        {
            now = key.At;
            if (nextReport <= now)
            {
                // The last report tick before this event; no event happened since the previous one, so the
                // engines are as they were at that tick.
                var tick = Math.Floor(now / config.LoadReportPeriodMs) * config.LoadReportPeriodMs;
                reported = Loads(engines, ids, Epoch.AddMilliseconds(tick), pd, scaling);
                nextReport = tick + config.LoadReportPeriodMs;
            }
            if (e.Kind == 2)
            {
                power!.Tick();
                if (events.Count > tickers - 1) // more than the periodic events left: the run goes on
                    events.Enqueue((2, 0, null), (now + power.PeriodMs, order++));
                continue;
            }
            if (e.Kind == 3)
            {
                foreach (var (at, id) in migration!.Plan(reported, now, Epoch))
                    events.Enqueue((4, id, null), (at, order++));
                if (events.Count > tickers - 1)
                    events.Enqueue((3, 0, null), (now + migration.PeriodMs, order++));
                continue;
            }
            if (e.Kind == 7)
            {
                foreach (var (at, instance) in scaling!.Tick(reported, now, Epoch))
                    events.Enqueue((8, instance, null), (at, order++));
                if (events.Count > tickers - 1)
                    events.Enqueue((7, 0, null), (now + scaling.PeriodMs, order++));
                continue;
            }
            if (e.Kind == 8)
            {
                // An instance finished starting: it reports at once, and the requests held for want of one go out.
                scaling!.Ready(e.Index);
                reported = Loads(engines, ids, Epoch.AddMilliseconds(now), pd, scaling);
                view.Refresh(reported);
                refreshedAt = now;
                foreach (var held in scaling.Release())
                    Arrive(held);
                continue;
            }
            if (e.Kind == 9)
            {
                // A peer fetch arrived: its blocks go into the destination's cache, and the request is admitted there.
                var (instance, part, spec) = fetches[e.Index];
                fetches.Remove(e.Index);
                fetched[e.Index] = engines[instance].ImportPrefix(part) * config.Profile.KvBlockSize;
                Admit(e.Index, instance, spec);
                continue;
            }
            if (e.Kind == 6)
            {
                pd!.Balance(reported, now, Epoch);
                if (events.Count > tickers - 1)
                    events.Enqueue((6, 0, null), (now + pd.PeriodMs, order++));
                continue;
            }
            if (e.Kind == 5)
            {
                foreach (var instance in pd!.Commit(e.Index, now))
                {
                    if (!stepping[instance] && engines[instance].HasWork)
                        StartStep(instance);
                }
                continue;
            }
            if (e.Kind == 4)
            {
                var (next, moved) = migration!.Advance(e.Index, now);
                if (next is { } at)
                    events.Enqueue((4, e.Index, null), (at, order++));
                foreach (var instance in moved)
                {
                    if (!stepping[instance] && engines[instance].HasWork)
                        StartStep(instance);
                }
                continue;
            }
            if (e.Kind == 0)
            {
                if (scaling is { AnyReady: false })
                    scaling.Hold(e.Index); // no instance is ready: held until one is, as the gateway holds it
                else
                    Arrive(e.Index);
            }
            else
            {
                prefixIndex?.Apply(ids[e.Index], e.Step!.KvEvents);
                foreach (var output in e.Step!.Outputs)
                {
                    var index = int.Parse(output.RequestId, System.Globalization.CultureInfo.InvariantCulture);
                    firstToken[index] ??= now;
                    if (output.Finished)
                    {
                        var request = requests[index];
                        var ttft = firstToken[index]!.Value - request.ArrivalMs;
                        scaling?.Finished(now, Epoch, ttft, output.CompletionTokens > 1 ? (now - firstToken[index]!.Value) / (output.CompletionTokens - 1) : double.NaN);
                        power?.Ended(e.Index, request.Class);
                        outcomes[index] = new SimulatedOutcome(index, request.ArrivalMs, firstToken[index], now, request.InputTokens, output.CompletionTokens, null, e.Index,
                            output.CachedPromptTokens, output.HostCachedPromptTokens, fetched[index]);
                    }
                }
                if (pd is not null)
                {
                    // Between two steps, as the runner does: the blocks this step filled go out; a first token stops the request.
                    foreach (var (at, index) in pd.AfterStep(e.Index, now))
                        events.Enqueue((5, index, null), (at, order++));
                }
                stepping[e.Index] = false;
                if (engines[e.Index].HasWork)
                    StartStep(e.Index);
                else
                    scaling?.AfterStep(e.Index, now);
            }
        }

        var preemptions = engines.Sum(x => x.Snapshot().PreemptionCount);
        return new SimulationResult([.. outcomes.Select((o, i) => o ?? throw new InvalidOperationException($"request {i} never finished"))],
            now, wall.Elapsed, steps, preemptions, power?.Report(), migration?.Report(), pd?.Report(), scaling?.Report(now));

        void Arrive(int index)
        {
            var request = requests[index];
            // As the dispatcher grain does: the first request waits for a view; later, a request that finds
            // the view stale is decided on it while the refresh it starts completes behind it.
            var stale = now - refreshedAt >= config.LoadReportPeriodMs;
            if (view.IsEmpty)
            {
                view.Refresh(reported);
                refreshedAt = now;
                stale = false;
            }
            var spec = Spec(index, request);
            var dispatch = new DispatchRequest(request.InputTokens, request.OutputTokens, request.Class, 0)
            {
                BlockHashes = prefixIndex is null ? default : hasher.HashAll(spec.PromptTokenIds.ToArray()),
            };
            var outcome = view.Dispatch(dispatch, Epoch.AddMilliseconds(now));
            // The view's loads are those that report (with autoscaling, not every engine): back to engine indices,
            // read before a refresh replaces them.
            var decode = outcome.Succeeded ? EngineOf(view.Loads[outcome.Index].InstanceId) : -1;
            var prefill = outcome.PrefillIndex >= 0 ? EngineOf(view.Loads[outcome.PrefillIndex].InstanceId) : -1;
            if (stale)
            {
                view.Refresh(reported);
                refreshedAt = now;
            }
            if (!outcome.Succeeded)
            {
                outcomes[index] = new SimulatedOutcome(index, request.ArrivalMs, null, now, request.InputTokens, 0,
                    outcome.Refusal == DispatchRefusal.Overloaded ? "http_429" : outcome.Refusal == DispatchRefusal.TooLarge ? "http_400" : "http_503", -1);
                return;
            }
            var instance = pd?.Place(decode, prefill, index, spec) ?? decode;
            if (outcome.Fetch is { } fetch && prefill < 0)
            {
                // The blocks leave the peer now and arrive after the modelled transfer; the request waits for them.
                var source = engines[EngineOf(fetch.SourceInstance)];
                var hashes = dispatch.BlockHashes.Span;
                var parent = fetch.FirstBlock == 0 ? hasher.Seed : hashes[fetch.FirstBlock - 1];
                var part = source.ExportPrefix($"fetch-{index}", hashes.ToArray(), spec.PromptTokenIds, fetch.FirstBlock, fetch.BlockCount, parent);
                if (part.Header.BlockCount > 0)
                {
                    fetches[index] = (instance, part, spec);
                    var at = now + fetcher!.FetchTime(part.Header.BlockCount).TotalMilliseconds;
                    events.Enqueue((9, index, null), (at, order++));
                    return;
                }
            }
            Admit(index, instance, spec);
        }

        void Admit(int index, int instance, RequestSpec spec)
        {
            var request = requests[index];
            placed[index] = instance;
            try
            {
                engines[instance].Add(spec);
            }
            catch (ControlPlane.Engines.EngineRejectedException)
            {
                outcomes[index] = new SimulatedOutcome(index, request.ArrivalMs, null, now, request.InputTokens, 0, "http_400", instance);
                return;
            }
            power?.Placed(instance, request.Class);
            if (!stepping[instance])
                StartStep(instance);
        }

        void StartStep(int instance)
        {
            var step = engines[instance].ComputeStep();
            if (step.Duration <= TimeSpan.Zero)
                return; // nothing could be scheduled: the request that waits is reported as never finished
            steps++;
            stepping[instance] = true;
            events.Enqueue((1, instance, step), (now + step.Duration.TotalMilliseconds, order++));
        }
    }

    private RequestSpec Spec(int index, SimulatedRequest request) => new()
    {
        RequestId = index.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Model = "sim",
        PromptTokenIds = PromptTokens.For(index, request, config.TraceBlockTokens),
        Sampling = new SamplingParameters { MaxTokens = Math.Max(1, request.OutputTokens), Temperature = 0 },
        ServiceClass = request.Class,
    };

    private static int EngineOf(string id) => int.Parse(id.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);

    private static InstanceLoad[] Loads(SimulatedEngine[] engines, string[] ids, DateTimeOffset at, DisaggregationSimulation? pd, AutoscaleSimulation? scaling)
    {
        if (scaling is not null)
            return [.. AllLoads(engines, ids, at, pd).Where((l, i) => scaling.Reports(i)).Select(l => scaling.Draining(EngineOf(l.InstanceId)) ? l with { Health = InstanceHealth.Draining } : l)];
        return AllLoads(engines, ids, at, pd);
    }

    private static InstanceLoad[] AllLoads(SimulatedEngine[] engines, string[] ids, DateTimeOffset at, DisaggregationSimulation? pd)
    {
        var loads = new InstanceLoad[engines.Length];
        for (var i = 0; i < engines.Length; i++)
        {
            var s = engines[i].Snapshot();
            loads[i] = new InstanceLoad
            {
                InstanceId = ids[i],
                Role = pd?.Role(i) ?? InstanceRole.Mixed,
                Health = pd is not null && pd.Draining(i) ? InstanceHealth.Draining : InstanceHealth.Ready,
                RunningRequests = s.RunningRequests,
                WaitingRequests = s.WaitingRequests,
                UsedKvBlocks = s.UsedKvBlocks,
                TotalKvBlocks = s.TotalKvBlocks,
                WaitingKvBlocks = s.WaitingKvBlocks,
                BatchRequests = s.BatchRequests,
                PriorityRequests = s.PriorityRequests,
                KvBlockSize = engines[i].Descriptor.KvBlockSize,
                PrefillTokensPerSecond = s.PrefillTokensPerSecond,
                ReportedAt = at,
            };
        }
        return loads;
    }
}
