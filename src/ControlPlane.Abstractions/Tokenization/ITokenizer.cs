namespace ControlPlane.Tokenization;

/// <summary>A model's tokenizer: text to token ids and back.</summary>
public interface ITokenizer
{
    int VocabularySize { get; }

    /// <summary>The end-of-sequence token ids; generation stops at any of them unless told to ignore it.</summary>
    IReadOnlyList<int> EndOfSequenceTokenIds { get; }

    IReadOnlyList<int> Encode(string text);

    string Decode(IReadOnlyList<int> tokenIds);
}
