using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>
/// A tokenizer stand-in for benchmarks that feed token ids: never ends a sequence, and decodes each id as one character,
/// so that the engine's detokenizer moves on a token at a time as with a real tokenizer (an empty decode kept every
/// output token in its window: the work a step grew with the output's length, 12 KiB allocated a row a step after
/// 2,000 steps; <c>step-overhead</c>).
/// </summary>
internal sealed class IdTokenizer(int vocabularySize) : ITokenizer
{
    public int VocabularySize { get; } = vocabularySize;
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; } = [];

    public IReadOnlyList<int> Encode(string text) => throw new NotSupportedException("benchmarks send token ids");

    public string Decode(IReadOnlyList<int> tokenIds) => new('x', tokenIds.Count);
}
