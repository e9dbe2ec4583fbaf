using ControlPlane.Instances;

namespace ControlPlane.Grains;

/// <summary>
/// The models the cluster's engines run, as their hosts announce them (one grain, key 0): how a gateway learns of a model
/// it was not configured with (a ModelService applied after it started), and of a change to one (its card's version).
/// Kept in memory; hosts announce again every <c>EngineHost.AnnouncePeriod</c>, so a directory activated anew is whole
/// again within a period.
/// </summary>
[Alias("ControlPlane.IModelDirectoryGrain")]
public interface IModelDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>A host runs <paramref name="instances"/> of <paramref name="model"/> (the host's whole list for the model).</summary>
    [Alias("Announce")]
    Task AnnounceAsync(string model, IReadOnlyList<ModelInstanceEntry> instances, CancellationToken cancellationToken = default);

    /// <summary>Each model announced within the directory's expiry, with its instances, the newest card first.</summary>
    [Alias("GetModels")]
    Task<IReadOnlyDictionary<string, IReadOnlyList<ModelInstanceEntry>>> GetModelsAsync(CancellationToken cancellationToken = default);
}
