using ControlPlane.Grains;
using ControlPlane.Instances;

namespace ControlPlane.Server.Models;

/// <summary>Where a gateway learns of models it was not configured with: their names, and each one's card.</summary>
public interface IModelSource
{
    /// <summary>The models engines in the cluster run now.</summary>
    Task<IReadOnlyCollection<string>> ModelsAsync(CancellationToken cancellationToken);

    /// <summary>The model's card from one of its engines' hosts; null when none of them answers with one.</summary>
    Task<ModelCard?> CardAsync(string model, CancellationToken cancellationToken);
}

/// <summary>The cluster's model directory (<see cref="IModelDirectoryGrain"/>), with cards from the models' instance grains.</summary>
public sealed class GrainModelSource(IGrainFactory grains) : IModelSource
{
    /// <summary>Instances asked for a card before giving up on a model for this round.</summary>
    private const int CardAttempts = 3;

    private IReadOnlyDictionary<string, IReadOnlyList<string>> _last = new Dictionary<string, IReadOnlyList<string>>();

    public async Task<IReadOnlyCollection<string>> ModelsAsync(CancellationToken cancellationToken)
    {
        _last = await grains.GetGrain<IModelDirectoryGrain>(0).GetModelsAsync(cancellationToken);
        return [.. _last.Keys];
    }

    public async Task<ModelCard?> CardAsync(string model, CancellationToken cancellationToken)
    {
        if (!_last.TryGetValue(model, out var instances))
            return null;
        Exception? failure = null;
        foreach (var id in instances.Take(CardAttempts))
        {
            try
            {
                if (await grains.GetGrain<IInstanceGrain>(id).GetModelCardAsync(cancellationToken) is { } card)
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
