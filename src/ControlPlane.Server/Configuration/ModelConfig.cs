namespace ControlPlane.Server.Configuration;

/// <summary>One entry of <c>ControlPlane:Models</c>: a served model and the engines this silo runs for it.</summary>
public sealed record ModelConfig
{
    public string Name { get; init; } = "";

    /// <summary>The engine backend: <c>simulated</c>.</summary>
    public string Engine { get; init; } = "simulated";

    /// <summary>Engine instances of this model that this silo runs.</summary>
    public int Instances { get; init; } = 1;

    /// <summary>The simulated engine's performance profile: a built-in name or a JSON file.</summary>
    public string Profile { get; init; } = "llama-3-8b-h100-roofline";

    /// <summary>Overrides the profile's context length.</summary>
    public int? MaxContextTokens { get; init; }

    /// <summary>Overrides the profile's KV capacity.</summary>
    public int? KvBlocks { get; init; }

    /// <summary>The chat template: <c>chatml</c> or <c>llama3</c>.</summary>
    public string ChatTemplate { get; init; } = "chatml";
}
