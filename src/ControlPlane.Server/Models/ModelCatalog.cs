namespace ControlPlane.Server.Models;

/// <summary>The models this gateway serves, by name.</summary>
public sealed class ModelCatalog(IEnumerable<ServedModel> models)
{
    private readonly Dictionary<string, ServedModel> _models = models.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<ServedModel> All => _models.Values;

    public bool TryGet(string name, out ServedModel model) => _models.TryGetValue(name, out model!);
}
