using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace ControlPlane.Operator.Resources;

/// <summary>The <c>ModelService</c> custom resource (<c>inference.controlplane.dev/v1alpha1</c>).</summary>
public sealed class ModelService : IKubernetesObject<V1ObjectMeta>
{
    public const string Group = "inference.controlplane.dev";
    public const string Version = "v1alpha1";
    public const string Plural = "modelservices";
    public const string Finalizer = "inference.controlplane.dev/drain";

    [JsonPropertyName("apiVersion")] public string ApiVersion { get; set; } = $"{Group}/{Version}";
    [JsonPropertyName("kind")] public string Kind { get; set; } = "ModelService";
    [JsonPropertyName("metadata")] public V1ObjectMeta Metadata { get; set; } = new();
    [JsonPropertyName("spec")] public ModelServiceSpec Spec { get; set; } = new();
    [JsonPropertyName("status")] public ModelServiceStatus? Status { get; set; }
}
