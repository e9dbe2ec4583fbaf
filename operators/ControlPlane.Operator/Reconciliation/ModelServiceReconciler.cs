using System.Net;
using ControlPlane.Operator.Resources;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace ControlPlane.Operator.Reconciliation;

/// <summary>
/// Level-based and idempotent: reads the ModelService and everything it owns, converges them, writes status.
/// It never asks which event fired. Pods that are about to go are drained through the control plane first, and go
/// only once nothing runs on them (the scheduler migrates their requests to other instances of the model), or once
/// <see cref="WorkerCluster.DrainSeconds"/> have passed: a ModelService being deleted keeps its finalizer until then,
/// and a pool scaled in keeps its highest pods until then.
/// </summary>
public sealed class ModelServiceReconciler(IKubernetes client, IDrainClient drain, TimeProvider time, WorkerCluster? cluster = null, IAutoscaleClient? autoscale = null)
    : IDisposable
{
    private WorkerCluster Cluster { get; } = cluster ?? new WorkerCluster();

    private readonly GenericClient _modelServices = new(client, ModelService.Group, ModelService.Version, ModelService.Plural, disposeClient: false);

    public void Dispose() => _modelServices.Dispose();

    /// <summary>Names of every ModelService in <paramref name="namespace"/> (all namespaces when null).</summary>
    public async Task<IReadOnlyList<(string Namespace, string Name)>> ListAsync(string? @namespace, CancellationToken cancellationToken)
    {
        var list = @namespace is null
            ? await client.CustomObjects.ListClusterCustomObjectAsync<CustomResourceList<ModelService>>(ModelService.Group, ModelService.Version, ModelService.Plural, cancellationToken: cancellationToken)
            : await client.CustomObjects.ListNamespacedCustomObjectAsync<CustomResourceList<ModelService>>(ModelService.Group, ModelService.Version, @namespace, ModelService.Plural, cancellationToken: cancellationToken);
        return [.. list.Items.Select(m => (m.Metadata.NamespaceProperty, m.Metadata.Name))];
    }

    /// <summary>Converges one ModelService; returns false when it no longer exists.</summary>
    public async Task<bool> ReconcileAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var ms = await ReadAsync(@namespace, name, cancellationToken);
        if (ms is null)
            return false;
        if (ms.Metadata.DeletionTimestamp is not null)
        {
            if (ms.Metadata.Finalizers?.Contains(ModelService.Finalizer) == true)
            {
                var pods = new List<string>();
                foreach (var (pool, _) in ms.Spec.Pools.All())
                {
                    var set = await Try(() => client.AppsV1.ReadNamespacedStatefulSetAsync(DesiredObjects.Name(ms, pool), @namespace, cancellationToken: cancellationToken));
                    pods.AddRange(DesiredObjects.PodNames(ms, pool, 0, set?.Spec.Replicas ?? 0));
                }
                var left = pods.Count == 0 ? 0 : await drain.DrainAsync(@namespace, ms.Spec.Model.ServedName ?? name, pods, cancellationToken);
                var since = ms.Metadata.DeletionTimestamp.Value;
                if (left > 0 && !PastDrainDeadline(since))
                    return true; // the next pass looks again
                await PatchFinalizersAsync(ms, [.. ms.Metadata.Finalizers.Where(f => f != ModelService.Finalizer)], cancellationToken);
                await EventAsync(ms, left == 0 ? "Drained" : "DrainTimedOut",
                    left == 0 ? $"{pods.Count} pod(s) drained before deletion" : $"{left} request(s) still on its pods after {Cluster.DrainSeconds} s", cancellationToken);
            }
            return true;
        }
        if (ms.Metadata.Finalizers?.Contains(ModelService.Finalizer) != true)
            ms = await PatchFinalizersAsync(ms, [.. ms.Metadata.Finalizers ?? [], ModelService.Finalizer], cancellationToken);

        ms = await AutoscaleAsync(ms, cancellationToken);
        await ConvergeConfigAsync(ms, cancellationToken);
        var desired = 0;
        var ready = 0;
        foreach (var (pool, declared) in ms.Spec.Pools.All())
        {
            var set = await ConvergeStatefulSetAsync(ms, pool, declared, cancellationToken);
            var replicas = set?.Spec.Replicas ?? 0;
            await ConvergeAsync(ms, pool, declared > 0, cancellationToken);
            desired += replicas;
            ready += Math.Min(replicas, set?.Status?.ReadyReplicas ?? 0);
        }
        var failing = await FailingPodsAsync(ms, cancellationToken);
        await WriteStatusAsync(ms, desired, ready, failing, cancellationToken);
        return true;
    }

    /// <summary>
    /// With autoscaling on, the control plane's decision for each declared pool, held to that pool's bounds, becomes
    /// its replicas: the mixed pool's through the ModelService's scale subresource (what <c>kubectl scale</c> and an HPA
    /// write), the prefill and decode pools' by a patch of their replicas. The pools then converge as for any change,
    /// a scale-in draining the pods that go.
    /// </summary>
    private async Task<ModelService> AutoscaleAsync(ModelService ms, CancellationToken cancellationToken)
    {
        if (autoscale is null || ms.Spec.Autoscaling?.Enabled != true)
            return ms;
        IReadOnlyDictionary<string, int> desired;
        try
        {
            desired = await autoscale.DesiredAsync(ms.Metadata.NamespaceProperty, ms.Spec.Model.ServedName ?? ms.Metadata.Name, cancellationToken);
        }
        catch (HttpRequestException)
        {
            return ms; // the control plane is not reachable: the pools stay as they are
        }
        var changed = false;
        foreach (var (role, _) in ms.Spec.Pools.All())
        {
            // A pool the resource does not declare is not made by the autoscaler.
            if (ms.Spec.Pools.Of(role) is not { } pool || !desired.TryGetValue(role, out var wanted))
                continue;
            var replicas = Math.Clamp(wanted, pool.MinReplicas, Math.Max(pool.MinReplicas, pool.MaxReplicas));
            if (replicas == pool.Replicas)
                continue;
            if (role == "mixed")
            {
                var scale = new V1Patch(new { spec = new { replicas } }, V1Patch.PatchType.MergePatch);
                await client.CustomObjects.PatchNamespacedCustomObjectScaleAsync(scale, ModelService.Group, ModelService.Version, ms.Metadata.NamespaceProperty,
                    ModelService.Plural, ms.Metadata.Name, cancellationToken: cancellationToken);
            }
            else
            {
                var patch = new V1Patch(new Dictionary<string, object> { ["spec"] = new { pools = new Dictionary<string, object> { [role] = new { replicas } } } }, V1Patch.PatchType.MergePatch);
                await _modelServices.PatchNamespacedAsync<ModelService>(patch, ms.Metadata.NamespaceProperty, ms.Metadata.Name, cancellationToken);
            }
            await EventAsync(ms, "Autoscaled", $"{role} pool {pool.Replicas} → {replicas} replicas (the autoscaler wants {wanted})", cancellationToken);
            changed = true;
        }
        // Read it again: the scale changed its spec and resource version, which the status write below must carry.
        return changed ? await ReadAsync(ms.Metadata.NamespaceProperty, ms.Metadata.Name, cancellationToken) ?? ms : ms;
    }

    private async Task<ModelService?> ReadAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await _modelServices.ReadNamespacedAsync<ModelService>(@namespace, name, cancellationToken);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<ModelService> PatchFinalizersAsync(ModelService ms, List<string> finalizers, CancellationToken cancellationToken)
    {
        var patch = new V1Patch(new { metadata = new { finalizers } }, V1Patch.PatchType.MergePatch);
        return await _modelServices.PatchNamespacedAsync<ModelService>(patch, ms.Metadata.NamespaceProperty, ms.Metadata.Name, cancellationToken);
    }

    private async Task<V1StatefulSet?> ConvergeStatefulSetAsync(ModelService ms, string pool, int replicas, CancellationToken cancellationToken)
    {
        var ns = ms.Metadata.NamespaceProperty;
        var existing = await Try(() => client.AppsV1.ReadNamespacedStatefulSetAsync(DesiredObjects.Name(ms, pool), ns, cancellationToken: cancellationToken));
        if (replicas == 0)
        {
            if (existing is not null && existing.Spec.Replicas > 0 && !await ScaleInDrainedAsync(ms, pool, existing, 0, cancellationToken))
                return existing; // the pool goes once its pods are drained (or at the deadline)
            if (existing is not null)
            {
                await client.AppsV1.DeleteNamespacedStatefulSetAsync(existing.Metadata.Name, ns, cancellationToken: cancellationToken);
                await EventAsync(ms, "PoolRemoved", $"pool {pool} has no replicas", cancellationToken);
            }
            return null;
        }
        // An autoscaled pool keeps the replicas its autoscaler set on the StatefulSet; the declared ones size it at creation.
        if (existing is not null && ms.Spec.Pools.Of(pool)?.Autoscaled == true)
            replicas = existing.Spec.Replicas ?? replicas;
        var desired = DesiredObjects.StatefulSet(ms, pool, replicas, Cluster);
        if (existing is null)
        {
            await EventAsync(ms, "PoolCreated", $"pool {pool} with {replicas} replicas", cancellationToken);
            return await client.AppsV1.CreateNamespacedStatefulSetAsync(desired, ns, cancellationToken: cancellationToken);
        }
        if (existing.Spec.Replicas > replicas && !await ScaleInDrainedAsync(ms, pool, existing, replicas, cancellationToken))
            return existing; // its highest pods still run requests: they go once drained (or at the deadline)
        var scalingIn = existing.Metadata.Annotations?.ContainsKey(ScaleInSinceAnnotation) == true;
        if (scalingIn && existing.Spec.Replicas <= replicas)
        {
            // The scale-in was undone before its pods went: they take requests again.
            var drained = DesiredObjects.PodNames(ms, pool, 0, existing.Spec.Replicas ?? 0);
            await drain.ResumeAsync(ns, drained, cancellationToken);
            await EventAsync(ms, "ScaleInCancelled", $"pool {pool}: keeps {existing.Spec.Replicas} replicas", cancellationToken);
        }
        // Unchanged: the same replicas, configuration and pod spec (image, resources, volumes … by the template's hash).
        if (existing.Spec.Replicas == replicas && !scalingIn && existing.Spec.Template.Metadata?.Annotations is { } annotations
            && annotations.TryGetValue(DesiredObjects.ConfigHashAnnotation, out var hash) && hash == DesiredObjects.ConfigHash(ms, Cluster)
            && annotations.TryGetValue(DesiredObjects.TemplateHashAnnotation, out var template) && template == desired.Spec.Template.Metadata.Annotations[DesiredObjects.TemplateHashAnnotation])
            return existing;
        desired.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
        desired.Status = existing.Status;
        await EventAsync(ms, "PoolUpdated", $"pool {pool}: {existing.Spec.Replicas} -> {replicas} replicas", cancellationToken);
        return await client.AppsV1.ReplaceNamespacedStatefulSetAsync(desired, desired.Metadata.Name, ns, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Before a pool shrinks, its pods beyond the new count are drained (their requests migrate to the pods that stay):
    /// true once nothing runs on them, or once the drain deadline has passed since the scale-in began (recorded as an
    /// annotation on the StatefulSet, so a restarted operator keeps the same deadline).
    /// </summary>
    private async Task<bool> ScaleInDrainedAsync(ModelService ms, string pool, V1StatefulSet existing, int replicas, CancellationToken cancellationToken)
    {
        var name = DesiredObjects.Name(ms, pool);
        var pods = DesiredObjects.PodNames(ms, pool, replicas, existing.Spec.Replicas!.Value - replicas);
        var left = await drain.DrainAsync(ms.Metadata.NamespaceProperty, ms.Spec.Model.ServedName ?? ms.Metadata.Name, pods, cancellationToken);
        var annotations = existing.Metadata.Annotations ?? new Dictionary<string, string>();
        if (!annotations.TryGetValue(ScaleInSinceAnnotation, out var recorded) || !DateTime.TryParse(recorded, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var since))
        {
            since = time.GetUtcNow().UtcDateTime;
            var patch = new V1Patch(new { metadata = new { annotations = new Dictionary<string, string> { [ScaleInSinceAnnotation] = since.ToString("O", System.Globalization.CultureInfo.InvariantCulture) } } },
                V1Patch.PatchType.MergePatch);
            var patched = await client.AppsV1.PatchNamespacedStatefulSetAsync(patch, name, ms.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
            // The caller may replace the StatefulSet next (its pods were empty already): it must carry this version.
            existing.Metadata.ResourceVersion = patched.Metadata.ResourceVersion;
            existing.Metadata.Annotations = patched.Metadata.Annotations;
            await EventAsync(ms, "ScaleInDraining", $"pool {pool}: draining {string.Join(", ", pods)} before removing them", cancellationToken);
        }
        return left == 0 || PastDrainDeadline(since);
    }

    /// <summary>Marks when a pool's scale-in began draining (the deadline counts from it).</summary>
    public const string ScaleInSinceAnnotation = "inference.controlplane.dev/scale-in-since";

    private bool PastDrainDeadline(DateTime since) => time.GetUtcNow().UtcDateTime - since > TimeSpan.FromSeconds(Cluster.DrainSeconds);

    private async Task ConvergeConfigAsync(ModelService ms, CancellationToken cancellationToken)
    {
        var desired = DesiredObjects.Config(ms, Cluster);
        var ns = ms.Metadata.NamespaceProperty;
        var existing = await Try(() => client.CoreV1.ReadNamespacedConfigMapAsync(desired.Metadata.Name, ns, cancellationToken: cancellationToken));
        if (existing is null)
            await client.CoreV1.CreateNamespacedConfigMapAsync(desired, ns, cancellationToken: cancellationToken);
        else if (existing.Data is null || !existing.Data.TryGetValue("appsettings.json", out var current) || current != desired.Data["appsettings.json"])
        {
            desired.Metadata.ResourceVersion = existing.Metadata.ResourceVersion;
            await client.CoreV1.ReplaceNamespacedConfigMapAsync(desired, desired.Metadata.Name, ns, cancellationToken: cancellationToken);
        }
    }

    private async Task ConvergeAsync(ModelService ms, string pool, bool wanted, CancellationToken cancellationToken)
    {
        var ns = ms.Metadata.NamespaceProperty;
        var name = DesiredObjects.Name(ms, pool);
        var service = await Try(() => client.CoreV1.ReadNamespacedServiceAsync(name, ns, cancellationToken: cancellationToken));
        var budget = await Try(() => client.PolicyV1.ReadNamespacedPodDisruptionBudgetAsync(name, ns, cancellationToken: cancellationToken));
        if (!wanted)
        {
            if (service is not null)
                await client.CoreV1.DeleteNamespacedServiceAsync(name, ns, cancellationToken: cancellationToken);
            if (budget is not null)
                await client.PolicyV1.DeleteNamespacedPodDisruptionBudgetAsync(name, ns, cancellationToken: cancellationToken);
            return;
        }
        if (service is null)
            await client.CoreV1.CreateNamespacedServiceAsync(DesiredObjects.Service(ms, pool), ns, cancellationToken: cancellationToken);
        if (budget is null)
            await client.PolicyV1.CreateNamespacedPodDisruptionBudgetAsync(DesiredObjects.DisruptionBudget(ms, pool), ns, cancellationToken: cancellationToken);
    }

    private async Task<List<string>> FailingPodsAsync(ModelService ms, CancellationToken cancellationToken)
    {
        var pods = await client.CoreV1.ListNamespacedPodAsync(ms.Metadata.NamespaceProperty, labelSelector: DesiredObjects.Selector(ms), cancellationToken: cancellationToken);
        return [.. pods.Items.Where(p => p.Status?.Phase == "Failed"
                || p.Status?.ContainerStatuses?.Any(c => c.State?.Waiting?.Reason is "CrashLoopBackOff" or "ImagePullBackOff" or "ErrImagePull") == true)
            .Select(p => p.Metadata.Name)];
    }

    private async Task WriteStatusAsync(ModelService ms, int desired, int ready, List<string> failing, CancellationToken cancellationToken)
    {
        var generation = ms.Metadata.Generation;
        var old = ms.Status?.Conditions ?? [];
        V1Condition Condition(string type, bool value, string reason, string message)
        {
            var status = value ? "True" : "False";
            var previous = old.FirstOrDefault(c => c.Type == type);
            return new V1Condition
            {
                Type = type,
                Status = status,
                Reason = reason,
                Message = message,
                ObservedGeneration = generation,
                LastTransitionTime = previous?.Status == status ? previous.LastTransitionTime : time.GetUtcNow().UtcDateTime,
            };
        }
        var status = new ModelServiceStatus
        {
            ObservedGeneration = generation,
            Replicas = desired,
            ReadyReplicas = ready,
            Selector = DesiredObjects.Selector(ms),
            Conditions =
            [
                Condition("Ready", desired > 0 && ready == desired && failing.Count == 0, ready == desired ? "AllReplicasReady" : "ReplicasNotReady", $"{ready}/{desired} replicas ready"),
                Condition("Progressing", ready < desired, ready < desired ? "ScalingUp" : "Stable", ready < desired ? $"waiting for {desired - ready} replicas" : "converged"),
                Condition("Degraded", failing.Count > 0, failing.Count > 0 ? "PodsFailing" : "Healthy", failing.Count > 0 ? $"failing pods: {string.Join(", ", failing)}" : "no failing pods"),
            ],
        };
        if (ms.Status is { } current && Same(current, status))
            return;
        ms.Status = status;
        await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(ms, ModelService.Group, ModelService.Version,
            ms.Metadata.NamespaceProperty, ModelService.Plural, ms.Metadata.Name, cancellationToken: cancellationToken);
    }

    private static bool Same(ModelServiceStatus a, ModelServiceStatus b) =>
        a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas && a.ReadyReplicas == b.ReadyReplicas && a.Selector == b.Selector
        && a.Conditions.Count == b.Conditions.Count
        && a.Conditions.Zip(b.Conditions).All(p => p.First.Type == p.Second.Type && p.First.Status == p.Second.Status && p.First.Message == p.Second.Message);

    private async Task EventAsync(ModelService ms, string reason, string message, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await client.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = ms.Metadata.Name + "-", NamespaceProperty = ms.Metadata.NamespaceProperty },
            InvolvedObject = new V1ObjectReference { ApiVersion = ms.ApiVersion, Kind = ms.Kind, Name = ms.Metadata.Name, NamespaceProperty = ms.Metadata.NamespaceProperty, Uid = ms.Metadata.Uid },
            Reason = reason,
            Message = message,
            Type = "Normal",
            FirstTimestamp = now,
            LastTimestamp = now,
            Source = new V1EventSource { Component = "controlplane-operator" },
        }, ms.Metadata.NamespaceProperty, cancellationToken: cancellationToken);
    }

    private static async Task<T?> Try<T>(Func<Task<T>> read) where T : class
    {
        try
        {
            return await read();
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
