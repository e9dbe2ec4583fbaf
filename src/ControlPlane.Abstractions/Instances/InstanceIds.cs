namespace ControlPlane.Instances;

/// <summary>
/// Instance ids name the pod that runs the engine: <c>{pod}/{model}/{index}</c>. Unique across pods, the same
/// after a restart of the same pod (a StatefulSet keeps its pods' names), and the key placement reads.
/// </summary>
public static class InstanceIds
{
    public static string Create(string pod, string model, int index) => $"{pod}/{model}/{index}";

    /// <summary>The pod part of an instance id, or null for an id without one.</summary>
    public static string? PodOf(string instanceId)
    {
        var slash = instanceId.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? instanceId[..slash] : null;
    }
}
