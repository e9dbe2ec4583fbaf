namespace ControlPlane.Server.Configuration;

/// <summary>One entry of <c>ControlPlane:Models</c>: a served model and the engines this silo runs for it.</summary>
public sealed record ModelConfig
{
    public string Name { get; init; } = "";

    /// <summary>The engine backend: <c>simulated</c> or <c>torchsharp</c>.</summary>
    public string Engine { get; init; } = "simulated";

    /// <summary>Engine instances of this model that this silo runs.</summary>
    public int Instances { get; init; } = 1;

    /// <summary>The simulated engine's performance profile: a built-in name or a JSON file.</summary>
    public string Profile { get; init; } = "llama-3-8b-h100-roofline";

    /// <summary>Overrides the profile's context length.</summary>
    public int? MaxContextTokens { get; init; }

    /// <summary>Overrides the profile's KV capacity.</summary>
    public int? KvBlocks { get; init; }

    /// <summary>
    /// TorchSharp engine: the Hugging Face model folder, or <c>builtin:tiny-random</c> for a small random-weight
    /// Llama written on first start (text is noise; the engine path is real).
    /// </summary>
    public string? Path { get; init; }

    /// <summary>TorchSharp engine: <c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>TorchSharp engine: KV cache size in MiB per instance.</summary>
    public int KvCacheMiB { get; init; } = 256;

    /// <summary>
    /// The chat template: <c>auto</c> (the form the model folder's <c>tokenizer_config.json</c> declares; ChatML
    /// for simulated models), <c>chatml</c> or <c>llama3</c>.
    /// </summary>
    public string ChatTemplate { get; init; } = "auto";
}
