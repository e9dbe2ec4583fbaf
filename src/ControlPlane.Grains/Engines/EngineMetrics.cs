using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ControlPlane.Engines;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Per-step engine metrics, in the gateway's meter ("ControlPlane"): how long steps take and how many sequences
/// they carry, by kind of step (decode only, prefill only, or mixed), per instance.
/// </summary>
public static class EngineMetrics
{
    /// <summary>The meter every ControlPlane metric is in; the gateway's instruments use it too.</summary>
    public const string MeterName = "ControlPlane";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Histogram<double> StepDuration =
        Meter.CreateHistogram<double>("controlplane.engine.step_duration", "s", "Time of one engine step");
    private static readonly Histogram<int> StepSequences =
        Meter.CreateHistogram<int>("controlplane.engine.step_sequences", "{sequence}", "Sequences in one engine step (decoding, plus those with prefill tokens)");

    // Engines with a power actuator, observed by the power instruments (one set per process, whatever the hosts).
    private static readonly ConcurrentDictionary<EngineRunner, byte> Powered = new();

    static EngineMetrics()
    {
        Meter.CreateObservableGauge("controlplane.gpu.power_draw", () => Powered.Keys
            .Select(r => new Measurement<double>(r.LastReport.DrawWatts, Instance(r))), "W", "GPU power draw over the last load report");
        Meter.CreateObservableGauge("controlplane.gpu.power_cap", () => Powered.Keys.Where(r => r.Power!.CapWatts is not null)
            .Select(r => new Measurement<double>(r.Power!.CapWatts!.Value, Instance(r))), "W", "GPU power cap in force (absent when uncapped)");
        Meter.CreateObservableCounter("controlplane.kv.peer_fetched_bytes", () => Runners.Keys
            .Select(r => new Measurement<long>(r.PrefixFetchedBytes, Instance(r))), "By", "KV bytes fetched from peers instead of computed");
        Meter.CreateObservableCounter("controlplane.kv.peer_fetches", () => Runners.Keys
            .SelectMany(r => new[] { new Measurement<long>(r.PrefixFetches, Instance(r), new("outcome", "done")), new Measurement<long>(r.PrefixFetchFailures, Instance(r), new("outcome", "failed")) }),
            "{fetch}", "Prefix fetches from peers, by outcome");
        Meter.CreateObservableGauge("controlplane.kv.host_tier_blocks", () => Runners.Keys
            .Where(r => r.HostTierBlocks is not null)
            .Select(r => new Measurement<int>(r.HostTierBlocks!.Value, Instance(r))), "{block}", "KV blocks held in the host-memory tier");
        Meter.CreateObservableCounter("controlplane.gpu.energy", () => Powered.Keys
            .Select(r => new Measurement<double>(r.EnergyJoules, Instance(r))), "J", "GPU energy drawn since the instance started");
    }

    // Every engine this process runs, for the KV cache instruments.
    private static readonly ConcurrentDictionary<EngineRunner, byte> Runners = new();

    internal static void Observe(EngineRunner runner) => Powered.TryAdd(runner, 0);

    internal static void Track(EngineRunner runner) => Runners.TryAdd(runner, 0);

    internal static void Forget(EngineRunner runner)
    {
        Powered.TryRemove(runner, out _);
        Runners.TryRemove(runner, out _);
    }

    private static KeyValuePair<string, object?> Instance(EngineRunner runner) => new("instance", runner.Descriptor.InstanceId);

    private static readonly Counter<long> PromptTokens =
        Meter.CreateCounter<long>("controlplane.kv.prompt_tokens", "{token}", "Prompt tokens of requests that produced a first token here");
    private static readonly Counter<long> CachedTokens =
        Meter.CreateCounter<long>("controlplane.kv.cached_prompt_tokens", "{token}",
            "Prompt tokens not computed thanks to the KV cache, by tier: gpu (this instance's cache), host (its host-memory tier), peer (fetched from another instance); prefill tokens saved");

    /// <summary>At a request's first token: its prompt and where its cached part came from (hit rate by tier = cached / prompt).</summary>
    internal static void RecordPrompt(string instance, RequestOutput output, int peerFetchedTokens)
    {
        var at = new KeyValuePair<string, object?>("instance", instance);
        PromptTokens.Add(output.PromptTokens, at);
        var host = output.HostCachedPromptTokens;
        var peer = Math.Min(peerFetchedTokens, output.CachedPromptTokens - host);
        var gpu = output.CachedPromptTokens - host - peer;
        if (gpu > 0)
            CachedTokens.Add(gpu, at, new("tier", "gpu"));
        if (host > 0)
            CachedTokens.Add(host, at, new("tier", "host"));
        if (peer > 0)
            CachedTokens.Add(peer, at, new("tier", "peer"));
    }

    internal static void Record(string instance, EngineStepResult step)
    {
        var kind = step.PrefillTokens == 0 ? "decode" : step.DecodeSequences == 0 ? "prefill" : "mixed";
        var tags = new KeyValuePair<string, object?>[] { new("instance", instance), new("kind", kind) };
        StepDuration.Record(step.Duration.TotalSeconds, tags);
        StepSequences.Record(step.DecodeSequences + (step.PrefillTokens > 0 ? 1 : 0), tags);
    }
}
