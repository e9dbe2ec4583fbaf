using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>A tokenizer stand-in for benchmarks that feed token ids: decodes nothing, never ends a sequence.</summary>
internal sealed class IdTokenizer(int vocabularySize) : ITokenizer
{
    public int VocabularySize { get; } = vocabularySize;
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; } = [];

    public IReadOnlyList<int> Encode(string text) => throw new NotSupportedException("benchmarks send token ids");

    public string Decode(IReadOnlyList<int> tokenIds) => "";
}
