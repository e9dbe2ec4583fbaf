using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace ControlPlane.Operator.Resources;

/// <summary>The cluster-scoped <c>PowerBudget</c> custom resource: a power domain and its budget.</summary>
public sealed class PowerBudget : IKubernetesObject<V1ObjectMeta>
{
    public const string Plural = "powerbudgets";

    /// <summary>Node label with a GPU's peak draw in watts; 700 (an H100 SXM) when absent.</summary>
    public const string PeakWattsLabel = "inference.controlplane.dev/gpu-peak-watts";

    [JsonPropertyName("apiVersion")] public string ApiVersion { get; set; } = $"{ModelService.Group}/{ModelService.Version}";
    [JsonPropertyName("kind")] public string Kind { get; set; } = "PowerBudget";
    [JsonPropertyName("metadata")] public V1ObjectMeta Metadata { get; set; } = new();
    [JsonPropertyName("spec")] public PowerBudgetSpec Spec { get; set; } = new();
    [JsonPropertyName("status")] public PowerBudgetStatus? Status { get; set; }
}

/// <summary>Which nodes form the domain, and its budget.</summary>
public sealed class PowerBudgetSpec
{
    [JsonPropertyName("nodeSelector")] public V1LabelSelector NodeSelector { get; set; } = new();
    [JsonPropertyName("budgetWatts")] public long BudgetWatts { get; set; }
    [JsonPropertyName("capping")] public CappingSpec? Capping { get; set; }
}

/// <summary>How the domain's caps are set (the CRD's defaults when absent).</summary>
public sealed class CappingSpec
{
    /// <summary>power-limit (the one the control plane carries out) or frequency-lock (not carried out: power limits are used).</summary>
    [JsonPropertyName("method")] public string Method { get; set; } = "power-limit";

    /// <summary>No GPU is capped below this, watts.</summary>
    [JsonPropertyName("minimumGpuWatts")] public int MinimumGpuWatts { get; set; } = 200;

    /// <summary>The share of the budget kept free: the domain is held to the rest.</summary>
    [JsonPropertyName("headroomPercent")] public int HeadroomPercent { get; set; } = 5;
}

/// <summary>The domain as the operator sees it: its nodes, GPUs and uncapped peak, and whether that exceeds the budget.</summary>
public sealed class PowerBudgetStatus
{
    [JsonPropertyName("observedGeneration")] public long? ObservedGeneration { get; set; }
    [JsonPropertyName("nodes")] public int Nodes { get; set; }
    [JsonPropertyName("gpus")] public int Gpus { get; set; }
    [JsonPropertyName("peakWatts")] public long PeakWatts { get; set; }

    /// <summary>The domain's live draw and the instances its controller caps, from the control plane (absent until it reports).</summary>
    [JsonPropertyName("drawWatts")] public long? DrawWatts { get; set; }
    [JsonPropertyName("cappedInstances")] public int? CappedInstances { get; set; }

    /// <summary>The engine instances the control plane's loop found on the domain's nodes (absent until it reports).</summary>
    [JsonPropertyName("instances")] public int? Instances { get; set; }

    /// <summary>The domain's controller level: Uncapped, BatchCapped, AllCapped or Brake.</summary>
    [JsonPropertyName("level")] public string? Level { get; set; }

    /// <summary>Emergency brakes the domain's controller has started (each a period over budget despite the caps).</summary>
    [JsonPropertyName("brakes")] public int? Brakes { get; set; }

    /// <summary>When the operator last saw a new brake.</summary>
    [JsonPropertyName("lastBrakeTime")] public DateTime? LastBrakeTime { get; set; }
    [JsonPropertyName("conditions")] public IList<V1Condition> Conditions { get; set; } = [];
}
