using ControlPlane.Instances;

namespace ControlPlane.Grains.Models;

/// <summary>
/// The models the cluster's engines run, from the hosts' announcements (<see cref="IModelDirectoryGrain"/>). An entry
/// a host has not announced again within <see cref="Expiry"/> is dropped (its host is gone); state lives in memory.
/// </summary>
public sealed class ModelDirectoryGrain(TimeProvider time) : Grain, IModelDirectoryGrain
{
    /// <summary>Six announcement periods: a host that missed that many is taken for gone.</summary>
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(60);

    // model -> instance id -> its entry and when last announced
    private readonly Dictionary<string, Dictionary<string, (ModelInstanceEntry Entry, DateTimeOffset Seen)>> _models = new(StringComparer.Ordinal);

    public Task AnnounceAsync(string model, IReadOnlyList<ModelInstanceEntry> instances, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        if (!_models.TryGetValue(model, out var known))
            _models[model] = known = new(StringComparer.Ordinal);
        var now = time.GetUtcNow();
        foreach (var entry in instances)
            known[entry.InstanceId] = (entry, now);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, IReadOnlyList<ModelInstanceEntry>>> GetModelsAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var result = new Dictionary<string, IReadOnlyList<ModelInstanceEntry>>(StringComparer.Ordinal);
        foreach (var (model, known) in _models.ToArray())
        {
            foreach (var (id, (_, seen)) in known.ToArray())
            {
                if (now - seen > Expiry)
                    known.Remove(id);
            }
            if (known.Count == 0)
                _models.Remove(model);
            else // the newest card first (a rolling change's new configuration), then the most recently heard from
                result[model] = [.. known.Values.OrderByDescending(k => k.Entry.CardCreated).ThenByDescending(k => k.Seen).Select(k => k.Entry)];
        }
        return Task.FromResult<IReadOnlyDictionary<string, IReadOnlyList<ModelInstanceEntry>>>(result);
    }
}
