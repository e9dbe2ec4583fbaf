using System.Text.Json.Serialization;
using k8s.Models;

namespace ControlPlane.Operator.Resources;

/// <summary>What the operator reports: replica counts, the scale selector and the Ready/Progressing/Degraded conditions.</summary>
public sealed class ModelServiceStatus
{
    [JsonPropertyName("observedGeneration")] public long? ObservedGeneration { get; set; }
    [JsonPropertyName("replicas")] public int Replicas { get; set; }
    [JsonPropertyName("readyReplicas")] public int ReadyReplicas { get; set; }
    [JsonPropertyName("selector")] public string? Selector { get; set; }
    [JsonPropertyName("conditions")] public IList<V1Condition> Conditions { get; set; } = [];
}
