namespace ControlPlane.Engine.Core.Output;

/// <summary>Turns a request's output tokens, one at a time, into the text each adds (empty while a character is incomplete).</summary>
public interface ITokenTextDecoder
{
    string Add(int tokenId);

    /// <summary>
    /// At the end of the output: the text still held back because it ends inside a character, with U+FFFD for the
    /// incomplete bytes (as decoding the whole output gives); empty when nothing is held.
    /// </summary>
    string Flush() => "";
}
