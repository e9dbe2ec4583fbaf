using System.Text.Json;

namespace ControlPlane.Models.Configuration;

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> that a Llama-family decoder needs: Llama 2/3 (GQA,
/// Llama-3 RoPE scaling), Mistral, Qwen2/2.5 (QKV bias, tied embeddings).
/// </summary>
public sealed record LlamaConfig
{
    public static readonly string[] Architectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"];

    public required string Architecture { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int Layers { get; init; }
    public required int Heads { get; init; }
    public required int KvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabularySize { get; init; }
    public double RmsNormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public bool AttentionBias { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 4096;
    public string TorchDType { get; init; } = "bfloat16";
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public static LlamaConfig Parse(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        int Int(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32()
            : throw new InvalidDataException($"{path}: '{name}' is missing or not a number");
        var architecture = root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
            ? a[0].GetString()! : throw new InvalidDataException($"{path}: 'architectures' is missing");
        if (!Architectures.Contains(architecture))
            throw new NotSupportedException($"{path}: architecture '{architecture}' is not supported; supported: {string.Join(", ", Architectures)}");
        var hidden = Int("hidden_size");
        var heads = Int("num_attention_heads");
        var headDim = root.TryGetProperty("head_dim", out var hd) && hd.ValueKind == JsonValueKind.Number ? hd.GetInt32() : hidden / heads;
        var qwen = architecture == "Qwen2ForCausalLM";
        return new LlamaConfig
        {
            Architecture = architecture,
            HiddenSize = hidden,
            IntermediateSize = Int("intermediate_size"),
            Layers = Int("num_hidden_layers"),
            Heads = heads,
            KvHeads = root.TryGetProperty("num_key_value_heads", out var kv) && kv.ValueKind == JsonValueKind.Number ? kv.GetInt32() : heads,
            HeadDim = headDim,
            VocabularySize = Int("vocab_size"),
            RmsNormEps = Double(root, "rms_norm_eps") ?? 1e-5,
            // transformers 5 writes rope_theta and the scaling inside rope_parameters; 4.x at the top level.
            RopeTheta = Double(root, "rope_theta") ?? (root.TryGetProperty("rope_parameters", out var rp) && rp.ValueKind == JsonValueKind.Object ? Double(rp, "rope_theta") : null) ?? 10000,
            RopeScaling = RopeScaling.Parse(root, path),
            TieWordEmbeddings = Bool(root, "tie_word_embeddings") ?? false,
            AttentionBias = Bool(root, "attention_bias") ?? qwen,
            MaxPositionEmbeddings = root.TryGetProperty("max_position_embeddings", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : 4096,
            TorchDType = root.TryGetProperty("torch_dtype", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
                : root.TryGetProperty("dtype", out var t5) && t5.ValueKind == JsonValueKind.String ? t5.GetString()! : "bfloat16",
            EosTokenIds = Ids(root, "eos_token_id"),
        };
    }

    private static double? Double(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static bool? Bool(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static int[] Ids(JsonElement root, string name) => root.TryGetProperty(name, out var v)
        ? v.ValueKind switch
        {
            JsonValueKind.Number => [v.GetInt32()],
            JsonValueKind.Array => [.. v.EnumerateArray().Select(x => x.GetInt32())],
            _ => [],
        }
        : [];
}
