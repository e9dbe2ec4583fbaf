using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Core.Tests;

/// <summary>Token t is the letter 'a' + t; 26 is the end of sequence.</summary>
internal sealed class LetterTokenizer : ITokenizer
{
    public static LetterTokenizer Instance { get; } = new();

    public int VocabularySize => FakeStepRunner.Vocabulary + 1;
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; } = [FakeStepRunner.Vocabulary];

    public IReadOnlyList<int> Encode(string text) => [.. text.Select(c => c - 'a')];

    public string Decode(IReadOnlyList<int> tokenIds) => new([.. tokenIds.Where(t => t < FakeStepRunner.Vocabulary).Select(t => (char)('a' + t))]);
}
