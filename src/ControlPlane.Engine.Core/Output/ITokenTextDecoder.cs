namespace ControlPlane.Engine.Core.Output;

/// <summary>Turns a request's output tokens, one at a time, into the text each adds (empty while a character is incomplete).</summary>
public interface ITokenTextDecoder
{
    string Add(int tokenId);
}
