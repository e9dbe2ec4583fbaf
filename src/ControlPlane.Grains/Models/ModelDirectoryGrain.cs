namespace ControlPlane.Grains.Models;

/// <summary>
/// The models the cluster's engines run, from the hosts' announcements (<see cref="IModelDirectoryGrain"/>). An entry
/// a host has not announced again within <see cref="Expiry"/> is dropped (its host is gone); state lives in memory.
/// </summary>
public sealed class ModelDirectoryGrain(TimeProvider time) : Grain, IModelDirectoryGrain
{
    /// <summary>Six announcement periods: a host that missed that many is taken for gone.</summary>
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(60);

    // model -> instance id -> when last announced
    private readonly Dictionary<string, Dictionary<string, DateTimeOffset>> _models = new(StringComparer.Ordinal);

    public Task AnnounceAsync(string model, IReadOnlyList<string> instanceIds, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        if (!_models.TryGetValue(model, out var instances))
            _models[model] = instances = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var now = time.GetUtcNow();
        foreach (var id in instanceIds)
            instances[id] = now;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> GetModelsAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (model, instances) in _models.ToArray())
        {
            foreach (var (id, seen) in instances.ToArray())
            {
                if (now - seen > Expiry)
                    instances.Remove(id);
            }
            if (instances.Count == 0)
                _models.Remove(model);
            else // the most recently announced first: the likeliest to answer
                result[model] = [.. instances.OrderByDescending(i => i.Value).Select(i => i.Key)];
        }
        return Task.FromResult<IReadOnlyDictionary<string, IReadOnlyList<string>>>(result);
    }
}
