using System.Text.Json.Serialization;

namespace ControlPlane.Operator.Resources;

/// <summary>What a ModelService asks for (the parts the operator reads).</summary>
public sealed class ModelServiceSpec
{
    [JsonPropertyName("model")] public ModelSource Model { get; set; } = new();
    [JsonPropertyName("engine")] public EngineSpec Engine { get; set; } = new();
    [JsonPropertyName("pools")] public PoolsSpec Pools { get; set; } = new();
}

/// <summary>Where the model folder comes from.</summary>
public sealed class ModelSource
{
    [JsonPropertyName("source")] public string Source { get; set; } = "";
    [JsonPropertyName("servedName")] public string? ServedName { get; set; }
}

/// <summary>The worker image and what each instance gets.</summary>
public sealed class EngineSpec
{
    [JsonPropertyName("image")] public string Image { get; set; } = "";
    [JsonPropertyName("gpusPerInstance")] public int GpusPerInstance { get; set; } = 1;
}

/// <summary>The three pools; a pool with no replicas is not created.</summary>
public sealed class PoolsSpec
{
    [JsonPropertyName("mixed")] public PoolSpec? Mixed { get; set; }
    [JsonPropertyName("prefill")] public PoolSpec? Prefill { get; set; }
    [JsonPropertyName("decode")] public PoolSpec? Decode { get; set; }

    public IEnumerable<(string Role, int Replicas)> All() =>
        [("mixed", Mixed?.Replicas ?? 0), ("prefill", Prefill?.Replicas ?? 0), ("decode", Decode?.Replicas ?? 0)];
}

/// <summary>One pool's size.</summary>
public sealed class PoolSpec
{
    [JsonPropertyName("replicas")] public int Replicas { get; set; }
}
