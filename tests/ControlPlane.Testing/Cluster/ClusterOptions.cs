namespace ControlPlane.Testing.Cluster;

/// <summary>The shape and timings of a <see cref="LocalCluster"/>.</summary>
public sealed record ClusterOptions
{
    public int Workers { get; init; } = 2;
    public int InstancesPerWorker { get; init; } = 2;

    /// <summary>Each simulated engine step; long enough that a stream spans a fault, short enough for a test.</summary>
    public double StepMilliseconds { get; init; } = 20;

    /// <summary>Failure detection (Orleans probes): a dead silo is declared after about their product.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(1);
    public int MissedProbesLimit { get; init; } = 3;
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Serve the model with the TorchSharp engine on a tiny random Llama (CPU) instead of the simulated one.</summary>
    public bool TinyTorch { get; init; }

    /// <summary>Whether the schedulers plan migrations (tests that order them by hand turn it off).</summary>
    public bool MigrationPlanner { get; init; } = true;

    /// <summary>The role of each worker's instances, by worker index (<c>prefill</c>, <c>decode</c>, <c>mixed</c>); mixed past the list.</summary>
    public IReadOnlyList<string> WorkerRoles { get; init; } = [];

    /// <summary>Prompt tokens from which the dispatcher splits a request onto a prefill instance (where there is one).</summary>
    public int SplitPromptTokens { get; init; } = 512;

    /// <summary>The simulated engine's prefill cost per prompt token, ms (a long prompt then takes a while).</summary>
    public double PrefillMsPerToken { get; init; } = 0.002;

    /// <summary>Tokens one engine step may compute (a longer prompt prefills in chunks); the engine's default when null.</summary>
    public int? MaxBatchedTokens { get; init; }

    /// <summary>Shards of the prefix index (<c>ControlPlane:KvCache:IndexShards</c>); null: the default. 0 turns it off.</summary>
    public int? KvIndexShards { get; init; }

    /// <summary>The dispatch policy (<c>ControlPlane:Dispatch:Policy</c>); null: the default.</summary>
    public string? DispatchPolicy { get; init; }
}
