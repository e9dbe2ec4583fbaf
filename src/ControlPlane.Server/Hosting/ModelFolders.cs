using System.Collections.Concurrent;
using ControlPlane.Models.Folders;
using ControlPlane.Server.Configuration;

namespace ControlPlane.Server.Hosting;

/// <summary>
/// The model folders of this silo's models, each read once (config.json, tokenizer_config.json) and shared by
/// the gateway's view of the model and the engines that load its weights. <c>builtin:tiny-random</c> is written
/// on first use.
/// </summary>
public sealed class ModelFolders
{
    public const string TinyRandom = "builtin:tiny-random";
    private readonly ConcurrentDictionary<string, Lazy<ModelFolderInfo>> _folders = new(StringComparer.Ordinal);

    public ModelFolderInfo Get(ModelConfig model) => _folders.GetOrAdd(Path(model), p => new Lazy<ModelFolderInfo>(() => ModelFolderInfo.Read(p))).Value;

    private static string Path(ModelConfig model) => model.Path == TinyRandom
        ? RandomModelFolder.Ensure(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "controlplane-models", "tiny-random-llama-v2"))
        : model.Path ?? throw new InvalidOperationException($"model '{model.Name}' has no Path");
}
