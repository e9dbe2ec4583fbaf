using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ControlPlane.Grains.Engines;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Autoscaling;

namespace ControlPlane.Server.Metrics;

/// <summary>
/// The control plane's metrics (meter <c>ControlPlane</c>): requests by outcome, latency histograms in
/// seconds, queue depth, and each local instance's KV usage and running requests.
/// </summary>
public sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = ControlPlane.Grains.Engines.EngineMetrics.MeterName;

    /// <summary>Bucket bounds in seconds for the latency histograms, from 1 ms to 2 minutes.</summary>
    public static readonly double[] LatencyBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120];

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _timePerOutputToken;
    private readonly Histogram<double> _endToEnd;
    private readonly Counter<long> _resumes;
    private readonly Histogram<double> _resumeGap;
    private readonly Histogram<double> _requestEnergy;
    private readonly Histogram<double> _tokenEnergy;

    /// <summary>Buckets for energy in joules: a token's fraction of a joule up to a long request's kilojoules.</summary>
    public static readonly double[] EnergyBuckets = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
    private readonly Counter<long> _migrations;
    private readonly Counter<long> _splits;
    private readonly Counter<long> _handoffs;
    private readonly Counter<long> _dispatches;
    private int _inFlight;

    public GatewayMetrics(IMeterFactory meters, EngineHost engines)
    {
        _meter = meters.Create(MeterName);
        _requests = _meter.CreateCounter<long>("controlplane.requests", "{request}", "Requests by outcome");
        _timeToFirstToken = _meter.CreateHistogram<double>("controlplane.time_to_first_token", "s", "From arrival at the gateway to the first token");
        _timePerOutputToken = _meter.CreateHistogram<double>("controlplane.time_per_output_token", "s", "Mean time between output tokens after the first");
        _endToEnd = _meter.CreateHistogram<double>("controlplane.e2e_latency", "s", "From arrival at the gateway to the last token");
        _resumes = _meter.CreateCounter<long>("controlplane.request_resumes", "{request}", "Requests resumed on an instance after theirs was lost (cause instance_lost) or its stream stalled (cause stalled), by outcome");
        _migrations = _meter.CreateCounter<long>("controlplane.request_migrations", "{migration}", "Moves of this gateway's running requests to another instance (live migration commits)");
        _splits = _meter.CreateCounter<long>("controlplane.request_splits", "{request}", "Requests whose prompt was sent to a prefill instance (prefill/decode disaggregation)");
        _handoffs = _meter.CreateCounter<long>("controlplane.request_handoffs", "{request}", "Split requests handed from their prefill instance to their decode instance (the handoff committed)");
        _dispatches = _meter.CreateCounter<long>("controlplane.dispatch_decisions", "{request}", "Requests placed on an instance, by model and the dispatch policy that placed them");
        _requestEnergy = _meter.CreateHistogram<double>("controlplane.request_energy", "J", "GPU energy a finished request took (each step's energy shared by the tokens it computed)");
        _tokenEnergy = _meter.CreateHistogram<double>("controlplane.energy_per_output_token", "J", "A finished request's GPU energy over its output tokens");
        _resumeGap = _meter.CreateHistogram<double>("controlplane.resume_gap", "s", "From the loss of a request's instance being known to its resumed admission");
        _meter.CreateObservableGauge("controlplane.requests_in_flight", () => Volatile.Read(ref _inFlight), "{request}", "Requests this gateway is serving");
        _meter.CreateObservableGauge("controlplane.queue_depth", () => engines.Runners.Sum(r => r.Load.WaitingRequests), "{request}", "Requests waiting in this silo's engines");
        _meter.CreateObservableGauge("controlplane.instance.kv_usage", () => engines.Runners.Select(r =>
            new Measurement<double>(r.Load.KvUsage, new KeyValuePair<string, object?>("instance", r.Descriptor.InstanceId), new KeyValuePair<string, object?>("model", r.Descriptor.Model))),
            "1", "Share of an instance's KV blocks in use");
        _meter.CreateObservableGauge("controlplane.instance.running_requests", () => engines.Runners.Select(r =>
            new Measurement<int>(r.Load.RunningRequests, new KeyValuePair<string, object?>("instance", r.Descriptor.InstanceId), new KeyValuePair<string, object?>("model", r.Descriptor.Model))),
            "{request}", "Requests in an instance's running batch");
    }

    public int EnterRequest() => Interlocked.Increment(ref _inFlight);

    /// <summary>A request placed on an instance by <paramref name="policy"/> (the model's, or the gateway's).</summary>
    public void Dispatched(string model, string policy) =>
        _dispatches.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("policy", policy));

    /// <summary>A finished request's energy, and per output token.</summary>
    public void Energy(string model, double joules, int completionTokens)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _requestEnergy.Record(joules, tag);
        if (completionTokens > 0)
            _tokenEnergy.Record(joules / completionTokens, tag);
    }

    public void LeaveRequest() => Interlocked.Decrement(ref _inFlight);

    public void Outcome(string model, string outcome) =>
        _requests.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>The time to a request's first token, by model and the service tier it was served in (default, priority, flex).</summary>
    public void FirstToken(string model, TimeSpan sinceArrival, ServiceClass serviceClass) =>
        _timeToFirstToken.Record(sinceArrival.TotalSeconds, new KeyValuePair<string, object?>("model", model), Tier(serviceClass));

    public void Completed(string model, TimeSpan endToEnd, TimeSpan? firstToken, int completionTokens, int promptTokens, int cachedTokens,
        ServiceClass serviceClass)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        var tier = Tier(serviceClass);
        _endToEnd.Record(endToEnd.TotalSeconds, tag, tier);
        TimeSpan? perToken = null;
        if (firstToken is { } ttft && completionTokens > 1)
        {
            perToken = (endToEnd - ttft) / (completionTokens - 1);
            _timePerOutputToken.Record(perToken.Value.TotalSeconds, tag, tier);
        }
        Recent.Add(model, firstToken, perToken, promptTokens, cachedTokens);
        Latency.GetOrAdd(model, _ => new LatencyWindow(LatencyWindow.DefaultWindow))
            .Add(TimeProvider.System.GetUtcNow(), firstToken?.TotalMilliseconds ?? double.NaN, perToken?.TotalMilliseconds ?? double.NaN);
    }

    /// <summary>Per model, the latencies of the requests finished over the last minute: what the gateway reports to the autoscaler.</summary>
    public ConcurrentDictionary<string, LatencyWindow> Latency { get; } = new(StringComparer.Ordinal);

    private static KeyValuePair<string, object?> Tier(ServiceClass serviceClass) =>
        new("service_tier", Gateway.Tenants.TenantDirectory.TierName(serviceClass));

    /// <summary>The last five minutes of finished requests (the status page's SLO attainment and hit rate).</summary>
    public RecentRequests Recent { get; } = new(TimeProvider.System, TimeSpan.FromMinutes(5));

    public void Resumed(string model, string outcome, TimeSpan gap, string cause)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _resumes.Add(1, tag, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("cause", cause));
        if (outcome == "resumed")
            _resumeGap.Record(gap.TotalSeconds, tag);
    }

    public void Migrated(string model) => _migrations.Add(1, new KeyValuePair<string, object?>("model", model));

    public void Split(string model) => _splits.Add(1, new KeyValuePair<string, object?>("model", model));

    public void HandedOff(string model) => _handoffs.Add(1, new KeyValuePair<string, object?>("model", model));

    public void Dispose() => _meter.Dispose();
}
