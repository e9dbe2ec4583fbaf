namespace ControlPlane.Tokenization;

/// <summary>A model's tokenizer: text to token ids and back.</summary>
public interface ITokenizer
{
    int VocabularySize { get; }

    /// <summary>The end-of-sequence token ids; generation stops at any of them unless told to ignore it.</summary>
    IReadOnlyList<int> EndOfSequenceTokenIds { get; }

    /// <summary>Text to ids; special-token text in it (<c>&lt;|eot_id|&gt;</c>) becomes the special token, as in a raw prompt.</summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>
    /// Text to ids as plain text only: special-token text in it is encoded like any other characters, so content a
    /// user wrote can never become a control token.
    /// </summary>
    IReadOnlyList<int> EncodePlain(string text) => Encode(text);

    /// <summary>The id of a special (added) token, by its text; false when the vocabulary has none by that text.</summary>
    bool TryGetSpecialTokenId(string token, out int id)
    {
        id = -1;
        return false;
    }

    string Decode(IReadOnlyList<int> tokenIds);
}
