namespace ControlPlane.Models.Folders;

/// <summary>The shape and weight scales of a random Llama-family model folder.</summary>
public sealed record RandomModelSpec
{
    public int Hidden { get; init; } = 128;

    /// <summary>The MLP width; when 0, eight thirds of <see cref="Hidden"/>.</summary>
    public int Intermediate { get; init; }
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;

    /// <summary><c>LlamaForCausalLM</c>, <c>Qwen2ForCausalLM</c> (QKV bias), or any name to test refusals.</summary>
    public string Architecture { get; init; } = "LlamaForCausalLM";
    public bool TiedEmbeddings { get; init; } = true;

    /// <summary>Llama-3 RoPE scaling (factor 8 over 256 original positions), to exercise it.</summary>
    public bool Llama3RopeScaling { get; init; }
    public int MaxPositions { get; init; } = 4096;
    public int Seed { get; init; } = 1;
    public float EmbeddingScale { get; init; } = 0.5f;
    public float WeightScale { get; init; } = 0.1f;

    /// <summary>Standard deviation added to the norms' unit weights.</summary>
    public float NormJitter { get; init; }
    public string EndOfSequenceText { get; init; } = "<|end_of_text|>";
}
