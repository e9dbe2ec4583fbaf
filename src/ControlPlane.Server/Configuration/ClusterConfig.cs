namespace ControlPlane.Server.Configuration;

/// <summary><c>ControlPlane:Cluster</c>: the Orleans cluster this silo joins.</summary>
public sealed record ClusterConfig
{
    public string Mode { get; init; } = nameof(ClusterMode.Embedded);

    /// <summary>A StackExchange.Redis configuration string; required in Redis mode.</summary>
    public string? Redis { get; init; }
    public string ClusterId { get; init; } = "controlplane";
    public string ServiceId { get; init; } = "controlplane";
    public int SiloPort { get; init; } = 11111;
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other silos reach this one at (Redis mode); loopback by default.</summary>
    public string AdvertisedAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// In a Kubernetes pod (Redis mode): take the cluster id, service id and silo address from the pod's
    /// environment (Orleans' Kubernetes hosting), and let silos remove pods that are gone from membership.
    /// </summary>
    public bool KubernetesHosting { get; init; }
}
