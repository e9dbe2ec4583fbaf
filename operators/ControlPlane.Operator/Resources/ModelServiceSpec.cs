using System.Text.Json.Serialization;

namespace ControlPlane.Operator.Resources;

/// <summary>What a ModelService asks for (the parts the operator reads).</summary>
public sealed class ModelServiceSpec
{
    [JsonPropertyName("model")] public ModelSource Model { get; set; } = new();
    [JsonPropertyName("engine")] public EngineSpec Engine { get; set; } = new();
    [JsonPropertyName("pools")] public PoolsSpec Pools { get; set; } = new();

    /// <summary>Whether the control plane's autoscaler sizes the mixed pool (through this resource's scale subresource).</summary>
    [JsonPropertyName("autoscaling")] public AutoscalingSpec? Autoscaling { get; set; }

    /// <summary>The model's latency targets (the status page's attainment is measured against them); the CRD's defaults when absent.</summary>
    [JsonPropertyName("slo")] public SloSpec? Slo { get; set; }

    /// <summary>How the gateways place this model's requests; the gateways' own policy when absent.</summary>
    [JsonPropertyName("dispatch")] public DispatchSpec? Dispatch { get; set; }

    /// <summary>Whether the scheduler live-migrates the model's requests; the control plane's own setting when absent.</summary>
    [JsonPropertyName("migration")] public MigrationSpec? Migration { get; set; }

    /// <summary>The named classes the model's requests may ask for by <c>priority_class</c>: each a service class and a priority.</summary>
    [JsonPropertyName("priorityClasses")] public List<PriorityClassSpec>? PriorityClasses { get; set; }
}

/// <summary>A named service class and priority (interactive, standard or batch; -1000 to 1000).</summary>
public sealed class PriorityClassSpec
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("serviceClass")] public string ServiceClass { get; set; } = "standard";
    [JsonPropertyName("priority")] public int Priority { get; set; }

    /// <summary>The class of requests that name none (at most one a model).</summary>
    [JsonPropertyName("default")] public bool Default { get; set; }
}

/// <summary>A model's live migration (Llumnix): on or off.</summary>
public sealed class MigrationSpec
{
    [JsonPropertyName("enabled")] public bool? Enabled { get; set; }
}

/// <summary>A model's dispatch: a policy by name (round-robin, random, least-request, least-kv-usage, prefix-aware, power-aware).</summary>
public sealed class DispatchSpec
{
    [JsonPropertyName("policy")] public string? Policy { get; set; }

    /// <summary>Requests waiting an instance beyond which the gateways refuse more with 429.</summary>
    [JsonPropertyName("queueLimit")] public int? QueueLimit { get; set; }
}

/// <summary>A model's latency targets: time to the first token and between tokens.</summary>
public sealed class SloSpec
{
    [JsonPropertyName("timeToFirstTokenMs")] public int? TimeToFirstTokenMs { get; set; }
    [JsonPropertyName("timePerOutputTokenMs")] public int? TimePerOutputTokenMs { get; set; }
}

/// <summary>Where the model folder comes from.</summary>
public sealed class ModelSource
{
    [JsonPropertyName("source")] public string Source { get; set; } = "";
    [JsonPropertyName("servedName")] public string? ServedName { get; set; }

    /// <summary>The chat template the model's prompts are rendered with (chatml, llama3); unset: the workers' own choice.</summary>
    [JsonPropertyName("chatTemplate")] public string? ChatTemplate { get; set; }

    /// <summary>The longest prompt and completion together, tokens: what each engine is sized for; unset: the workers' default.</summary>
    [JsonPropertyName("maxContextTokens")] public int? MaxContextTokens { get; set; }
}

/// <summary>The worker image and what each instance gets.</summary>
public sealed class EngineSpec
{
    [JsonPropertyName("image")] public string Image { get; set; } = "";

    /// <summary>The engine the workers run: torchsharp (the model on the GPU) or simulated (a profile's timing, no GPU).</summary>
    [JsonPropertyName("backend")] public string Backend { get; set; } = "torchsharp";
    [JsonPropertyName("gpusPerInstance")] public int GpusPerInstance { get; set; } = 1;

    /// <summary>GPU memory for the KV cache per instance, MiB.</summary>
    [JsonPropertyName("kvCacheMiB")] public int KvCacheMiB { get; set; } = 40960;

    /// <summary>Host memory per instance for KV blocks the GPU evicts (the host tier), MiB; 0: none. Added to the pod's memory request.</summary>
    [JsonPropertyName("hostKvCacheMiB")] public int HostKvCacheMiB { get; set; }

    /// <summary>
    /// Whether each worker measures its decode graphs' products at start (the worker's <c>MeasureDecodeProducts</c>): faster
    /// decode steps at batch 8-64 for about 30 s more at a pod's first start; its choices kept in the engine cache (<see cref="CacheHostPath"/>).
    /// </summary>
    [JsonPropertyName("measureDecodeProducts")] public bool MeasureDecodeProducts { get; set; } = true;

    /// <summary>
    /// A folder on the node for the engine's start-up measurements (a hostPath volume, made if missing), shared by the
    /// worker pods there, so that a new pod reuses what an earlier one measured; unset: an emptyDir, kept for the pod's life.
    /// </summary>
    [JsonPropertyName("cacheHostPath")] public string? CacheHostPath { get; set; }

    [JsonPropertyName("resources")] public EngineResources Resources { get; set; } = new();
}

/// <summary>What a worker pod asks of its node besides GPUs.</summary>
public sealed class EngineResources
{
    [JsonPropertyName("cpu")] public string Cpu { get; set; } = "8";
    [JsonPropertyName("memory")] public string Memory { get; set; } = "64Gi";
}

/// <summary>The three pools; a pool with no replicas is not created.</summary>
public sealed class PoolsSpec
{
    [JsonPropertyName("mixed")] public PoolSpec? Mixed { get; set; }
    [JsonPropertyName("prefill")] public PoolSpec? Prefill { get; set; }
    [JsonPropertyName("decode")] public PoolSpec? Decode { get; set; }

    public IEnumerable<(string Role, int Replicas)> All() =>
        [("mixed", Mixed?.Replicas ?? 0), ("prefill", Prefill?.Replicas ?? 0), ("decode", Decode?.Replicas ?? 0)];

    /// <summary>The pool of a role (<c>mixed</c>, <c>prefill</c>, <c>decode</c>), or null when not declared.</summary>
    public PoolSpec? Of(string role) => role switch
    {
        "mixed" => Mixed,
        "prefill" => Prefill,
        "decode" => Decode,
        _ => null,
    };
}

/// <summary>The control plane's autoscaler: off unless enabled.</summary>
public sealed class AutoscalingSpec
{
    [JsonPropertyName("enabled")] public bool Enabled { get; set; }
}

/// <summary>One pool's size.</summary>
public sealed class PoolSpec
{
    [JsonPropertyName("replicas")] public int Replicas { get; set; }

    /// <summary>Bounds the autoscaler keeps the pool within.</summary>
    [JsonPropertyName("minReplicas")] public int MinReplicas { get; set; }
    [JsonPropertyName("maxReplicas")] public int MaxReplicas { get; set; } = 8;

    /// <summary>
    /// The pool's size is a HorizontalPodAutoscaler's (its target: the pool's StatefulSet, <c>{name}-{pool}</c>, which has
    /// the scale subresource): <see cref="Replicas"/> only sizes the StatefulSet when it is created; after that the operator
    /// keeps whatever replicas it has. Pods the autoscaler removes drain by migration in their preStop hook.
    /// </summary>
    [JsonPropertyName("autoscaled")] public bool Autoscaled { get; set; }
}
