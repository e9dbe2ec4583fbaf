namespace ControlPlane.Server.Configuration;

/// <summary>
/// <c>ControlPlane:Auth</c>: who may call the gateway. Each API key belongs to a tenant, with a service-class
/// ceiling, rate limits and a concurrency limit. Keys are stored only as SHA-256 hashes
/// (<c>sha256:</c> and 64 hex digits: <c>printf %s "$KEY" | sha256sum</c>), in configuration or in
/// <see cref="TenantsFile"/>, a JSON file such as a mounted Kubernetes Secret.
/// </summary>
public sealed record AuthConfig
{
    public const string OpenMode = "Open";
    public const string KeysMode = "Keys";

    /// <summary>
    /// <c>Open</c> (the embedded default): a caller without a known key is the <see cref="Anonymous"/> tenant, a tenant's
    /// key is that tenant. <c>Keys</c> (the chart's): every call to <c>/v1</c> needs a valid key.
    /// </summary>
    public string Mode { get; init; } = OpenMode;

    /// <summary>A JSON file <c>{"Tenants": [...]}</c> read at start, beside <see cref="Tenants"/> (a mounted Secret).</summary>
    public string? TenantsFile { get; init; }

    public IReadOnlyList<TenantConfig> Tenants { get; init; } = [];

    /// <summary>The tenant of a caller without a key in Open mode: the standard class at most, priority 0.</summary>
    public TenantConfig Anonymous { get; init; } = new() { Name = "anonymous" };

    /// <summary>
    /// Hashes of the keys that may call <c>/admin</c>. With none, admin calls are taken only from loopback and never
    /// from a web page of another origin.
    /// </summary>
    public IReadOnlyList<string> AdminKeyHashes { get; init; } = [];
}

/// <summary>One tenant: its keys, the most it may claim, and its limits (0: none).</summary>
public sealed record TenantConfig
{
    public string Name { get; init; } = "";

    /// <summary>SHA-256 hashes of the tenant's keys, each <c>sha256:</c> and 64 hex digits.</summary>
    public IReadOnlyList<string> KeyHashes { get; init; } = [];

    /// <summary>The highest <c>service_tier</c> the tenant may ask for: <c>flex</c>, <c>default</c> or <c>priority</c>.</summary>
    public string MaxServiceTier { get; init; } = "default";

    /// <summary>The highest <c>priority</c> the tenant may set; a request above it is refused (403).</summary>
    public int MaxPriority { get; init; }

    public int RequestsPerMinute { get; init; }

    /// <summary>Prompt tokens plus <c>max_tokens</c> per minute, the completion's unused tokens given back at its end.</summary>
    public int TokensPerMinute { get; init; }

    public int MaxConcurrentRequests { get; init; }

    /// <summary>The tenant's share beside others in the same class on an instance's waiting queue (fair queuing).</summary>
    public double Weight { get; init; } = 1;
}
