namespace ControlPlane.Grains;

/// <summary>
/// The models the cluster's engines run, as their hosts announce them (one grain, key 0): how a gateway learns of a model
/// it was not configured with (a ModelService applied after it started). Kept in memory; hosts announce again every
/// <c>EngineHost.AnnouncePeriod</c>, so a directory activated anew is whole again within a period.
/// </summary>
[Alias("ControlPlane.IModelDirectoryGrain")]
public interface IModelDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>A host runs <paramref name="instanceIds"/> of <paramref name="model"/> (a host's whole list for the model).</summary>
    [Alias("Announce")]
    Task AnnounceAsync(string model, IReadOnlyList<string> instanceIds, CancellationToken cancellationToken = default);

    /// <summary>Each model announced within the directory's expiry, with the instances last announced for it.</summary>
    [Alias("GetModels")]
    Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> GetModelsAsync(CancellationToken cancellationToken = default);
}
