using ControlPlane.Engine.Core.Output;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Simulation.Engine;

/// <summary>The simulated tokenizer's tokens are whole words: each decodes alone, so one stateless decoder serves every request.</summary>
internal sealed class SimulatedWordDecoder : ITokenTextDecoder
{
    public static SimulatedWordDecoder Instance { get; } = new();

    public string Add(int tokenId) => SimulatedTokenizer.Word(tokenId);
}
