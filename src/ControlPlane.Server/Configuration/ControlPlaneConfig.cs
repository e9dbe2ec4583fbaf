using ControlPlane.Grains.Engines;
using ControlPlane.Scheduling.Dispatch;
using ControlPlane.Scheduling.Autoscaling;
using ControlPlane.Scheduling.Disaggregation;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Scheduling.Power;

namespace ControlPlane.Server.Configuration;

/// <summary>The <c>ControlPlane</c> configuration section, as users write it.</summary>
public sealed record ControlPlaneConfig
{
    public const string Section = "ControlPlane";

    public ClusterConfig Cluster { get; init; } = new();
    public GatewayConfig Gateway { get; init; } = new();

    /// <summary>API keys, tenants and their limits; the admin credential.</summary>
    public AuthConfig Auth { get; init; } = new();
    public DispatchConfig Dispatch { get; init; } = new();
    public IReadOnlyList<ModelConfig> Models { get; init; } = [];

    /// <summary>Power domains and their controller (POLCA); none by default.</summary>
    public PowerConfig Power { get; init; } = new();

    /// <summary>How a worker silo stops (drain timeout).</summary>
    public WorkerConfig Worker { get; init; } = new();

    /// <summary>Live migration of running requests (Llumnix): on by default.</summary>
    public MigrationConfig Migration { get; init; } = new();

    /// <summary>Prefill/decode disaggregation: which prompts run on a prefill instance, and how the pools follow the traffic.</summary>
    public DisaggregationConfig Disaggregation { get; init; } = new();

    /// <summary>The autoscaling planner each model's scheduler runs (off by default); the operator applies its decision.</summary>
    public AutoscaleConfig Autoscale { get; init; } = new();

    /// <summary>The distributed KV cache: prefix index shards and peer fetch (host tiers are per model).</summary>
    public Scheduling.KvCache.KvCacheConfig KvCache { get; init; } = new();
}
