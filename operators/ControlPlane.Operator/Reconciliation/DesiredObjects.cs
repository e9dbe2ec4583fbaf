using ControlPlane.Operator.Resources;
using k8s.Models;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>The objects a ModelService should own, with deterministic names (<c>{name}-{pool}</c>) and owner references.</summary>
public static class DesiredObjects
{
    public const string ModelLabel = "inference.controlplane.dev/model";
    public const string PoolLabel = "inference.controlplane.dev/pool";

    public static string Name(ModelService ms, string pool) => $"{ms.Metadata.Name}-{pool}";

    public static string Selector(ModelService ms) => $"{ModelLabel}={ms.Metadata.Name}";

    public static Dictionary<string, string> Labels(ModelService ms, string pool) => new()
    {
        [ModelLabel] = ms.Metadata.Name,
        [PoolLabel] = pool,
        ["app.kubernetes.io/managed-by"] = "controlplane-operator",
    };

    public static V1OwnerReference Owner(ModelService ms) => new()
    {
        ApiVersion = ms.ApiVersion,
        Kind = ms.Kind,
        Name = ms.Metadata.Name,
        Uid = ms.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    public static V1StatefulSet StatefulSet(ModelService ms, string pool, int replicas) => new()
    {
        ApiVersion = "apps/v1",
        Kind = "StatefulSet",
        Metadata = new V1ObjectMeta { Name = Name(ms, pool), NamespaceProperty = ms.Metadata.NamespaceProperty, Labels = Labels(ms, pool), OwnerReferences = [Owner(ms)] },
        Spec = new V1StatefulSetSpec
        {
            Replicas = replicas,
            ServiceName = Name(ms, pool),
            Selector = new V1LabelSelector { MatchLabels = Labels(ms, pool) },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = Labels(ms, pool) },
                Spec = new V1PodSpec
                {
                    Containers =
                    [
                        new V1Container
                        {
                            Name = "worker",
                            Image = ms.Spec.Engine.Image,
                            Env =
                            [
                                new V1EnvVar { Name = "ControlPlane__Models__0__Name", Value = ms.Spec.Model.ServedName ?? ms.Metadata.Name },
                                new V1EnvVar { Name = "ControlPlane__Models__0__Engine", Value = "torchsharp" },
                                new V1EnvVar { Name = "ControlPlane__Models__0__Path", Value = ms.Spec.Model.Source },
                                new V1EnvVar { Name = "ControlPlane__Models__0__Device", Value = ms.Spec.Engine.GpusPerInstance > 0 ? "cuda" : "cpu" },
                            ],
                            Resources = ms.Spec.Engine.GpusPerInstance > 0
                                ? new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["nvidia.com/gpu"] = new(ms.Spec.Engine.GpusPerInstance.ToString(System.Globalization.CultureInfo.InvariantCulture)) } }
                                : null,
                        },
                    ],
                },
            },
        },
    };

    public static V1Service Service(ModelService ms, string pool) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = Name(ms, pool), NamespaceProperty = ms.Metadata.NamespaceProperty, Labels = Labels(ms, pool), OwnerReferences = [Owner(ms)] },
        Spec = new V1ServiceSpec { ClusterIP = "None", Selector = Labels(ms, pool), Ports = [new V1ServicePort { Name = "kv", Port = 9000 }] },
    };

    public static V1PodDisruptionBudget DisruptionBudget(ModelService ms, string pool) => new()
    {
        ApiVersion = "policy/v1",
        Kind = "PodDisruptionBudget",
        Metadata = new V1ObjectMeta { Name = Name(ms, pool), NamespaceProperty = ms.Metadata.NamespaceProperty, Labels = Labels(ms, pool), OwnerReferences = [Owner(ms)] },
        Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = "1", Selector = new V1LabelSelector { MatchLabels = Labels(ms, pool) } },
    };
}
