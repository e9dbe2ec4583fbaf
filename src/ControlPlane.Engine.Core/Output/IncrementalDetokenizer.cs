using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Core.Output;

/// <summary>
/// Turns a growing list of output tokens into text deltas. Decodes a short window so that a character split
/// over several tokens (byte-level BPE) is emitted only once complete.
/// </summary>
public sealed class IncrementalDetokenizer(ITokenizer tokenizer) : ITokenTextDecoder
{
    private readonly List<int> _ids = [];
    private int _prefixOffset;
    private int _readOffset;

    public string Add(int tokenId)
    {
        _ids.Add(tokenId);
        var prefix = tokenizer.Decode(_ids.GetRange(_prefixOffset, _readOffset - _prefixOffset));
        var full = tokenizer.Decode(_ids.GetRange(_prefixOffset, _ids.Count - _prefixOffset));
        if (full.Length <= prefix.Length || full.EndsWith('\uFFFD'))
            return "";
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        return full[prefix.Length..];
    }

    public string Flush()
    {
        if (_readOffset == _ids.Count)
            return "";
        var prefix = tokenizer.Decode(_ids.GetRange(_prefixOffset, _readOffset - _prefixOffset));
        var full = tokenizer.Decode(_ids.GetRange(_prefixOffset, _ids.Count - _prefixOffset));
        _prefixOffset = _readOffset = _ids.Count;
        return full.Length > prefix.Length ? full[prefix.Length..] : "";
    }
}
