using System.Text.Json.Serialization;
using k8s.Models;

namespace ControlPlane.Operator.Resources;

/// <summary>A list of custom resources as the API server returns it.</summary>
public sealed class CustomResourceList<T>
{
    [JsonPropertyName("apiVersion")] public string? ApiVersion { get; set; }
    [JsonPropertyName("kind")] public string? Kind { get; set; }
    [JsonPropertyName("metadata")] public V1ListMeta? Metadata { get; set; }
    [JsonPropertyName("items")] public IList<T> Items { get; set; } = [];
}
