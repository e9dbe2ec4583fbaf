using ControlPlane.Grains;
using ControlPlane.Instances;

namespace ControlPlane.Server.Models;

/// <summary>Where a gateway learns of models it was not configured with: their names, and each one's card.</summary>
public interface IModelSource
{
    /// <summary>The models engines in the cluster run now, each with the version of its newest card.</summary>
    Task<IReadOnlyDictionary<string, string>> ModelsAsync(CancellationToken cancellationToken);

    /// <summary>The model's newest card from one of its engines' hosts; null when none of them answers with one.</summary>
    Task<ModelCard?> CardAsync(string model, CancellationToken cancellationToken);
}

/// <summary>The cluster's model directory (<see cref="IModelDirectoryGrain"/>), with cards from the models' instance grains.</summary>
public sealed class GrainModelSource(IGrainFactory grains) : IModelSource
{
    /// <summary>Instances asked for a card before giving up on a model for this round.</summary>
    private const int CardAttempts = 3;

    private IReadOnlyDictionary<string, IReadOnlyList<ModelInstanceEntry>> _last = new Dictionary<string, IReadOnlyList<ModelInstanceEntry>>();

    public async Task<IReadOnlyDictionary<string, string>> ModelsAsync(CancellationToken cancellationToken)
    {
        _last = await grains.GetGrain<IModelDirectoryGrain>(0).GetModelsAsync(cancellationToken);
        return _last.ToDictionary(m => m.Key, m => m.Value[0].CardVersion, StringComparer.Ordinal); // the directory lists the newest card first
    }

    public async Task<ModelCard?> CardAsync(string model, CancellationToken cancellationToken)
    {
        if (!_last.TryGetValue(model, out var instances))
            return null;
        Exception? failure = null;
        foreach (var entry in instances.Where(i => i.CardVersion == instances[0].CardVersion).Take(CardAttempts))
        {
            try
            {
                if (await grains.GetGrain<IInstanceGrain>(entry.InstanceId).GetModelCardAsync(cancellationToken) is { } card)
                    return card;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                failure = ex; // that host may be gone: ask the next
            }
        }
        return failure is null ? null : throw failure;
    }
}
