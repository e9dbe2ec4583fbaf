namespace ControlPlane.Instances;

/// <summary>
/// What a gateway needs to serve a model that an engine somewhere runs, as the engine's host knows it: the context it
/// serves, its chat template form and the model folder's small files (<c>config.json</c>, <c>tokenizer.json</c>,
/// <c>tokenizer_config.json</c>), from which the gateway makes the same tokenizer; a simulated engine's card has no files.
/// </summary>
[GenerateSerializer, Immutable, Alias("ControlPlane.ModelCard")]
public sealed record ModelCard
{
    /// <summary>The files a model card carries, where the folder has them.</summary>
    public static readonly IReadOnlyList<string> FileNames = ["config.json", "tokenizer.json", "tokenizer_config.json"];

    [Id(0)] public required string Model { get; init; }

    /// <summary>The engine backend (<c>torchsharp</c>, <c>simulated</c>).</summary>
    [Id(1)] public required string Engine { get; init; }
    [Id(2)] public int MaxContextTokens { get; init; }

    /// <summary>The chat template form (<c>ModelConfig.ChatTemplate</c>'s values: llama3, chatml, ...).</summary>
    [Id(3)] public string ChatTemplate { get; init; } = "";

    /// <summary>The folder's small files by name; empty for a simulated engine.</summary>
    [Id(4)] public IReadOnlyDictionary<string, byte[]> Files { get; init; } = new Dictionary<string, byte[]>();

    /// <summary>When the model's first engine here was created (the OpenAI model object's <c>created</c>).</summary>
    [Id(5)] public DateTimeOffset Created { get; init; }

    /// <summary>The model's latency targets, ms (its ModelService's <c>slo</c>): what the gateways' status page measures attainment against.</summary>
    [Id(6)] public double SloTtftMs { get; init; } = 1000;
    [Id(7)] public double SloTpotMs { get; init; } = 100;

    /// <summary>The model's dispatch policy (its ModelService's <c>dispatch.policy</c>); null: each gateway's own.</summary>
    [Id(8)] public string? DispatchPolicy { get; init; }

    /// <summary>The model's queue limit an instance (its ModelService's <c>dispatch.queueLimit</c>); null: each gateway's own.</summary>
    [Id(9)] public int? DispatchQueueLimit { get; init; }

    /// <summary>A hash of everything but <see cref="Created"/>: gateways fetch the card again when it changes.</summary>
    [Id(10)] public string Version { get; init; } = "";

    /// <summary>The model's named priority classes (its ModelService's <c>priorityClasses</c>), for requests' <c>priority_class</c>.</summary>
    [Id(11)] public IReadOnlyList<ControlPlane.Requests.PriorityClass> PriorityClasses { get; init; } = [];

    /// <summary>Adds the card's files (those of <see cref="FileNames"/> it carries, each named and sized) to <paramref name="hash"/>.</summary>
    public void HashFiles(System.Security.Cryptography.IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        foreach (var name in FileNames)
        {
            if (!Files.TryGetValue(name, out var bytes))
                continue;
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            hash.AppendData(BitConverter.GetBytes(bytes.LongLength));
            hash.AppendData(bytes);
        }
    }
}
