using ControlPlane.Operator.Resources;
using k8s.Models;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>The objects a ModelService should own, with deterministic names (<c>{name}-{pool}</c>) and owner references.</summary>
public static class DesiredObjects
{
    public const string ModelLabel = "inference.controlplane.dev/model";
    public const string PoolLabel = "inference.controlplane.dev/pool";

    public static string Name(ModelService ms, string pool) => $"{ms.Metadata.Name}-{pool}";

    /// <summary>The pods of a pool's StatefulSet with ordinals <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/> - 1.</summary>
    public static string[] PodNames(ModelService ms, string pool, int from, int count) =>
        [.. Enumerable.Range(from, Math.Max(0, count)).Select(i => $"{Name(ms, pool)}-{i}")];

    /// <summary>The workers' KV data endpoint port (live migration streams KV blocks to it).</summary>
    public const int KvPort = 9000;

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

    public static V1StatefulSet StatefulSet(ModelService ms, string pool, int replicas, WorkerCluster? cluster = null)
    {
        var set = WorkerSet(ms, pool, replicas, cluster ?? new WorkerCluster());
        // What the pods are made of (image, resources, volumes, probes, env): a change to any of it replaces the StatefulSet.
        set.Spec.Template.Metadata.Annotations[TemplateHashAnnotation] = Convert.ToHexStringLower(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(k8s.KubernetesJson.Serialize(set.Spec.Template.Spec))))[..16];
        return set;
    }

    /// <summary>Pod template annotation with a hash of the pod's spec as the operator makes it: the reconciler's test for "changed".</summary>
    public const string TemplateHashAnnotation = "inference.controlplane.dev/template-hash";

    private static V1StatefulSet WorkerSet(ModelService ms, string pool, int replicas, WorkerCluster cluster) => new()
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
                Metadata = new V1ObjectMeta { Labels = PodLabels(ms, pool, cluster), Annotations = new Dictionary<string, string> { [ConfigHashAnnotation] = ConfigHash(ms, cluster) } },
                Spec = new V1PodSpec
                {
                    ServiceAccountName = cluster.ServiceAccount,
                    // SIGTERM drains (no new requests, running ones finish or migrate) for up to the drain time, then the silo leaves.
                    TerminationGracePeriodSeconds = cluster.DrainSeconds + 30,
                    Volumes =
                    [
                        new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = ConfigName(ms) } },
                        // The engine's start-up measurements (the decode products' choices): kept while the pod lives, so that
                        // a restarted container checks them instead of measuring again; on the node, where the ModelService
                        // names a host folder, so that every later pod there does (writers take turns through a lock file).
                        ms.Spec.Engine.CacheHostPath is { Length: > 0 } hostPath
                            ? new V1Volume { Name = "engine-cache", HostPath = new V1HostPathVolumeSource { Path = hostPath, Type = "DirectoryOrCreate" } }
                            : new V1Volume { Name = "engine-cache", EmptyDir = new V1EmptyDirVolumeSource() },
                        // The model's claim (source pvc://CLAIM/PATH), read-only: every worker reads the same folder.
                        .. ModelLocation(ms.Spec.Model.Source).Claim is { } claim
                            ? [new V1Volume { Name = "model", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = claim, ReadOnlyProperty = true } }]
                            : Array.Empty<V1Volume>(),
                    ],
                    Containers =
                    [
                        new V1Container
                        {
                            Name = "worker",
                            Image = ms.Spec.Engine.Image,
                            VolumeMounts =
                            [
                                new V1VolumeMount { Name = "config", MountPath = "/app/appsettings.json", SubPath = "appsettings.json", ReadOnlyProperty = true },
                                new V1VolumeMount { Name = "engine-cache", MountPath = EngineCachePath },
                                .. ModelLocation(ms.Spec.Model.Source).Claim is { } modelClaim
                                    ? [new V1VolumeMount { Name = "model", MountPath = $"{ModelsRoot}/{modelClaim}", ReadOnlyProperty = true }]
                                    : Array.Empty<V1VolumeMount>(),
                            ],
                            Env =
                            [
                                // The StatefulSet's pod name is the silo's name and its instance ids' first part: unique, and the same after a restart.
                                new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
                                new V1EnvVar { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } },
                                // Power domains (PowerBudgets) are sets of nodes: each engine registers the node it runs on.
                                new V1EnvVar { Name = "NODE_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "spec.nodeName" } } },
                                new V1EnvVar { Name = "POD_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
                                new V1EnvVar { Name = "ORLEANS_SERVICE_ID", Value = cluster.ClusterId },
                                new V1EnvVar { Name = "ORLEANS_CLUSTER_ID", Value = cluster.ClusterId },
                                new V1EnvVar { Name = "ASPNETCORE_URLS", Value = "http://+:8080" },
                                new V1EnvVar { Name = "XDG_CACHE_HOME", Value = EngineCachePath },
                                // The KV data endpoint (migrations into this worker's engines), at the pod's IP: the "kv" port.
                                new V1EnvVar { Name = "ControlPlane__Worker__KvPort", Value = KvPort.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                                // The pool is the role of its workers' instances: prefill, decode or mixed.
                                new V1EnvVar { Name = "ControlPlane__Models__0__Role", Value = pool },
                                new V1EnvVar { Name = "ControlPlane__Worker__KvHost", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
                            ],
                            Ports =
                            [
                                new V1ContainerPort { Name = "http", ContainerPort = 8080 },
                                new V1ContainerPort { Name = "silo", ContainerPort = 11111 },
                                new V1ContainerPort { Name = "kv", ContainerPort = KvPort },
                            ],
                            // A worker answers nothing until its engines exist: weights read from storage, decode graphs captured,
                            // products measured (a minute or more on a GPU). The startup probe holds the liveness probe off that long.
                            StartupProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/healthz", Port = "http" }, PeriodSeconds = 10, FailureThreshold = StartupProbeFailures },
                            ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/readyz", Port = "http" }, PeriodSeconds = 5 },
                            LivenessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/healthz", Port = "http" }, PeriodSeconds = 10 },
                            // No preStop hook: the worker drains on SIGTERM itself, and /admin needs the admin credential.
                            Resources = WorkerResources(ms.Spec.Engine),
                        },
                    ],
                },
            },
        },
    };

    public static string ConfigName(ModelService ms) => $"{ms.Metadata.Name}-config";

    /// <summary>Where a worker pod mounts a model's claim: <c>{ModelsRoot}/{claim}</c>.</summary>
    public const string ModelsRoot = "/models";

    /// <summary>
    /// The model folder as a worker sees it: <c>pvc://CLAIM/PATH</c> is the claim mounted read-only at
    /// <c>/models/CLAIM</c> and the folder PATH under it (the claim's root where PATH is empty); any other source is a path
    /// in the worker's own file system, as given (Claim null). A claim name that is not a DNS-1123 label is no claim.
    /// </summary>
    public static (string Path, string? Claim) ModelLocation(string source)
    {
        const string Scheme = "pvc://";
        if (!source.StartsWith(Scheme, StringComparison.Ordinal))
            return (source, null);
        var rest = source[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var claim = slash < 0 ? rest : rest[..slash];
        var folder = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
        if (!System.Text.RegularExpressions.Regex.IsMatch(claim, "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$") || folder.Split('/').Contains(".."))
            return (source, null);
        return (folder.Length == 0 ? $"{ModelsRoot}/{claim}" : $"{ModelsRoot}/{claim}/{folder}", claim);
    }

    /// <summary>Where a worker keeps its engine's start-up measurements (its XDG_CACHE_HOME, on an emptyDir).</summary>
    public const string EngineCachePath = "/var/cache/controlplane";

    /// <summary>Startup probes (10 s apart) a worker may fail before the kubelet restarts it: 15 minutes to start.</summary>
    public const int StartupProbeFailures = 90;

    /// <summary>Pod template annotation with a hash of the configuration: a change rolls the pods (a mounted file alone would not).</summary>
    public const string ConfigHashAnnotation = "inference.controlplane.dev/config-hash";

    public static string ConfigHash(ModelService ms, WorkerCluster? cluster = null) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Config(ms, cluster).Data["appsettings.json"])))[..16];

    /// <summary>Orleans' Kubernetes hosting finds its cluster's pods by these labels.</summary>
    private static Dictionary<string, string> PodLabels(ModelService ms, string pool, WorkerCluster cluster) => new(Labels(ms, pool))
    {
        ["orleans/serviceId"] = cluster.ClusterId,
        ["orleans/clusterId"] = cluster.ClusterId,
    };

    /// <summary>The workers' configuration: the server's <c>appsettings.json</c>, serving this model with the TorchSharp engine.</summary>
    public static V1ConfigMap Config(ModelService ms, WorkerCluster? cluster = null)
    {
        cluster ??= new WorkerCluster();
        var settings = new
        {
            ControlPlane = new
            {
                Cluster = new { Mode = "Redis", KubernetesHosting = true, cluster.Redis, Roles = "worker" },
                Worker = new { DrainTimeout = TimeSpan.FromSeconds(cluster.DrainSeconds).ToString("c", System.Globalization.CultureInfo.InvariantCulture) },
                Models = new[]
                {
                    new
                    {
                        Name = ms.Spec.Model.ServedName ?? ms.Metadata.Name,
                        Engine = ms.Spec.Engine.Backend,
                        Instances = 1,
                        ModelLocation(ms.Spec.Model.Source).Path,
                        Device = ms.Spec.Engine.GpusPerInstance > 0 ? "cuda" : "cpu",
                        ms.Spec.Engine.KvCacheMiB,
                        ms.Spec.Engine.HostKvCacheMiB,
                        ms.Spec.Engine.MeasureDecodeProducts,
                        ms.Spec.Model.ChatTemplate,
                        ms.Spec.Model.MaxContextTokens,
                        // The model's targets reach the gateways through the workers' model card (the status page's attainment).
                        SloTtftMs = ms.Spec.Slo?.TimeToFirstTokenMs,
                        SloTpotMs = ms.Spec.Slo?.TimePerOutputTokenMs,
                        // Every gateway places the model's requests by it, from the same card.
                        DispatchPolicy = ms.Spec.Dispatch?.Policy,
                        DispatchQueueLimit = ms.Spec.Dispatch?.QueueLimit,
                        // The model's schedulers read it from the instances' registrations.
                        Migration = ms.Spec.Migration?.Enabled,
                        // Requests name them by priority_class at every gateway, from the same card.
                        PriorityClasses = ms.Spec.PriorityClasses?.Select(c => new { c.Name, c.ServiceClass, c.Priority, c.Default }).ToArray(),
                    },
                },
            },
        };
        return new V1ConfigMap
        {
            ApiVersion = "v1",
            Kind = "ConfigMap",
            Metadata = new V1ObjectMeta { Name = ConfigName(ms), NamespaceProperty = ms.Metadata.NamespaceProperty, Labels = Labels(ms, "all"), OwnerReferences = [Owner(ms)] },
            Data = new Dictionary<string, string> { ["appsettings.json"] = System.Text.Json.JsonSerializer.Serialize(settings, JsonIndented) },
        };
    }

    // Unset settings are left out, so that the workers' own defaults hold (a null would bind as an empty value).
    private static readonly System.Text.Json.JsonSerializerOptions JsonIndented = new() { WriteIndented = true, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <summary>
    /// The worker's requests: its CPUs, and its memory plus the host KV tier (pinned memory the engine fills as it evicts,
    /// so the node must have it); its GPUs as a limit. No memory limit: an engine's pinned pool is not worth an OOM kill.
    /// </summary>
    private static V1ResourceRequirements WorkerResources(EngineSpec engine)
    {
        var memory = new ResourceQuantity(engine.Resources.Memory).ToDecimal() + (decimal)engine.HostKvCacheMiB * (1L << 20);
        var resources = new V1ResourceRequirements
        {
            Requests = new Dictionary<string, ResourceQuantity>
            {
                ["cpu"] = new(engine.Resources.Cpu),
                ["memory"] = new(((long)memory).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            },
        };
        if (engine.GpusPerInstance > 0)
            resources.Limits = new Dictionary<string, ResourceQuantity> { ["nvidia.com/gpu"] = new(engine.GpusPerInstance.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
        return resources;
    }

    public static V1Service Service(ModelService ms, string pool) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = Name(ms, pool), NamespaceProperty = ms.Metadata.NamespaceProperty, Labels = Labels(ms, pool), OwnerReferences = [Owner(ms)] },
        Spec = new V1ServiceSpec { ClusterIP = "None", Selector = Labels(ms, pool), Ports = [new V1ServicePort { Name = "kv", Port = KvPort }] },
    };

    public static V1PodDisruptionBudget DisruptionBudget(ModelService ms, string pool) => new()
    {
        ApiVersion = "policy/v1",
        Kind = "PodDisruptionBudget",
        Metadata = new V1ObjectMeta { Name = Name(ms, pool), NamespaceProperty = ms.Metadata.NamespaceProperty, Labels = Labels(ms, pool), OwnerReferences = [Owner(ms)] },
        Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = "1", Selector = new V1LabelSelector { MatchLabels = Labels(ms, pool) } },
    };
}
