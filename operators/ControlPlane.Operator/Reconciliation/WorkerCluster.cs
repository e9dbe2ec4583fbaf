namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// The cluster the operator's worker pods join: the Redis that holds Orleans membership, the cluster id the
/// chart gives its control silos, the service account Orleans' Kubernetes hosting runs under, and how long a
/// stopping worker may drain. The chart sets them on the operator's environment.
/// </summary>
public sealed record WorkerCluster
{
    public string Redis { get; init; } = "redis:6379";
    public string ClusterId { get; init; } = "controlplane";
    public string? ServiceAccount { get; init; }
    public int DrainSeconds { get; init; } = 60;

    public static WorkerCluster FromEnvironment() => new()
    {
        Redis = Environment.GetEnvironmentVariable("ControlPlane__Cluster__Redis") ?? "redis:6379",
        ClusterId = Environment.GetEnvironmentVariable("ORLEANS_CLUSTER_ID") ?? "controlplane",
        ServiceAccount = Environment.GetEnvironmentVariable("CONTROLPLANE_WORKER_SERVICE_ACCOUNT"),
        DrainSeconds = int.TryParse(Environment.GetEnvironmentVariable("CONTROLPLANE_WORKER_DRAIN_SECONDS"), out var s) ? s : 60,
    };
}
