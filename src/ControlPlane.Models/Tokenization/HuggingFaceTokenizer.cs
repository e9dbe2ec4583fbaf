using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace ControlPlane.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a byte-level BPE model (Llama 3, Qwen2, GPT-2 style), loaded
/// into Microsoft.ML.Tokenizers. The pre-tokenizer's split pattern is taken from the file when it has one.
/// End-of-sequence ids come from <c>config.json</c>, else from the token <c>tokenizer_config.json</c> names (both read by the caller).
/// </summary>
public sealed class HuggingFaceTokenizer : ITokenizer
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    private readonly BpeTokenizer _bpe;
    private readonly BpeTokenizer _plain;
    private readonly IReadOnlyDictionary<string, int> _special;

    private HuggingFaceTokenizer(BpeTokenizer bpe, BpeTokenizer plain, IReadOnlyDictionary<string, int> special, int vocabularySize, IReadOnlyList<int> eos)
    {
        _bpe = bpe;
        _plain = plain;
        _special = special;
        VocabularySize = vocabularySize;
        EndOfSequenceTokenIds = eos;
    }

    public int VocabularySize { get; }
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; }

    public static HuggingFaceTokenizer Load(string folder, IReadOnlyList<int> eosFromConfig, string? eosToken = null)
    {
        var path = Path.Combine(folder, "tokenizer.json");
        if (!File.Exists(path))
            throw new FileNotFoundException($"model folder '{folder}' has no tokenizer.json", path);
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        var model = root.GetProperty("model");
        if (model.TryGetProperty("type", out var type) && type.GetString() != "BPE")
            throw new NotSupportedException($"{path}: tokenizer model '{type.GetString()}' is not supported (BPE is)");
        var vocabulary = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
        var merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!).ToList();
        var special = root.TryGetProperty("added_tokens", out var added)
            ? added.EnumerateArray().ToDictionary(t => t.GetProperty("content").GetString()!, t => t.GetProperty("id").GetInt32(), StringComparer.Ordinal)
            : [];
        var pattern = FindSplitPattern(root) ?? Gpt2Pattern;
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            SpecialTokens = special,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), special),
        };
        // The same model without its added tokens: special-token text is split and merged like any other text.
        var plainOptions = new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), null),
        };
        var size = Math.Max(vocabulary.Max(v => v.Value), special.Count == 0 ? 0 : special.Values.Max()) + 1;
        IReadOnlyList<int> eos = eosFromConfig.Count > 0 ? eosFromConfig : eosToken is not null && special.TryGetValue(eosToken, out var id) ? [id] : [];
        return new HuggingFaceTokenizer(BpeTokenizer.Create(options), BpeTokenizer.Create(plainOptions), special, size, eos);
    }

    public IReadOnlyList<int> Encode(string text) => _bpe.EncodeToIds(text);

    public IReadOnlyList<int> EncodePlain(string text) => _plain.EncodeToIds(text);

    public bool TryGetSpecialTokenId(string token, out int id) => _special.TryGetValue(token, out id);

    public string Decode(IReadOnlyList<int> tokenIds) => _bpe.Decode(tokenIds) ?? "";

    private static string? FindSplitPattern(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            return null;
        IEnumerable<JsonElement> all = pre.TryGetProperty("pretokenizers", out var list) ? list.EnumerateArray() : [pre];
        foreach (var p in all)
        {
            if (p.TryGetProperty("type", out var t) && t.GetString() == "Split" && p.TryGetProperty("pattern", out var pat) && pat.TryGetProperty("Regex", out var regex))
                return regex.GetString();
        }
        return null;
    }
}
