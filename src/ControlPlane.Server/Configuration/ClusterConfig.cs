using ControlPlane.Grains.Placement;

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
    /// The address the silo and client-gateway ports listen on (Redis mode): the advertised address (the pod's, under
    /// Kubernetes hosting) when empty, never every interface unless named (<c>0.0.0.0</c>).
    /// </summary>
    public string? ListenAddress { get; init; }

    /// <summary>How long a request's stored state is kept after its last write (its end): Redis expires it then.</summary>
    public TimeSpan RequestStateTtl { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Embedded mode: the most request states kept in memory; the oldest go first beyond it.</summary>
    public int RequestStateMaxEntries { get; init; } = 20_000;

    /// <summary>
    /// In a Kubernetes pod (Redis mode): take the cluster id, service id and silo address from the pod's
    /// environment (Orleans' Kubernetes hosting), and let silos remove pods that are gone from membership.
    /// </summary>
    public bool KubernetesHosting { get; init; }

    /// <summary>What this silo does, comma-separated: <c>control</c> (gateway and control grains), <c>worker</c> (engines), or both (the default).</summary>
    public string Roles { get; init; } = "control,worker";

    /// <summary>The role names in <see cref="Roles"/>.</summary>
    public IReadOnlyList<string> RoleNames => Roles.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// This pod's name: the silo's name and the first part of its instance ids, so it must be unique in the cluster
    /// and the same across restarts of one pod. Defaults to <c>POD_NAME</c>, then the host name.
    /// </summary>
    public string? PodName { get; init; }

    /// <summary>How long a probe of another silo may take before it counts as missed (Orleans' default: 5 s).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Missed probes after which a silo votes another dead (Orleans' default: 3). Detection takes about their product.</summary>
    public int MissedProbesLimit { get; init; } = 3;

    /// <summary>
    /// The Kubernetes node this pod runs on, for power domains made of nodes (PowerBudgets); defaults to <c>NODE_NAME</c>
    /// (the operator sets it from the pod's <c>spec.nodeName</c>), else empty.
    /// </summary>
    public string? NodeName { get; init; }

    /// <summary>The node this silo's engines run on: <see cref="NodeName"/>, else <c>NODE_NAME</c>, else empty.</summary>
    public string ResolveNodeName() =>
        NodeName is { Length: > 0 } node ? node : Environment.GetEnvironmentVariable("NODE_NAME") ?? "";

    /// <summary>The pod name this silo uses: <see cref="PodName"/>, else <c>POD_NAME</c>, else the host name.</summary>
    public string ResolvePodName() =>
        PodName is { Length: > 0 } pod ? pod : Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } env ? env : Environment.MachineName;

    /// <summary>The roles as flags; unknown names are rejected when configuration loads.</summary>
    public SiloRoles ResolveRoles() => RoleNames.Aggregate(SiloRoles.None, (all, role) => all | Enum.Parse<SiloRoles>(role, ignoreCase: true));
}
