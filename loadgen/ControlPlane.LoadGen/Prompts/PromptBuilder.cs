using System.Text;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Tokenization;

namespace ControlPlane.LoadGen.Prompts;

/// <summary>
/// Writes prompts of exactly a trace's input length in the target model's tokens. Text is made of words that
/// are one token each in that tokenizer (and stay one token each side by side), so length is exact by
/// construction and then checked. A Mooncake hash id always becomes the same 512-token block of text, so
/// requests that share hash ids share a byte-identical prefix and exercise prefix caching for real.
/// </summary>
public sealed class PromptBuilder
{
    private static readonly string[] Candidates =
        ("the of and to in is was for on that with as by at from his her an are it be this which or had not but were they " +
         "have one all their has been more when there who would so if its into out up new time can only other some two " +
         "first may then about over these after most also made many years could state world city where part light river " +
         "stone cloud music signal window forest model token cache block engine batch queue power budget serve fleet").Split(' ');

    private readonly ITokenizer _tokenizer;
    private readonly string[] _words;
    private readonly Dictionary<int, string[]> _blocks = [];

    public PromptBuilder(ITokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _words = [.. Candidates.Select(w => " " + w).Where(w => IsOneToken(tokenizer, w))];
        if (_words.Length < 16)
        {
            // A tokenizer without merges for words (a byte-level one such as the embedded tiny model's): letters,
            // each one token alone and beside another.
            _words = [.. "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".Select(c => c.ToString()).Where(w => IsOneToken(tokenizer, w))];
        }
        if (_words.Length < 16)
            throw new InvalidOperationException($"the tokenizer splits too many plain words and letters: only {_words.Length} one-token pieces found");
    }

    public int BlockTokens { get; init; } = MooncakeTraceReader.HashBlockTokens;

    /// <summary>The prompt for request number <paramref name="index"/> of a trace.</summary>
    public string Build(TraceRequest request, int index)
    {
        var text = new StringBuilder(request.InputTokens * 6);
        var left = request.InputTokens;
        foreach (var hash in request.HashIds ?? [])
        {
            if (left <= 0)
                break;
            var block = Block(hash);
            var take = Math.Min(left, block.Length);
            for (var i = 0; i < take; i++)
                text.Append(block[i]);
            left -= take;
        }
        var random = new Random(HashCode.Combine(index, request.InputTokens, 0x5eed));
        for (var i = 0; i < left; i++)
            text.Append(_words[random.Next(_words.Length)]);
        return text.ToString();
    }

    private static bool IsOneToken(ITokenizer tokenizer, string piece) =>
        tokenizer.Encode(piece).Count == 1 && tokenizer.Encode(piece + piece).Count == 2;

    /// <summary>How many tokens the target tokenizer counts in <paramref name="prompt"/>.</summary>
    public int Count(string prompt) => _tokenizer.Encode(prompt).Count;

    private string[] Block(int hash)
    {
        if (_blocks.TryGetValue(hash, out var block))
            return block;
        var random = new Random(hash);
        block = new string[BlockTokens];
        for (var i = 0; i < block.Length; i++)
            block[i] = _words[random.Next(_words.Length)];
        return _blocks[hash] = block;
    }
}
